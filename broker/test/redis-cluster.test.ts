/**
 * The mesh on a real 3-master Redis Cluster (testkit's `startRedisCluster`: three redis-server
 * processes with --cluster-enabled, slots assigned and joined) and two broker bins with
 * `--redis-cluster`. The mesh suites (redis-routing, redis-control, redis-reclaim) and the shared
 * suites' `mesh-cluster` entry run on Cluster too; this file keeps what only Cluster has: readiness on
 * Cluster connections and the sweep's SCAN over every master.
 */
import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { decodePayload, encodePayload, type FrameOf } from "@agentwire/wire";
import { redisCli, startRedisCluster, waitFor, type RedisCluster } from "@agentwire/testkit";
import { startBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});

it("a task submitted on A runs on B's agent over Redis Cluster, one result; publish crosses brokers", async () => {
  const run = randomBytes(3).toString("hex");
  const capability = `echo-${run}`;
  await using a = await startBroker(["--redis-cluster", cluster.seeds, "--broker-id", `a-${run}`, "--mesh-sweep-ms", "300"]);
  await using b = await startBroker(["--redis-cluster", cluster.seeds, "--broker-id", `b-${run}`, "--mesh-sweep-ms", "300"]);
  expect((await fetch(`${a.http}/readyz`)).status).toBe(200);
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
    await client.expectQuiet();
    // The sweep's SCAN reaches every master: A counts the 20 response keys under its hash tag.
    await waitFor(async () => {
      const text = await (await fetch(`${a.http}/metrics`)).text();
      return /^agentwire_mesh_response_keys 20$/m.test(text) || undefined;
    }, 10_000, "20 response keys on A");

    // Cross-broker publish: a subscriber on B gets a publish from A once (sharded pub/sub). B listens
    // on the mesh's publish channel from its start, so an acked subscribe is enough.
    agent.send({ type: "subscribe", topic: `news.${run}`, ref: "s" });
    await agent.next("ack", (f) => f.ref === "s");
    client.send({ type: "publish", topic: `news.${run}`, payload: encodePayload("hello"), ref: "p" });
    client.send({ type: "publish", topic: `news.${run}`, payload: encodePayload("marker") });
    await client.next("ack", (f) => f.ref === "p");
    // In publish order (TOPIC-11): "hello" once, then the marker, then nothing.
    for (const want of ["hello", "marker"]) {
      const m = await agent.nextAny();
      expect(m).toMatchObject({ type: "message", topic: `news.${run}`, from: client.agentId });
      expect(decodePayload((m as FrameOf<"message">).payload)).toBe(want);
    }
    await agent.expectQuiet();
  } finally {
    await client.close().catch(() => undefined);
    await agent.close().catch(() => undefined);
  }
});

it("testkit's cluster: three masters with a third of the slots each; flush empties every master and keeps it ok", async () => {
  expect(cluster.seeds).toBe(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(","));
  // CLUSTER NODES: one line per node, "<id> <ip>:<port>@<bus> <flags> ... <slot ranges>".
  const owned = new Map<number, number>();
  for (const line of (await redisCli(cluster.nodes[1]!.port, "CLUSTER", "NODES")).trim().split("\n")) {
    const f = line.trim().split(" ");
    const port = Number(/:(\d+)@/.exec(f[1]!)?.[1]);
    expect(f[2]).toMatch(/master/);
    const ranges = f.slice(8).map((r) => r.split("-").map(Number) as [number, number]);
    owned.set(port, ranges.reduce((n, [lo, hi]) => n + (hi ?? lo) - lo + 1, 0));
  }
  expect([...owned.keys()].sort()).toEqual(cluster.nodes.map((n) => n.port).sort());
  expect([...owned.values()].reduce((x, y) => x + y, 0)).toBe(16_384);
  for (const n of owned.values()) expect(Math.abs(n - 16_384 / 3)).toBeLessThan(2);
  const sizes = async (): Promise<number[]> => Promise.all(cluster.nodes.map(async (n) => Number((await redisCli(n.port, "DBSIZE")).trim())));
  const client = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
  try {
    for (let i = 0; i < 30; i++) await client.set(`k${i}`, "v");
  } finally {
    client.disconnect();
  }
  expect((await sizes()).every((n) => n > 0)).toBe(true); // 30 keys land on every master
  await cluster.flush();
  expect(await sizes()).toEqual([0, 0, 0]);
  for (const n of cluster.nodes) expect(await redisCli(n.port, "CLUSTER", "INFO")).toMatch(/^cluster_state:ok/m);
});
