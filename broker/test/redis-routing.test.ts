/**
 * Routing across the mesh with real processes only: three broker bins on one private store, a
 * standalone redis-server and a 3-master Redis Cluster in turn (`STORES`). A client on broker A
 * submits tasks and requests; agents on B and C answer; A delivers each result and response exactly
 * once. Publishers on A and B broadcast to subscribers on A, B and C; each gets every message once,
 * in order per publisher.
 * `AGENTWIRE_MESH_TASKS=10000` runs the full count of tasks, requests and messages per
 * publisher (default 2,000 to keep the suite quick).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload, type FrameOf } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, STORES, type MeshStore, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";
import type { RemoteOutcome } from "../src/backend.js";
import { encodeOutcome } from "../src/redis/envelope.js";

const TASKS = Number(process.env.AGENTWIRE_MESH_TASKS ?? 2_000);
const WINDOW = 500; // below the session's max_in_flight (1,024)


describe.each(STORES)("redis mesh routing ($name)", (storeFactory) => {
  let store: MeshStore;
  let a: RunningBroker;
  let b: RunningBroker;
  let c: RunningBroker;
  const run = randomBytes(3).toString("hex");
  const [idA, idB, idC] = [`a-${run}`, `b-${run}`, `c-${run}`];
  const capability = `work-${run}`;

  beforeAll(async () => {
    store = await storeFactory.start();
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", id]);
    [a, b, c] = await Promise.all([mesh(idA), mesh(idB), mesh(idC)]);
  });

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop(), c?.stop()]);
    await store?.stop();
  });

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
        for (let i = client.pending.length - 1; i >= 0; i--) {
          const f = client.pending[i]!;
          if (f.type === "accepted") accepted.set(f.task_id, Number(f.ref!.slice(1)));
          else if (f.type === "result") results.set(f.task_id, [...(results.get(f.task_id) ?? []), f]);
          else continue;
          client.pending.splice(i, 1);
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
      expect(client.pending.filter((f) => f.type === "error")).toEqual([]);
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

  it(`${TASKS} requests from A by capability and ${TASKS} by agent id, answered on B and C; every response delivered once`, async () => {
    const cap = `ask-${run}`;
    const seen = new Map<string, number>(); // request (caller's id, carried in the payload) → forwards received
    const responder = async (broker: RunningBroker, agentId: string): Promise<Peer> =>
      (await Peer.register(broker.url, { agent_id: agentId, capabilities: [{ name: cap }] })).answer((q, p) => {
        const { k } = decodePayload(q.payload) as { k: string };
        seen.set(k, (seen.get(k) ?? 0) + 1);
        p.send({ type: "response", id: q.id, ok: true, payload: encodePayload({ k, from: q.from, by: p.agentId }) });
      });
    const onB = await responder(b, `ask-b-${run}`);
    const onC = await responder(c, `ask-c-${run}`);
    const client = await Peer.register(a.url, {});
    try {
      await waitFor(async () => ((await agentsOn(a)).filter((x) => x.capabilities.some((k) => k.name === cap)).length === 2 ? true : undefined), 10_000, "both responders on A");
      // Caller ids: `c<n>` by capability, `i<n>` by agent id (B's responder for even n, C's for odd).
      const target = (n: number): string => (n % 2 === 0 ? onB.agentId : onC.agentId);
      const responses = new Map<string, FrameOf<"response">[]>();
      let count = 0;
      const take = (): void => {
        for (const r of client.takeAll("response")) {
          responses.set(r.id, [...(responses.get(r.id) ?? []), r]);
          count++;
        }
      };
      const half = WINDOW / 2; // two requests per n: open items stay below max_in_flight
      for (let start = 0; start < TASKS; start += half) {
        const end = Math.min(TASKS, start + half);
        for (let n = start; n < end; n++) {
          client.send({ type: "request", id: `c${n}`, capability: cap, payload: encodePayload({ k: `c${n}` }) });
          client.send({ type: "request", id: `i${n}`, to: target(n), payload: encodePayload({ k: `i${n}` }) });
        }
        await waitFor(() => (take(), count >= 2 * end ? true : undefined), 60_000, `responses up to ${end} (have ${count})`);
      }
      // Nothing more arrives: no second response, no second forward to a responder.
      await Promise.all([client.expectQuiet(), onB.expectQuiet(), onC.expectQuiet()]);
      take();
      expect(client.pending.filter((f) => f.type === "error")).toEqual([]);
      expect(responses.size).toBe(2 * TASKS);
      expect([...responses].filter(([, r]) => r.length !== 1).map(([id]) => id)).toEqual([]);
      const by = { [onB.agentId]: 0, [onC.agentId]: 0 };
      const wrong: unknown[] = [];
      for (const [id, [r]] of responses) {
        const body = r!.ok === false ? undefined : (decodePayload(r!.payload!) as { k: string; from: string; by: string });
        const n = Number(id.slice(1));
        const okTarget = id.startsWith("c") ? body?.by === onB.agentId || body?.by === onC.agentId : body?.by === target(n);
        if (body?.k !== id || body.from !== client.agentId || !okTarget) wrong.push({ id, ok: r!.ok, error: r!.error, body });
        else if (id.startsWith("c")) by[body.by]!++;
      }
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(seen.size).toBe(2 * TASKS);
      expect([...seen].filter(([, n]) => n !== 1).slice(0, 3)).toEqual([]);
      // By capability, both brokers' responders answered some.
      expect(by[onB.agentId]).toBeGreaterThan(0);
      expect(by[onC.agentId]).toBeGreaterThan(0);
    } finally {
      await Promise.allSettled([client.close(), onB.close(), onC.close()]);
    }
  }, 180_000);

  it(`broadcast: ${TASKS} messages each from publishers on A and B reach every subscriber on A, B and C once, in order`, async () => {
    const topic = `news.${run}.all`;
    // Per broker: one session subscribed to the topic, one to two patterns that both match it
    // (TOPIC-8: still one message per publish).
    const subscribers: { name: string; peer: Peer }[] = [];
    for (const [name, broker] of [["a", a], ["b", b], ["c", c]] as const) {
      const exact = await Peer.register(broker.url, {});
      exact.send({ type: "subscribe", topic, ref: "s" });
      await exact.next("ack", (f) => f.ref === "s");
      const patterns = await Peer.register(broker.url, {});
      patterns.send({ type: "subscribe", topic: `news.${run}.*`, ref: "s1" });
      patterns.send({ type: "subscribe", topic: `news.${run}.>`, ref: "s2" });
      await patterns.next("ack", (f) => f.ref === "s1");
      await patterns.next("ack", (f) => f.ref === "s2");
      subscribers.push({ name: `${name}-exact`, peer: exact }, { name: `${name}-patterns`, peer: patterns });
    }
    // Every subscribe is acked before the first publish, and each broker already listens on the
    // mesh's publish channel: no publish below can overtake a subscription.
    const pubA = await Peer.register(a.url, {});
    const pubB = await Peer.register(b.url, {});
    const publishers = [pubA, pubB];
    const got = new Map<Peer, Map<string, number[]>>(subscribers.map((s) => [s.peer, new Map(publishers.map((p) => [p.agentId, []]))]));
    const odd: unknown[] = [];
    let total = 0;
    const take = (): void => {
      for (const { peer } of subscribers) {
        const byPublisher = got.get(peer)!;
        for (const m of peer.takeAll("message")) {
          const { seq } = decodePayload(m.payload) as { seq: number };
          const list = byPublisher.get(m.from);
          if (list === undefined || m.topic !== topic || m.correlation_id !== undefined) odd.push({ from: m.from, topic: m.topic, seq });
          else list.push(seq);
          total++;
        }
      }
    };
    try {
      for (let start = 0; start < TASKS; start += WINDOW) {
        const end = Math.min(TASKS, start + WINDOW);
        for (const p of publishers) {
          for (let n = start; n < end; n++) p.send({ type: "publish", topic, payload: encodePayload({ seq: n }), ...(n === end - 1 ? { ref: `w${end}` } : {}) });
        }
        // TOPIC-9: acked once delivered to the publisher's own broker's subscribers.
        await Promise.all(publishers.map((p) => p.next("ack", (f) => f.ref === `w${end}`, 30_000)));
        const want = subscribers.length * publishers.length * end;
        await waitFor(() => (take(), total >= want ? true : undefined), 60_000, `${want} messages over all subscribers (have ${total})`);
      }
      await Promise.all([...subscribers.map((s) => s.peer.expectQuiet()), ...publishers.map((p) => p.expectQuiet())]);
      take();
      expect(odd.slice(0, 3)).toEqual([]);
      const expected = Array.from({ length: TASKS }, (_, n) => n);
      const bad: string[] = [];
      for (const { name, peer } of subscribers) {
        for (const [from, seqs] of got.get(peer)!) {
          // Exactly once and in publish order (TOPIC-11): the received sequence is 0..N-1 itself.
          if (seqs.length !== TASKS || seqs.some((s, i) => s !== expected[i])) bad.push(`${name} from ${from}: ${seqs.length} messages, first out of place at ${seqs.findIndex((s, i) => s !== i)}`);
        }
      }
      expect(bad).toEqual([]);
      expect(total).toBe(subscribers.length * publishers.length * TASKS);
    } finally {
      await Promise.allSettled([...subscribers.map((s) => s.peer.close()), ...publishers.map((p) => p.close())]);
    }
  }, 180_000);

  it("least_loaded sends a task to the broker whose agent has the most room, as A last heard it", async () => {
    const cap = `ll-${run}`;
    const busy = await Peer.register(b.url, { capabilities: [{ name: cap }], capacity: 4 }); // holds what it gets
    const idle = await Peer.register(c.url, { capabilities: [{ name: cap }], capacity: 4 });
    const client = await Peer.register(a.url, {});
    try {
      // Fill B's agent to 3 of 4 by agent-local submits on B, then wait until A's view shows it.
      const local = await Peer.register(b.url, {});
      for (let i = 0; i < 3; i++) await local.submit(cap, { i });
      for (let i = 0; i < 3; i++) await busy.next("task");
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === busy.agentId && x.in_flight === 3) ? true : undefined), 10_000, "B's agent at 3 of 4 seen on A");
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === idle.agentId && x.in_flight === 0) ? true : undefined), 10_000, "C's agent idle seen on A");
      // Every least_loaded submit on A goes to C's agent (round-robin would send about half to B).
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await client.submit(cap, { i }, { strategy: "least_loaded" }));
      for (const id of ids) Peer.echo(await idle.next("task", (f) => f.task_id === id), idle); // answered: C's agent has room again
      await busy.expectQuiet(500);
      await local.close();
    } finally {
      await Promise.allSettled([client.close(), busy.close(), idle.close()]);
    }
  });

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
    const admin = store.admin();
    const ready = `aw:{b:${idA}}:ready`;
    const inject = async (taskId: string, outcome: RemoteOutcome): Promise<void> => {
      await admin.lpush(`aw:{b:${idA}}:response:${taskId}`, encodeOutcome(outcome));
      await admin.lpush(ready, taskId);
    };
    try {
      await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === holder.agentId) ? true : undefined), 10_000, "agent on A");
      const id = await client.submit(cap, { k: 1 });
      const task = await holder.next("task"); // B's own task id for the handed-over task
      // An outcome of attempt 0 (older than the handoff's attempt 1) is not the current attempt.
      await inject(id, { ok: true, output: encodePayload("stale"), attempt: 0 });
      await waitFor(async () => ((await admin.llen(ready)) === 0 ? true : undefined), 5_000, "stale entry read");
      await client.expectQuiet(2_000);
      Peer.echo(task, holder);
      const r = await client.next("result", (f) => f.task_id === id);
      expect(decodePayload(r.output!)).toEqual({ k: 1 });
      // A rerun's result (e.g. after a reclaim) and a redelivered ready entry end nothing twice.
      await inject(id, { ok: true, output: encodePayload("again"), attempt: 2 });
      await admin.lpush(ready, id);
      await waitFor(async () => ((await admin.llen(ready)) === 0 ? true : undefined), 5_000, "duplicates read");
      await client.expectQuiet(2_000);
    } finally {
      admin.disconnect();
      await Promise.allSettled([client.close(), holder.close()]);
    }
  });
});
