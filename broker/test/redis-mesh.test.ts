/**
 * The Redis mesh with real processes: one private redis-server, two broker bins joined with
 * `--redis`, and an in-process RedisBackend standing in for an origin broker, to look at the stream,
 * ready list and response keys directly. Routing from a real origin broker: redis-routing.test.ts.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import type { RemoteOutcome, RemoteTask } from "../src/backend.js";
import { originHost } from "./helpers/origin-host.js";
import { RedisBackend } from "../src/redis/redis-backend.js";
import { agentsOn, startBroker, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

let redis: RedisInstance;
let a: RunningBroker;
let b: RunningBroker;
let admin: Redis;
const run = randomBytes(3).toString("hex");
const idA = `a-${run}`;
const idB = `b-${run}`;

const readyz = async (broker: RunningBroker): Promise<number> => (await fetch(`${broker.http}/readyz`)).status;

/** Connections per broker id, from CLIENT LIST names `aw:<broker>:<role>`. */
async function connectionsOf(id: string): Promise<string[]> {
  const list = (await admin.client("LIST")) as string;
  return [...list.matchAll(/ name=aw:([^:\s]+):(\S+)/g)].filter((m) => m[1] === id).map((m) => m[2]!).sort();
}

/** An origin broker reduced to its backend: records the outcomes of tasks it handed over. */
function originBackend(id: string): { backend: RedisBackend; results: Map<string, RemoteOutcome[]>; messages: string[] } {
  const messages: string[] = [];
  const host = originHost(id, { publishLocal: (topic) => (messages.push(topic), 1) });
  const results = host.results;
  const backend = new RedisBackend({ target: { url: redis.url, cluster: "" }, brokerId: id, log: pino({ level: "silent" }), livenessMs: 200 });
  backend.attach(host);
  return { backend, results, messages };
}

const task = (origin: string, n: number, capability = `echo-${run}`): RemoteTask => ({
  task_id: `${origin}.t${n}`,
  capability,
  input: encodePayload({ n }),
  origin_broker: origin,
  target_broker: idB,
  timeout_ms: 10_000,
  attempt: 1,
});

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  [a, b] = await Promise.all([
    startBroker(["--redis", redis.url, "--broker-id", idA]),
    startBroker(["--redis", redis.url, "--broker-id", idB]),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  admin?.disconnect();
  await redis?.[Symbol.asyncDispose]();
});

