/**
 * Task lifecycle against a live broker bin beyond the conformance cases (SPEC §5.4–5.9, §6): what
 * conformance/ checks on every backend is not repeated here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe.each(BACKENDS)("tasks ($name)", (backend) => {
  let broker: RunningBroker;
  const peers: Peer[] = [];
  let n = 0;
  const cap = () => `cap.t${++n}`;
  const agent = async (capability: string, extra: Parameters<typeof Peer.register>[1] = {}) => {
    const p = await registerOn(broker, { capabilities: [{ name: capability }], ...extra });
    peers.push(p);
    return p;
  };
  const client = async () => {
    const p = await registerOn(broker);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    broker = await backend.start(["--max-attempts", "3"]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
  });

  // Beside conformance broker.reg.registered: also checks the reference broker's default limits.
  it("[REG-10] register gets registered with the announced limits", async () => {
    const p = await Peer.connect(broker.url);
    peers.push(p);
    p.send({ type: "register", name: "x" });
    const reg = await p.next("registered");
    expect(reg).toMatchObject({ protocol: 1, heartbeat_interval_ms: 5000, heartbeat_timeout_ms: 15000, max_frame_bytes: 1 << 20, max_in_flight: 1024 });
    expect(reg.agent_id).not.toBe("");
    p.send({ type: "register" });
    expect((await p.next("error")).code).toBe("already_registered");
  });

  // Beside conformance broker.reg.duplicate-agent: on a mesh the held id is an agent on the other broker (REG-5 across brokers, MESH-1).
  it("[REG-5] a held agent_id → duplicate_agent, close 1013", async () => {
    await agent(cap(), { agent_id: "dup-1" });
    const p = await Peer.connect(broker.url);
    peers.push(p);
    p.send({ type: "register", agent_id: "dup-1" });
    expect(await p.next("error")).toMatchObject({ code: "duplicate_agent", fatal: true });
    expect((await p.closed).code).toBe(1013);
  });

  // Beside conformance broker.trans.no-subprotocol (400 or close 1002): also checks the reference broker's choice, HTTP 400, for another subprotocol.
  it("[TRANS-3] an upgrade without the subprotocol is refused", async () => {
    await expect(Peer.connect(broker.url, { protocols: ["other"] })).rejects.toThrow(/400/);
  });

  // Beside conformance broker.task.roundtrip: also checks default priority, --max-attempts in the task, and progress arriving before the result.
  it("[TASK-3][TASK-5][TASK-8][TASK-11] submit → accepted → task → progress → result, payload bytes unchanged", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const input = encodePayload({ hello: "world", n: [1, 2, 3] });
    cl.send({ type: "submit", ref: "r1", capability: c, input });
    const acc = await cl.next("accepted");
    expect(acc.ref).toBe("r1");
    const task = await a.next("task");
    expect(task).toMatchObject({ task_id: acc.task_id, capability: c, priority: "normal", attempt: 1, max_attempts: 3 });
    expect(Buffer.from(task.input).equals(Buffer.from(input))).toBe(true);
    expect(task.deadline).toBeGreaterThan(Date.now());
    a.send({ type: "progress", task_id: task.task_id, data: encodePayload({ step: 1 }) });
    a.send({ type: "progress", task_id: task.task_id, data: encodePayload({ step: 2 }) });
    a.send({ type: "result", task_id: task.task_id, ok: true, output: encodePayload({ done: true }), attempt: 1 });
    const first = await cl.nextAny();
    const second = await cl.nextAny();
    const result = await cl.nextAny();
    expect([first.type, second.type, result.type]).toEqual(["progress", "progress", "result"]);
    expect(decodePayload((first as { data: Uint8Array }).data)).toEqual({ step: 1 });
    expect(result).toMatchObject({ task_id: acc.task_id, ok: true, ref: "r1", attempt: 1 });
    expect(decodePayload((result as { output: Uint8Array }).output)).toEqual({ done: true });
    // late frames for an ended task are dropped without error
    a.send({ type: "progress", task_id: task.task_id, data: encodePayload(0) });
    await a.expectQuiet();
    await cl.expectQuiet();
  });

  // Beside conformance broker.task.retry: also checks a retryable failure on the last attempt ends the task with it.
  it("[TASK-14] a retryable failure is retried until max_attempts, then the failure reaches the submitter", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const id = await cl.submit(c, 1, { max_attempts: 2 });
    for (const attempt of [1, 2]) {
      const t = await a.next("task", (x) => x.task_id === id);
      expect(t.attempt).toBe(attempt);
      a.send({ type: "result", task_id: id, ok: false, error: { code: "flaky", message: "try again", retryable: true }, attempt });
    }
    expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, attempt: 2, error: { code: "flaky" } });
    // a non-retryable failure ends at once
    const id2 = await cl.submit(c, 1);
    await a.next("task", (x) => x.task_id === id2);
    a.send({ type: "result", task_id: id2, ok: false, error: { code: "invalid_input", message: "no" } });
    expect(await cl.next("result", (r) => r.task_id === id2)).toMatchObject({ ok: false, attempt: 1, error: { code: "invalid_input" } });
  });

  // Beside conformance broker.task.cancel: also checks the submitter's cancel reason reaches the agent.
  it("[TASK-29][TASK-12] cancel reaches the agent, the submitter gets cancelled, a late result is dropped", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const id = await cl.submit(c, 1);
    await a.next("task");
    cl.send({ type: "cancel", task_id: id, ref: "cx", reason: "changed my mind" });
    expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, error: { code: "cancelled" } });
    expect(await cl.next("ack")).toMatchObject({ ref: "cx" });
    expect(await a.next("cancel")).toMatchObject({ task_id: id, reason: "changed my mind" });
    a.send({ type: "result", task_id: id, ok: true });
    await a.expectQuiet();
    await cl.expectQuiet();
    cl.send({ type: "cancel", task_id: id, ref: "again" }); // [TASK-30] idempotent
    expect(await cl.next("ack")).toMatchObject({ ref: "again" });
    // someone else's task → unknown_task [TASK-31]
    const other = await client();
    other.send({ type: "cancel", task_id: id, ref: "foreign" });
    expect(await other.next("error")).toMatchObject({ code: "unknown_task", ref: "foreign" });
  });

  // Beside conformance broker.task.idempotency: also checks the first submitter, still connected, gets the result with its own ref, and the late result follows accepted at once.
  it("[TASK-26][TASK-28] a repeated idempotency key returns the first task; both submitters get the result with their ref", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const cl2 = await client();
    const id = await cl.submit(c, 1, { ref: "first", idempotency_key: "k-1" });
    cl2.send({ type: "submit", ref: "again", capability: c, input: encodePayload(2), idempotency_key: "k-1" });
    expect(await cl2.next("accepted")).toMatchObject({ ref: "again", task_id: id, duplicate: true });
    const t = await a.next("task");
    a.send({ type: "result", task_id: t.task_id, ok: true, output: encodePayload("once") });
    expect(await cl.next("result")).toMatchObject({ task_id: id, ref: "first", ok: true });
    expect(await cl2.next("result")).toMatchObject({ task_id: id, ref: "again", ok: true });
    // after the end: accepted(duplicate) then the result right away
    cl2.send({ type: "submit", ref: "late", capability: c, input: encodePayload(3), idempotency_key: "k-1" });
    expect(await cl2.nextAny()).toMatchObject({ type: "accepted", task_id: id, duplicate: true });
    expect(await cl2.nextAny()).toMatchObject({ type: "result", task_id: id, ref: "late" });
    await a.expectQuiet(); // never a second execution
  });

  it("[TASK-2][LIMIT-2] a session at max_in_flight gets overloaded", async () => {
    const b = await backend.start(["--max-in-flight", "2"]);
    try {
      const a = await registerOn(b, { capabilities: [{ name: "slow" }] });
      const cl = await registerOn(b);
      await cl.submit("slow", 1);
      await cl.submit("slow", 2);
      cl.send({ type: "submit", ref: "third", capability: "slow", input: encodePayload(3) });
      expect(await cl.next("error")).toMatchObject({ code: "overloaded", ref: "third" });
      await Promise.all([a.close(), cl.close()]);
    } finally {
      await b.stop();
    }
  });

  it("[LIMIT-3] a full capability queue → overloaded", async () => {
    const b = await backend.start(["--max-queue-length", "2"]);
    try {
      const a = await registerOn(b, { capabilities: [{ name: "q" }], capacity: 1 });
      const cl = await registerOn(b);
      await cl.submit("q", 0); // dispatched
      await cl.submit("q", 1); // queued
      await cl.submit("q", 2); // queued
      cl.send({ type: "submit", ref: "full", capability: "q", input: encodePayload(3) });
      if (backend.name.startsWith("mesh")) {
        // The queue lives on the agent's broker: the origin accepts, the task ends overloaded (LIMIT-3).
        const { task_id } = await cl.next("accepted", (f) => f.ref === "full");
        expect(await cl.next("result", (r) => r.task_id === task_id)).toMatchObject({ ok: false, error: { code: "overloaded", retryable: true } });
      } else expect(await cl.next("error")).toMatchObject({ code: "overloaded", ref: "full" });
      await Promise.all([a.close(), cl.close()]);
    } finally {
      await b.stop();
    }
  });
});
