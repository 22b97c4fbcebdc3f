/**
 * Cross-broker control over the mesh, real processes only (brokers A, B, C on one private store: a
 * redis-server, then a 3-master Redis Cluster): cancel and progress of handed-over tasks, direct
 * `send` and `request` to agents on other brokers. All of it travels as control entries on the
 * receiving broker's ready list (no new connections).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, STORES, type MeshStore, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const seenOn = (broker: RunningBroker, agentId: string): Promise<true> =>
  waitFor(async () => ((await agentsOn(broker)).some((x) => x.agent_id === agentId) ? true : undefined), 10_000, `${agentId} seen`);

describe.each(STORES)("redis mesh control ($name)", (storeFactory) => {
  let store: MeshStore;
  let a: RunningBroker;
  let b: RunningBroker;
  let c: RunningBroker;
  const run = randomBytes(3).toString("hex");

  beforeAll(async () => {
    store = await storeFactory.start();
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", `${id}-${run}`]);
    [a, b, c] = await Promise.all([mesh("a"), mesh("b"), mesh("c")]);
  });

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop(), c?.stop()]);
    await store?.stop();
  });

  it("a cancel on A reaches the agent on B as a cancel frame; its late result is dropped", async () => {
    const cap = `cancel-${run}`;
    const holder = await Peer.register(b.url, { capabilities: [{ name: cap }] });
    const client = await Peer.register(a.url, {});
    try {
      await seenOn(a, holder.agentId);
      const id = await client.submit(cap, { k: 1 });
      const task = await holder.next("task");
      client.send({ type: "cancel", task_id: id, reason: "changed my mind", ref: "c1" });
      await client.next("ack", (f) => f.ref === "c1");
      const r = await client.next("result", (f) => f.task_id === id);
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe("cancelled");
      const cancel = await holder.next("cancel", (f) => f.task_id === task.task_id);
      expect(cancel.reason).toBe("changed my mind");
      // The agent finishes anyway: B drops it silently, A sends the client nothing more.
      Peer.echo(task, holder);
      await holder.expectQuiet(2_000);
      await client.expectQuiet(1_000);
      const got = (await (await fetch(`${a.http}/v1/tasks/${id}`)).json()) as { state: string };
      expect(got.state).toBe("cancelled");
    } finally {
      await Promise.allSettled([client.close(), holder.close()]);
    }
  });

  it("progress from the agent on B reaches the client on A in order, before the result", async () => {
    const cap = `progress-${run}`;
    const agent = (await Peer.register(b.url, { capabilities: [{ name: cap }] })).serve((task, peer) => {
      for (let i = 0; i < 20; i++) peer.send({ type: "progress", task_id: task.task_id, data: encodePayload({ i }) });
      Peer.echo(task, peer);
    });
    const client = await Peer.register(a.url, {});
    try {
      await seenOn(a, agent.agentId);
      for (let round = 0; round < 3; round++) {
        const id = await client.submit(cap, { round });
        const seen: unknown[] = [];
        for (;;) {
          const f = await client.nextAny();
          if (f.type === "progress") {
            expect(f.task_id).toBe(id);
            seen.push(decodePayload(f.data));
          } else {
            expect(f).toMatchObject({ type: "result", task_id: id, ok: true });
            break;
          }
        }
        expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
      }
      await client.expectQuiet(1_000);
    } finally {
      await Promise.allSettled([client.close(), agent.close()]);
    }
  });

  it("send reaches an agent on another broker; no_responders only when no broker has it", async () => {
    const target = await Peer.register(b.url, { agent_id: `target-${run}`, capabilities: [{ name: `inbox-${run}` }] });
    const client = await Peer.register(a.url, {});
    try {
      await seenOn(a, target.agentId);
      client.send({ type: "send", to: target.agentId, payload: encodePayload({ hello: 1 }), correlation_id: "k1", ref: "m1" });
      await client.next("ack", (f) => f.ref === "m1");
      const m = await target.next("message");
      expect(m.from).toBe(client.agentId);
      expect(m.correlation_id).toBe("k1");
      expect(decodePayload(m.payload)).toEqual({ hello: 1 });
      client.send({ type: "send", to: `nobody-${run}`, payload: encodePayload(null), ref: "m2" });
      expect(await client.next("error", (f) => f.ref === "m2")).toMatchObject({ code: "no_responders" });
    } finally {
      await Promise.allSettled([client.close(), target.close()]);
    }
  });

  it("request by agent id and by capability to agents on other brokers, with timeout and no_responders", async () => {
    const cap = `ask-${run}`;
    let lateSent!: () => void;
    const late = new Promise<void>((resolve) => (lateSent = resolve));
    const answer = (peer: Peer): void => {
      void (async () => {
        for (;;) {
          const q = await peer.next("request", () => true, 60_000).catch(() => undefined);
          if (q === undefined) return;
          const body = decodePayload(q.payload) as { slow?: boolean; gone?: boolean };
          if (body.gone) {
            await peer.close();
            return;
          }
          const reply = (): void => peer.send({ type: "response", id: q.id, ok: true, payload: encodePayload({ from: q.from, body }) });
          if (body.slow) {
            // Answers after the caller's deadline (300 ms), as a slow agent would.
            setTimeout(() => {
              reply();
              lateSent();
            }, 800);
          } else reply();
        }
      })();
    };
    const onB = await Peer.register(b.url, { agent_id: `asked-b-${run}`, capabilities: [{ name: cap }] });
    const onC = await Peer.register(c.url, { agent_id: `asked-c-${run}`, capabilities: [{ name: cap }] });
    answer(onB);
    answer(onC);
    const client = await Peer.register(a.url, {});
    try {
      await seenOn(a, onB.agentId);
      await seenOn(a, onC.agentId);
      client.send({ type: "request", id: "q1", to: onB.agentId, payload: encodePayload({ n: 1 }) });
      const r1 = await client.next("response", (f) => f.id === "q1");
      expect(r1.ok).toBe(true);
      expect(decodePayload(r1.payload!)).toEqual({ from: client.agentId, body: { n: 1 } });

      for (let i = 0; i < 4; i++) client.send({ type: "request", id: `cap${i}`, capability: cap, payload: encodePayload({ i }) });
      for (let i = 0; i < 4; i++) {
        const r = await client.next("response", (f) => f.id === `cap${i}`);
        expect(r.ok).toBe(true);
        expect(decodePayload(r.payload!)).toEqual({ from: client.agentId, body: { i } });
      }

      client.send({ type: "request", id: "q404", to: `nobody-${run}`, payload: encodePayload(null) });
      expect(await client.next("response", (f) => f.id === "q404")).toMatchObject({ ok: false, error: { code: "no_responders" } });

      // Too slow: the caller gets timeout at its deadline and nothing when the late answer comes.
      client.send({ type: "request", id: "slow", to: onC.agentId, payload: encodePayload({ slow: true }), timeout_ms: 300 });
      expect(await client.next("response", (f) => f.id === "slow")).toMatchObject({ ok: false, error: { code: "timeout" } });
      // Marker round trip instead of a sleep: once the late answer is out, a request to the same
      // agent is answered after it on the same socket and relayed by C after it, so its response is
      // the next frame only if the late answer produced nothing.
      await late;
      client.send({ type: "request", id: "after-late", to: onC.agentId, payload: encodePayload({ n: 2 }) });
      expect(await client.nextAny()).toMatchObject({ type: "response", id: "after-late", ok: true });
      await client.expectQuiet(1_000);

      // The target goes away before answering: no_responders from its broker.
      client.send({ type: "request", id: "gone", to: onB.agentId, payload: encodePayload({ gone: true }), timeout_ms: 10_000 });
      expect(await client.next("response", (f) => f.id === "gone")).toMatchObject({ ok: false, error: { code: "no_responders" } });
    } finally {
      await Promise.allSettled([client.close(), onB.close(), onC.close()]);
    }
  });

  it("send and request reach a plain client (no capabilities) on another broker; its id is held mesh-wide", async () => {
    const plain = await Peer.register(b.url, { agent_id: `plain-${run}` });
    const client = await Peer.register(a.url, {});
    try {
      // Clients are never listed (QUERY-4), so wait for A to learn of it by sending until acked:
      // a send answered no_responders delivers nothing (MSG-3), so the target gets exactly one.
      let n = 0;
      await waitFor(async () => {
        const ref = `p${++n}`;
        client.send({ type: "send", to: plain.agentId, payload: encodePayload({ n }), ref });
        const f = await client.nextAny(); // ack, or error no_responders: nothing else comes to it
        expect(f).toMatchObject({ ref });
        return f.type === "ack" ? true : undefined;
      }, 10_000, "A to route to a client on B");
      const m = await plain.next("message");
      expect(m).toMatchObject({ from: client.agentId });
      expect(decodePayload(m.payload)).toEqual({ n });
      await plain.expectQuiet(500);

      client.send({ type: "request", id: "to-plain", to: plain.agentId, payload: encodePayload("ping") });
      const q = await plain.next("request");
      expect(q.from).toBe(client.agentId);
      plain.send({ type: "response", id: q.id, ok: true, payload: encodePayload("pong") });
      const r = await client.next("response", (f) => f.id === "to-plain");
      expect(decodePayload(r.payload!)).toBe("pong");

      // REG-5 across the mesh: the id is held on B, so registering it on C is refused.
      const twin = await Peer.connect(c.url);
      await waitFor(async () => {
        const probe = await Peer.connect(c.url);
        probe.send({ type: "register", agent_id: plain.agentId });
        const f = await probe.nextAny(); // registered, or the fatal duplicate_agent
        await probe.close();
        return f.type === "error" ? true : undefined;
      }, 10_000, "C to learn that B holds the id");
      twin.send({ type: "register", agent_id: plain.agentId });
      expect(await twin.next("error")).toMatchObject({ code: "duplicate_agent", fatal: true });
      expect((await twin.closed).code).toBe(1013);
    } finally {
      await Promise.allSettled([client.close(), plain.close()]);
    }
  });
});