describe("redis mesh", () => {
  it("each broker is ready and holds exactly its four named connections", async () => {
    expect(await readyz(a)).toBe(200);
    expect(await readyz(b)).toBe(200);
    expect(await connectionsOf(idA)).toEqual(["cmd", "ready", "sub", "tasks"]);
    expect(await connectionsOf(idB)).toEqual(["cmd", "ready", "sub", "tasks"]);
  });

  it("an agent on broker B is listed by broker A, and forgotten when it leaves", async () => {
    const capability = `reg-${run}`;
    const agent = await Peer.register(b.url, { capabilities: [{ name: capability }] });
    const seen = await waitFor(async () => (await agentsOn(a)).find((x) => x.agent_id === agent.agentId), 10_000, "agent on A");
    expect(seen).toMatchObject({ broker_id: idB, capabilities: [{ name: capability }] });
    await agent.close();
    await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === agent.agentId) ? undefined : true), 10_000, "agent gone on A");
  });

  it("a task handed to broker B's stream runs on B's agent; the result comes back once via the ready list", async () => {
    const agent = (await Peer.register(b.url, { capabilities: [{ name: `echo-${run}` }] })).serve(Peer.echo);
    const { backend, results } = originBackend(`o1-${run}`);
    await backend.start();
    try {
      for (let n = 0; n < 50; n++) await backend.enqueueRemote(task(`o1-${run}`, n));
      await waitFor(() => (results.size === 50 ? true : undefined), 10_000, "50 results");
      for (const [id, outs] of results) {
        expect(outs).toHaveLength(1);
        expect(outs[0]!.ok).toBe(true);
        expect(decodePayload(outs[0]!.output!)).toEqual({ n: Number(id.slice(id.lastIndexOf(".t") + 2)) });
      }
      // The response stays readable (GET /v1/tasks/:id on any broker, later) until its TTL.
      expect((await backend.response(`o1-${run}`, `o1-${run}.t7`))?.ok).toBe(true);
      // Acknowledged after storing: B's processing list and stream are empty.
      const pending = (await admin.xpending(`aw:{b:${idB}}:tasks`, "brokers")) as [number, ...unknown[]];
      expect(pending[0]).toBe(0);
      expect(await admin.xlen(`aw:{b:${idB}}:tasks`)).toBe(0);
    } finally {
      await backend.close();
      await agent.close();
    }
  });

  it("a result whose origin broker is gone stays readable through GET /v1/tasks/:id on any broker", async () => {
    const agent = (await Peer.register(b.url, { capabilities: [{ name: `echo-${run}` }] })).serve(Peer.echo);
    const origin = `o5-${run}`;
    const { backend, results } = originBackend(origin);
    await backend.start();
    try {
      await backend.enqueueRemote(task(origin, 3));
      await waitFor(() => (results.size === 1 ? true : undefined), 10_000, "the result at the origin");
    } finally {
      await backend.close(); // the origin leaves; A never knew the task
      await agent.close();
    }
    const got = await fetch(`${a.http}/v1/tasks/${origin}.t3`);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ task_id: `${origin}.t3`, state: "succeeded", ok: true, attempt: 1, output: { n: 3 } });
    const unknown = await fetch(`${a.http}/v1/tasks/${origin}.t99`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "unknown_task" } });
  });

  it("connections per broker stay the same with 1 and with 1000 tasks in flight", async () => {
    const capability = `hold-${run}`;
    const agent = await Peer.register(b.url, { capabilities: [{ name: capability }] });
    const origin = `o2-${run}`;
    const { backend, results } = originBackend(origin);
    await backend.start();
    try {
      await backend.enqueueRemote(task(origin, 0, capability));
      const first = await agent.next("task");
      const withOne = { a: await connectionsOf(idA), b: await connectionsOf(idB), origin: await connectionsOf(origin) };
      for (let n = 1; n < 1000; n++) await backend.enqueueRemote(task(origin, n, capability));
      // All 1000 have left the stream and are open on B (dispatched or queued there).
      await waitFor(async () => ((await admin.xpending(`aw:{b:${idB}}:tasks`, "brokers")) as [number])[0] === 1000 ? true : undefined, 10_000, "1000 pending");
      expect({ a: await connectionsOf(idA), b: await connectionsOf(idB), origin: await connectionsOf(origin) }).toEqual(withOne);
      expect(withOne.b).toHaveLength(4);
      agent.serve(Peer.echo);
      Peer.echo(first, agent);
      await waitFor(() => (results.size === 1000 ? true : undefined), 20_000, "1000 results");
      const bad = [...results.values()].filter((o) => o.length !== 1 || !o[0]!.ok);
      expect(bad.slice(0, 3)).toEqual([]);
    } finally {
      await backend.close();
      await agent.close();
    }
  });

  it("a publish on broker B reaches a subscriber on broker A", async () => {
    const sub = await Peer.register(a.url, {});
    sub.send({ type: "subscribe", topic: `news-${run}.*`, ref: "s1" });
    await sub.next("ack", (f) => f.ref === "s1");
    const res = await fetch(`${b.http}/v1/publish/news-${run}.x`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hi: 1 }) });
    expect(res.status).toBe(202);
    const m = await sub.next("message");
    expect(m).toMatchObject({ topic: `news-${run}.x` });
    expect(decodePayload(m.payload)).toEqual({ hi: 1 });
    await sub.expectQuiet(500);
    await sub.close();
  });

  // Last: it restarts Redis under everyone.
  it("/readyz reports not-ready while Redis is down, then the mesh works again", async () => {
    await redis.stop(true);
    await waitFor(async () => ((await readyz(a)) === 503 ? true : undefined), 10_000, "A not ready");
    await waitFor(async () => ((await readyz(b)) === 503 ? true : undefined), 10_000, "B not ready");
    await redis.restart();
    await waitFor(async () => ((await readyz(a)) === 200 ? true : undefined), 15_000, "A ready");
    await waitFor(async () => ((await readyz(b)) === 200 ? true : undefined), 15_000, "B ready");
    const agent = (await Peer.register(b.url, { capabilities: [{ name: `echo-${run}` }] })).serve(Peer.echo);
    const { backend, results } = originBackend(`o3-${run}`);
    await backend.start();
    try {
      await backend.enqueueRemote(task(`o3-${run}`, 1));
      await waitFor(() => (results.size === 1 ? true : undefined), 15_000, "result after restart");
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === agent.agentId) ? true : undefined), 10_000, "registry after restart");
    } finally {
      await backend.close();
      await agent.close();
    }
  });

  it("a result the agent sends while Redis is down reaches the origin once, after Redis is back", async () => {
    const capability = `outage-${run}`;
    const agent = await Peer.register(b.url, { capabilities: [{ name: capability }] });
    const origin = `o4-${run}`;
    const { backend, results } = originBackend(origin);
    await backend.start();
    try {
      await backend.enqueueRemote(task(origin, 1, capability));
      const held = await agent.next("task");
      await redis.stop(true);
      await waitFor(async () => ((await readyz(b)) === 503 ? true : undefined), 10_000, "B not ready");
      agent.send({ type: "result", task_id: held.task_id, attempt: held.attempt, ok: true, output: encodePayload({ late: 1 }) });
      await redis.restart();
      await waitFor(() => (results.size === 1 ? true : undefined), 20_000, "the result stored after the outage");
      const outs = results.get(held.task_id)!;
      expect(outs).toHaveLength(1);
      expect(decodePayload(outs[0]!.output!)).toEqual({ late: 1 });
      // Nothing more for it: a later task's result arrives and the first still has exactly one.
      agent.serve(Peer.echo);
      await backend.enqueueRemote(task(origin, 2, capability));
      await waitFor(() => (results.size === 2 ? true : undefined), 15_000, "a later result");
      expect(results.get(held.task_id)).toHaveLength(1);
    } finally {
      await backend.close();
      await agent.close();
    }
  });
});
