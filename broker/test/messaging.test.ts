/**
 * Request/response, query and drain beyond the conformance cases (SPEC §9–12): direct messages, topics
 * and the other request rules are checked by conformance/ on every backend (conformance/test/reference.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

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

  // Beside conformance broker.req.roundtrip: also checks the forwarded id is the broker's own, not the caller's (REQ-3).
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

  // Beside conformance broker.query.filters: also checks a new agent's defaults as listed (status ready, in_flight 0, capacity 16).
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

  // Beside conformance broker.drain: also checks a request addressed to a draining agent gets no_responders.
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
