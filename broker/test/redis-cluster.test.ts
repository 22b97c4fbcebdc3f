/**
 * The mesh on a real 3-master Redis Cluster: three redis-server processes with --cluster-enabled,
 * joined by `redis-cli --cluster create`, and two broker bins with `--redis-cluster`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import { startBrokerProcess } from "./helpers/backends.js";
import { Peer } from "./helpers/peer.js";

const exec = promisify(execFile);

async function startCluster(): Promise<RedisInstance[]> {
  const nodes: RedisInstance[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const dir = `nodes-${randomBytes(4).toString("hex")}.conf`; // relative to the server's own --dir
      nodes.push(await startRedis({ args: ["--cluster-enabled", "yes", "--cluster-config-file", dir, "--cluster-node-timeout", "5000"] }));
    }
    await exec("redis-cli", ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    for (const n of nodes) {
      const conn = new Redis(n.url);
      try {
        await waitFor(async () => ((await conn.cluster("INFO")) as string).includes("cluster_state:ok") || undefined, 20_000, `cluster_state:ok on ${n.port}`);
      } finally {
        conn.disconnect();
      }
    }
    return nodes;
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n[Symbol.asyncDispose]()));
    throw err;
  }
}

it("a task submitted on A runs on B's agent over Redis Cluster, one result; publish crosses brokers", async () => {
  const nodes = await startCluster();
  try {
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
    const run = randomBytes(3).toString("hex");
    const capability = `echo-${run}`;
    await using a = await startBrokerProcess(["--redis-cluster", seeds, "--broker-id", `a-${run}`, "--mesh-sweep-ms", "300"]);
    await using b = await startBrokerProcess(["--redis-cluster", seeds, "--broker-id", `b-${run}`, "--mesh-sweep-ms", "300"]);
    expect(((await (await fetch(`${a.http}/readyz`)).status))).toBe(200);
    const agent = (await Peer.register(b.url, { capabilities: [{ name: capability }] })).serve(Peer.echo);
    const client = await Peer.register(a.url);
    try {
      await waitFor(async () => {
        const agents = ((await (await fetch(`${a.http}/v1/agents`)).json()) as { agents: { agent_id: string }[] }).agents;
        return agents.some((x) => x.agent_id === agent.agentId) || undefined;
      }, 15_000, "B's agent visible on A");
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await client.submit(capability, { i }));
      for (const [i, id] of ids.entries()) {
        const r = await client.next("result", (f) => f.task_id === id, 15_000);
        expect(r.ok).toBe(true);
        expect(decodePayload(r.output!)).toEqual({ i });
      }
      // Nothing more: exactly one result each.
      await expect(client.next("result", () => true, 1_000)).rejects.toThrow();
      // The sweep's SCAN reaches every master: A counts the 20 response keys under its hash tag.
      await waitFor(async () => {
        const text = await (await fetch(`${a.http}/metrics`)).text();
        return /^agentwire_mesh_response_keys 20$/m.test(text) || undefined;
      }, 10_000, "20 response keys on A");

      // Cross-broker publish: a subscriber on B gets a publish from A once (sharded pub/sub).
      agent.send({ type: "subscribe", topic: `news.${run}`, ref: "s" });
      await agent.next("ack", (f) => f.ref === "s");
      await new Promise((r) => setTimeout(r, 300));
      client.send({ type: "publish", topic: `news.${run}`, payload: encodePayload("hello"), ref: "p" });
      const m = await agent.next("message", () => true, 10_000);
      expect(decodePayload(m.payload)).toBe("hello");
      await expect(agent.next("message", () => true, 1_000)).rejects.toThrow();
    } finally {
      await client.close().catch(() => undefined);
      await agent.close().catch(() => undefined);
    }
  } finally {
    await Promise.allSettled(nodes.map((n) => n[Symbol.asyncDispose]()));
  }
});
