/** Direct messages, topics, request/response, query and drain: SPEC §9–12. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "./helpers/peer.js";

describe.each(BACKENDS)("messaging ($name)", (backend) => {
  let broker: RunningBroker;
  const peers: Peer[] = [];
  const reg = async (...args: Parameters<typeof Peer.register> extends [string, ...infer R] ? R : never) => {
    const p = await registerOn(broker, ...args);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    broker = await backend.start();
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
  });

  it("[MSG-2][MSG-4] send delivers a message with from and correlation_id, then ack", async () => {
    const a = await reg({ agent_id: "msg-a" });
    const b = await reg({ agent_id: "msg-b" });
    a.send({ type: "send", to: "msg-b", payload: encodePayload({ hi: 1 }), correlation_id: "c-1", ref: "s1" });
    expect(await a.next("ack")).toMatchObject({ ref: "s1" });
    const m = await b.next("message");
    expect(m).toMatchObject({ from: "msg-a", correlation_id: "c-1" });
    expect(m.topic).toBeUndefined();
    expect(decodePayload(m.payload)).toEqual({ hi: 1 });
  });

  it("[MSG-3] send to an absent agent → no_responders", async () => {
    const a = await reg();
    a.send({ type: "send", to: "nobody-here", payload: encodePayload(1), ref: "s2" });
    expect(await a.next("error")).toMatchObject({ code: "no_responders", ref: "s2" });
  });

  it("[TOPIC-8] publish reaches each matching subscriber exactly once, wildcards included", async () => {
    const s1 = await reg();
    const s2 = await reg();
    const s3 = await reg();
    const pub = await reg();
    for (const [p, pattern] of [
      [s1, "market.*"],
      [s1, "market.>"], // two matching patterns, still one message
      [s1, ">"],
      [s2, "market.sol"],
      [s3, "news.>"],
      [pub, "market.sol"],
    ] as const) {
      p.send({ type: "subscribe", topic: pattern, ref: `sub-${pattern}` });
      await p.next("ack", (a) => a.ref === `sub-${pattern}`);
    }
    pub.send({ type: "publish", topic: "market.sol", payload: encodePayload(142.5), ref: "p1" });
    expect(await pub.next("ack")).toMatchObject({ ref: "p1" });
    for (const p of [s1, s2, pub]) {
      const m = await p.next("message");
      expect(m).toMatchObject({ from: pub.agentId, topic: "market.sol" });
      expect(decodePayload(m.payload)).toBe(142.5);
      await p.expectQuiet();
    }
    await s3.expectQuiet();
    // unsubscribe stops delivery
    s2.send({ type: "unsubscribe", topic: "market.sol", ref: "u1" });
    await s2.next("ack");
    pub.send({ type: "publish", topic: "market.sol", payload: encodePayload(1) });
    await s1.next("message");
    await s2.expectQuiet();
  });

  it("[TOPIC-2] an invalid pattern → bad_frame", async () => {
    const p = await reg();
    p.send({ type: "subscribe", topic: "a.>.b", ref: "bad" });
    expect(await p.next("error")).toMatchObject({ code: "bad_frame", ref: "bad" });
    p.send({ type: "publish", topic: "a.*", payload: encodePayload(1), ref: "badpub" });
    expect(await p.next("error")).toMatchObject({ code: "bad_frame", ref: "badpub" });
  });

  it("[REQ-3][REQ-11] request by agent id and by capability: forwarded with the broker's id, answered with the caller's", async () => {
    const srv = await reg({ agent_id: "rq-srv", capabilities: [{ name: "rq.echo" }] });
    const caller = await reg();
    caller.send({ type: "request", id: "q1", to: "rq-srv", payload: encodePayload("ping"), timeout_ms: 5000 });
    const fwd = await srv.next("request");
    expect(fwd).toMatchObject({ to: "rq-srv", from: caller.agentId });
    expect(fwd.id).not.toBe("q1");
    expect(fwd.deadline).toBeGreaterThan(Date.now());
    srv.send({ type: "response", id: fwd.id, payload: encodePayload("pong") });
    const res = await caller.next("response");
    expect(res.id).toBe("q1");
    expect(decodePayload(res.payload!)).toBe("pong");

    caller.send({ type: "request", id: "q2", capability: "rq.echo", payload: encodePayload(1) });
    const fwd2 = await srv.next("request");
    srv.send({ type: "response", id: fwd2.id, ok: false, error: { code: "x-nope", message: "no" } });
    expect(await caller.next("response")).toMatchObject({ id: "q2", ok: false, error: { code: "x-nope" } });
  });

  it("[REQ-6] a request to an absent agent → no_responders at once, not after the timeout", async () => {
    const caller = await reg();
    const started = Date.now();
    caller.send({ type: "request", id: "nr", to: "absent-agent", payload: encodePayload(1), timeout_ms: 60_000 });
    expect(await caller.next("response", () => true, 5_000)).toMatchObject({ id: "nr", ok: false, error: { code: "no_responders" } });
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 10_000);

  it("[REQ-12] no response by the deadline → timeout; a late response is dropped", async () => {
    const srv = await reg({ agent_id: "rq-slow" });
    const caller = await reg();
    caller.send({ type: "request", id: "slow", to: "rq-slow", payload: encodePayload(1), timeout_ms: 150 });
    const fwd = await srv.next("request");
    expect(await caller.next("response")).toMatchObject({ id: "slow", ok: false, error: { code: "timeout" } });
    srv.send({ type: "response", id: fwd.id, payload: encodePayload("late") });
    await srv.expectQuiet();
    await caller.expectQuiet();
  });

  it("[REQ-13] the target disconnects while a request is pending → no_responders", async () => {
    const srv = await reg({ agent_id: "rq-gone" });
    const caller = await reg();
    caller.send({ type: "request", id: "g", to: "rq-gone", payload: encodePayload(1), timeout_ms: 60_000 });
    await srv.next("request");
    srv.ws.terminate();
    expect(await caller.next("response")).toMatchObject({ id: "g", ok: false, error: { code: "no_responders" } });
  });

  it("[REQ-8] reusing a pending request id → bad_frame, the pending one is kept", async () => {
    const srv = await reg({ agent_id: "rq-dup" });
    const caller = await reg();
    caller.send({ type: "request", id: "d", to: "rq-dup", payload: encodePayload(1) });
    const fwd = await srv.next("request");
    caller.send({ type: "request", id: "d", to: "rq-dup", payload: encodePayload(2) });
    expect(await caller.next("error")).toMatchObject({ code: "bad_frame", ref: "d" });
    srv.send({ type: "response", id: fwd.id, payload: encodePayload(1) });
    expect(await caller.next("response")).toMatchObject({ id: "d" });
  });

  it("[QUERY-1][QUERY-4] query lists agents (never clients), filtered by capability, status and tags", async () => {
    await reg({ agent_id: "qa-1", capabilities: [{ name: "q.cap", version: "2.0.0", tags: ["eu"] }], tags: ["gpu"], tier: 3 });
    await reg({ agent_id: "qa-2", capabilities: [{ name: "q.cap" }] });
    const c = await reg();
    c.send({ type: "query", ref: "q1", capability: "q.cap" });
    const all = await c.next("agents");
    expect(all.ref).toBe("q1");
    expect(all.agents.map((a) => a.agent_id).sort()).toEqual(["qa-1", "qa-2"]);
    const qa1 = all.agents.find((a) => a.agent_id === "qa-1")!;
    expect(qa1).toMatchObject({ status: "ready", in_flight: 0, capacity: 16, tier: 3, tags: ["gpu"] });
    expect(qa1.capabilities[0]).toMatchObject({ name: "q.cap", version: "2.0.0" });
    for (const tags of [["gpu"], ["eu"]]) {
      c.send({ type: "query", ref: "q2", capability: "q.cap", tags });
      expect((await c.next("agents")).agents.map((a) => a.agent_id)).toEqual(["qa-1"]);
    }
    c.send({ type: "query", ref: "q3" });
    const everyone = await c.next("agents");
    expect(everyone.agents.some((a) => a.agent_id === c.agentId)).toBe(false);
  });

  it("[DRAIN-1][DRAIN-2] drain: ack, status draining, no new tasks; in-flight ones finish; new submits get no_agents", async () => {
    const a = await reg({ agent_id: "dr-a", capabilities: [{ name: "dr" }] });
    const c = await reg();
    const id = await c.submit("dr", 1);
    const t = await a.next("task");
    a.send({ type: "drain", ref: "d1" });
    expect(await a.next("ack")).toMatchObject({ ref: "d1" });
    await broker.visible("dr-a", undefined, "draining"); // a mesh shares the status within milliseconds
    c.send({ type: "query", ref: "qd", capability: "dr" });
    expect((await c.next("agents")).agents[0]).toMatchObject({ agent_id: "dr-a", status: "draining", in_flight: 1 });
    c.send({ type: "submit", ref: "after-drain", capability: "dr", input: encodePayload(2) });
    expect(await c.next("error")).toMatchObject({ code: "no_agents", ref: "after-drain" });
    a.send({ type: "result", task_id: t.task_id, ok: true });
    expect(await c.next("result")).toMatchObject({ task_id: id, ok: true });
    c.send({ type: "request", id: "to-draining", to: "dr-a", payload: encodePayload(1) });
    expect(await c.next("response")).toMatchObject({ id: "to-draining", error: { code: "no_responders" } });
    await a.expectQuiet();
  });
});
