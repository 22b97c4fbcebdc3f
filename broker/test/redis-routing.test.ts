/**
 * Routing across the mesh with real processes only: one private redis-server and three broker bins.
 * A client on broker A submits; agents on B and C run the tasks; A delivers each result exactly once.
 * `AGENTWIRE_MESH_TASKS=10000` runs the full count (default 2,000 to keep the suite quick).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload, type AgentInfo, type FrameOf } from "@agentwire/wire";
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import { startBrokerProcess, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "./helpers/peer.js";

const TASKS = Number(process.env.AGENTWIRE_MESH_TASKS ?? 2_000);
const WINDOW = 500; // below the session's max_in_flight (1,024)

let redis: RedisInstance;
let a: RunningBroker;
let b: RunningBroker;
let c: RunningBroker;
const run = randomBytes(3).toString("hex");
const [idA, idB, idC] = [`a-${run}`, `b-${run}`, `c-${run}`];
const capability = `work-${run}`;

const agentsOn = async (broker: RunningBroker): Promise<AgentInfo[]> =>
  ((await (await fetch(`${broker.http}/v1/agents`)).json()) as { agents: AgentInfo[] }).agents;

beforeAll(async () => {
  redis = await startRedis();
  const mesh = (id: string): Promise<RunningBroker> => startBrokerProcess(["--redis", redis.url, "--broker-id", id]);
  [a, b, c] = await Promise.all([mesh(idA), mesh(idB), mesh(idC)]);
});

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop(), c?.stop()]);
  await redis?.[Symbol.asyncDispose]();
});

describe("redis mesh routing", () => {
  it(`${TASKS} tasks submitted on A run on agents on B and C; every result is delivered once`, async () => {
    const served = { b: 0, c: 0 };
    const worker = (key: "b" | "c") => (task: FrameOf<"task">, peer: Peer) => {
      served[key]++;
      Peer.echo(task, peer);
    };
    const onB = (await Peer.register(b.url, { capabilities: [{ name: capability, version: "1.2.0" }], capacity: 64 })).serve(worker("b"));
    const onC = (await Peer.register(c.url, { capabilities: [{ name: capability, version: "1.2.0" }], capacity: 64 })).serve(worker("c"));
    const client = await Peer.register(a.url, {});
    try {
      await waitFor(async () => ((await agentsOn(a)).filter((x) => x.capabilities.some((k) => k.name === capability)).length === 2 ? true : undefined), 10_000, "both agents on A");

      const accepted = new Map<string, number>(); // task id → n
      const results = new Map<string, FrameOf<"result">[]>();
      const take = (): void => {
        for (let i = client.frames.length - 1; i >= 0; i--) {
          const f = client.frames[i]!;
          if (f.type === "accepted") accepted.set(f.task_id, Number(f.ref!.slice(1)));
          else if (f.type === "result") results.set(f.task_id, [...(results.get(f.task_id) ?? []), f]);
          else continue;
          client.frames.splice(i, 1);
        }
      };
      const count = (): number => [...results.values()].reduce((n, r) => n + r.length, 0);
      for (let start = 0; start < TASKS; start += WINDOW) {
        const end = Math.min(TASKS, start + WINDOW);
        for (let n = start; n < end; n++) client.send({ type: "submit", ref: `n${n}`, capability, input: encodePayload({ n }), version: "^1" });
        await waitFor(() => (take(), count() >= end ? true : undefined), 60_000, `results up to ${end}`);
      }
      // Nothing more arrives: no second result for any task.
      await client.expectQuiet(2_000);
      take();
      expect(client.frames.filter((f) => f.type === "error")).toEqual([]);
      expect(accepted.size).toBe(TASKS);
      expect(results.size).toBe(TASKS);
      const twice = [...results].filter(([, r]) => r.length !== 1).map(([id]) => id);
      expect(twice).toEqual([]);
      const wrong = [...results].filter(([id, [r]]) => !r!.ok || (decodePayload(r!.output!) as { n: number }).n !== accepted.get(id));
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(served.b + served.c).toBe(TASKS);
      expect(served.b).toBeGreaterThan(0);
      expect(served.c).toBeGreaterThan(0);
    } finally {
      await Promise.allSettled([client.close(), onB.close(), onC.close()]);
    }
  }, 180_000);

  it("no_agents only when no broker of the mesh offers the capability in that version", async () => {
    const agent = (await Peer.register(b.url, { capabilities: [{ name: `only-${run}`, version: "1.0.0" }] })).serve(Peer.echo);
    const client = await Peer.register(a.url, {});
    try {
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === agent.agentId) ? true : undefined), 10_000, "agent on A");
      client.send({ type: "submit", ref: "none", capability: `none-${run}`, input: encodePayload(null) });
      expect(await client.next("error", (e) => e.ref === "none")).toMatchObject({ code: "no_agents" });
      client.send({ type: "submit", ref: "v2", capability: `only-${run}`, input: encodePayload(null), version: "^2" });
      expect(await client.next("error", (e) => e.ref === "v2")).toMatchObject({ code: "no_agents" });
      const id = await client.submit(`only-${run}`, { x: 1 }, { version: "^1" });
      const r = await client.next("result", (f) => f.task_id === id);
      expect(r.ok).toBe(true);
      expect(decodePayload(r.output!)).toEqual({ x: 1 });
      // The origin's record answers GET /v1/tasks/:id on A.
      const got = (await (await fetch(`${a.http}/v1/tasks/${id}`)).json()) as { state: string };
      expect(got.state).toBe("succeeded");
    } finally {
      await Promise.allSettled([client.close(), agent.close()]);
    }
  });

  it("A drops a result for an older attempt and any second result for an ended task", async () => {
    const cap = `hold-${run}`;
    const holder = await Peer.register(b.url, { capabilities: [{ name: cap }] });
    const client = await Peer.register(a.url, {});
    const admin = new Redis(redis.url);
    const ready = `aw:{b:${idA}}:ready`;
    const inject = async (taskId: string, outcome: object): Promise<void> => {
      await admin.lpush(`aw:{b:${idA}}:response:${taskId}`, JSON.stringify(outcome));
      await admin.lpush(ready, taskId);
    };
    try {
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === holder.agentId) ? true : undefined), 10_000, "agent on A");
      const id = await client.submit(cap, { k: 1 });
      const task = await holder.next("task"); // B's own task id for the handed-over task
      // An outcome of attempt 0 (older than the handoff's attempt 1) is not the current attempt.
      await inject(id, { ok: true, output: Buffer.from(encodePayload("stale")).toString("base64"), attempt: 0 });
      await waitFor(async () => ((await admin.llen(ready)) === 0 ? true : undefined), 5_000, "stale entry read");
      await client.expectQuiet(2_000);
      Peer.echo(task, holder);
      const r = await client.next("result", (f) => f.task_id === id);
      expect(decodePayload(r.output!)).toEqual({ k: 1 });
      // A rerun's result (e.g. after a reclaim) and a redelivered ready entry end nothing twice.
      await inject(id, { ok: true, output: Buffer.from(encodePayload("again")).toString("base64"), attempt: 2 });
      await admin.lpush(ready, id);
      await waitFor(async () => ((await admin.llen(ready)) === 0 ? true : undefined), 5_000, "duplicates read");
      await client.expectQuiet(2_000);
    } finally {
      admin.disconnect();
      await Promise.allSettled([client.close(), holder.close()]);
    }
  });
});
