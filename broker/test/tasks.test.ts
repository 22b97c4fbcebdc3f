/** Task lifecycle against a live broker bin: SPEC §5.4–5.9, §6. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "./helpers/peer.js";

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

  it("[CONN-1] frames before register get not_registered with ref, and the session survives", async () => {
    const p = await Peer.connect(broker.url);
    peers.push(p);
    p.send({ type: "submit", ref: "early", capability: "x", input: encodePayload(1) });
    expect(await p.next("error")).toMatchObject({ code: "not_registered", ref: "early" });
    p.send({ type: "register" });
    await p.next("registered");
  });

  it("[REG-1] protocol 2 → unsupported_version, fatal, close 1002", async () => {
    const p = await Peer.connect(broker.url);
    peers.push(p);
    p.send({ type: "register", protocol: 2 });
    expect(await p.next("error")).toMatchObject({ code: "unsupported_version", fatal: true });
    expect(await p.closed).toBe(1002);
  });

  it("[REG-5] a held agent_id → duplicate_agent, close 1013", async () => {
    await agent(cap(), { agent_id: "dup-1" });
    const p = await Peer.connect(broker.url);
    peers.push(p);
    p.send({ type: "register", agent_id: "dup-1" });
    expect(await p.next("error")).toMatchObject({ code: "duplicate_agent", fatal: true });
    expect(await p.closed).toBe(1013);
  });

  it("[TRANS-3] an upgrade without the subprotocol is refused", async () => {
    await expect(Peer.connect(broker.url, { protocols: ["other"] })).rejects.toThrow(/400/);
  });

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

  it("[TASK-2] no agent for the capability → no_agents, no task created", async () => {
    const cl = await client();
    cl.send({ type: "submit", ref: "none", capability: "cap.nobody", input: encodePayload(null) });
    expect(await cl.next("error")).toMatchObject({ code: "no_agents", ref: "none" });
    const c = cap();
    await agent(c, { capabilities: [{ name: c, version: "1.2.0" }] });
    cl.send({ type: "submit", ref: "v2", capability: c, version: "^2", input: encodePayload(null) });
    expect(await cl.next("error")).toMatchObject({ code: "no_agents", ref: "v2" });
  });

  it("[TASK-21] result/progress for a task not dispatched to the session → unknown_task", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const id = await cl.submit(c, 1);
    await a.next("task");
    cl.send({ type: "result", task_id: id, ok: true });
    expect(await cl.next("error")).toMatchObject({ code: "unknown_task", ref: id });
    cl.send({ type: "progress", task_id: "no-such-task", data: encodePayload(1) });
    expect(await cl.next("error")).toMatchObject({ code: "unknown_task", ref: "no-such-task" });
    cl.send({ type: "cancel", task_id: "no-such-task", ref: "c1" });
    expect(await cl.next("error")).toMatchObject({ code: "unknown_task", ref: "c1" });
  });

  it("[TASK-22][TASK-19] an agent whose socket is destroyed mid-task: the task runs again (attempt 2) and the client gets one result", async () => {
    const c = cap();
    const a1 = await agent(c);
    const cl = await client();
    const id = await cl.submit(c, "work");
    const t1 = await a1.next("task");
    expect(t1.attempt).toBe(1);
    const a2 = await agent(c);
    a1.ws.terminate(); // no close handshake: the TCP socket is destroyed
    const t2 = await a2.next("task", (t) => t.task_id === id);
    expect(t2.attempt).toBe(2);
    a2.send({ type: "result", task_id: id, ok: true, output: encodePayload("second"), attempt: 2 });
    const r = await cl.next("result", (x) => x.task_id === id);
    expect(r).toMatchObject({ ok: true, attempt: 2 });
    await cl.expectQuiet();
  });

  it("[TASK-22] out of attempts → agent_lost", async () => {
    const c = cap();
    const cl = await client();
    const a1 = await agent(c);
    const id = await cl.submit(c, 1, { max_attempts: 1 });
    await a1.next("task");
    await a1.close();
    expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, error: { code: "agent_lost", retryable: true } });
  });

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

  it("[TASK-33] a deadline passes → deadline_exceeded to the submitter, cancel to the agent", async () => {
    const c = cap();
    const a = await agent(c);
    const cl = await client();
    const id = await cl.submit(c, 1, { timeout_ms: 200 });
    await a.next("task");
    expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, error: { code: "deadline_exceeded" } });
    expect(await a.next("cancel")).toMatchObject({ task_id: id, reason: "deadline_exceeded" });
  });

  it("[TASK-33] a queued task also expires (no agent with capacity)", async () => {
    const c = cap();
    const a = await agent(c, { capacity: 1 });
    const cl = await client();
    await cl.submit(c, 1);
    await a.next("task");
    const id = await cl.submit(c, 2, { timeout_ms: 150 });
    expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, error: { code: "deadline_exceeded" } });
    await cl.expectQuiet(); // exactly one result
    await a.expectQuiet(); // it was never dispatched: no task, no cancel
  });

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
