/** Broker cases: the task lifecycle, routing and heartbeats (SPEC §5.4–§8). */
import { ERROR_CODES, decodePayload, encodePayload, type FrameOf } from "@agentwire/wire";
import { check, checkEqual, sameBytes, type Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });
type Task = FrameOf<"task">;

export const taskCases: C[] = [
  b({
    id: "broker.task.roundtrip",
    title: "submit → accepted → task → progress → result, payload bytes unchanged",
    spec: ["TASK-2", "TASK-3", "TASK-4", "TASK-5", "TASK-8", "TASK-9", "TASK-11", "TASK-13", "TASK-15", "ENC-7", "ENC-21"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client } = await ctx.client();
      // A non-canonical document (uint8 where a fixint would do) proves the broker does not re-encode.
      const input = Buffer.from([0x81, 0xa1, 0x6e, 0xcc, 0x05]);
      const before = Date.now();
      const { ref, task_id } = await ctx.submit(client, cap, undefined, { input, timeout_ms: 20_000, priority: "high" });
      const after = Date.now();
      const task = await agent.peer.next("task", (t) => t.task_id === task_id);
      check(sameBytes(task.input, input), "task.input is not the submitted bytes");
      checkEqual(task.attempt, 1, "task.attempt");
      checkEqual(task.capability, cap, "task.capability");
      checkEqual(task.priority, "high", "task.priority");
      check(task.max_attempts >= 1, "task.max_attempts < 1");
      check(task.deadline >= before + 20_000 - 1_000 && task.deadline <= after + 20_000 + 1_000, `deadline ${task.deadline} is not accepted time + 20000 (accepted within ${before}..${after})`);
      const data = Buffer.from([0x81, 0xa1, 0x73, 0xcd, 0x00, 0x01]);
      agent.peer.send({ type: "progress", task_id, data });
      const progress = await client.next("progress", (p) => p.task_id === task_id);
      check(sameBytes(progress.data, data), "progress.data changed on the way");
      const output = Buffer.from([0x92, 0xcc, 0x01, 0xa1, 0x78]);
      agent.peer.send({ type: "result", task_id, ok: true, attempt: 1, output });
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual(result.ok, true, "result.ok");
      checkEqual(result.ref, ref, "result.ref");
      checkEqual(result.attempt, 1, "result.attempt");
      check(sameBytes(result.output, output), "result.output is not the agent's bytes");
      const second = await ctx.submit(client, cap, 2);
      check(second.task_id !== task_id, "two tasks got the same task_id");
    },
  }),
  b({
    id: "broker.task.defaults",
    title: "registered announces the task timeout, request timeout and max attempts; a task carries remaining_ms and the announced max_attempts",
    spec: ["REG-14", "TASK-34", "TASK-1"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client, registered } = await ctx.client();
      const { task_timeout_ms: timeout, request_timeout_ms: requestTimeout, max_attempts: attempts } = registered;
      check(timeout !== undefined && requestTimeout !== undefined && attempts !== undefined, `registered lacks a default: ${JSON.stringify({ timeout, requestTimeout, attempts })}`);
      const sent = performance.now();
      const { task_id } = await ctx.submit(client, cap);
      const task = await agent.peer.next("task", (t) => t.task_id === task_id);
      const elapsed = performance.now() - sent;
      checkEqual(task.max_attempts, attempts, "task.max_attempts of a submit without max_attempts");
      // The broker's clock is not ours, but an interval is: at most `elapsed` passed between acceptance and dispatch.
      check(task.remaining_ms !== undefined && task.remaining_ms <= timeout! && task.remaining_ms >= timeout! - elapsed - 50, `task.remaining_ms ${task.remaining_ms} is not ${timeout} less at most ${Math.round(elapsed)} ms`);
      agent.peer.send({ type: "result", task_id, ok: true });
      await client.next("result", (r) => r.task_id === task_id);
    },
  }),
  b({
    id: "broker.task.no-agents",
    title: "a submit for a capability nobody offers gets no_agents with the submit's ref",
    spec: ["TASK-2", "ERR-3", "ERR-8"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ref = ctx.uniq("s");
      peer.send({ type: "submit", ref, capability: ctx.uniq("nobody"), input: encodePayload(null) });
      await ctx.error(peer, "no_agents", ref);
      const other = ctx.uniq("cap");
      await ctx.agent([{ name: other, version: "1.0.0" }]);
      const ref2 = ctx.uniq("s");
      peer.send({ type: "submit", ref: ref2, capability: other, version: "^2", input: encodePayload(null) });
      await ctx.error(peer, "no_agents", ref2);
    },
  }),
  b({
    id: "broker.cap.version-range",
    title: "submit.version ranges select capability versions; payloads are never validated against schemas",
    spec: ["CAP-3", "CAP-4", "CAP-5", "CAP-6", "CAP-2"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([{ name: cap, version: "1.2.3", input_schema: { type: "string" } }]);
      const { peer: client } = await ctx.client();
      const { task_id } = await ctx.submit(client, cap, 42, { version: ">=1.2 <2" });
      await agent.peer.next("task", (t) => t.task_id === task_id, ctx.timeoutMs, "a task whose input does not match input_schema");
      await ctx.submit(client, cap, 1, { version: "^1.1" });
      for (const version of ["~1.3", "1.2.4", "<1.2.3"]) {
        const ref = ctx.uniq("s");
        client.send({ type: "submit", ref, capability: cap, version, input: encodePayload(1) });
        await ctx.error(client, "no_agents", ref);
      }
      const ref = ctx.uniq("s");
      client.send({ type: "submit", ref, capability: cap, version: "1.x", input: encodePayload(1) });
      await ctx.error(client, "bad_frame", ref);
    },
  }),
  b({
    id: "broker.task.progress-order",
    title: "progress is forwarded in order and none after the result; stale frames are dropped silently",
    spec: ["TASK-8", "TASK-19", "TASK-20"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched();
      for (let i = 0; i < 20; i++) agent.peer.send({ type: "progress", task_id, data: encodePayload(i) });
      agent.peer.send({ type: "result", task_id, ok: true, output: encodePayload("done") });
      agent.peer.send({ type: "progress", task_id, data: encodePayload(99) });
      agent.peer.send({ type: "result", task_id, ok: false, error: { code: "late", message: "second result" } });
      await client.next("result", (r) => r.task_id === task_id);
      await ctx.sync(agent.peer);
      await ctx.sync(client);
      const seen = client.all("progress", (p) => p.task_id === task_id).map((p) => decodePayload<number>(p.data));
      checkEqual(seen, Array.from({ length: 20 }, (_, i) => i), "progress documents forwarded");
      checkEqual(client.all("result", (r) => r.task_id === task_id).length, 1, "results forwarded");
      check(agent.peer.all("error").length === 0, `stale frames were answered: ${agent.peer.all("error").map((e) => e.code).join(",")}`);
    },
  }),
  b({
    id: "broker.task.unknown-task",
    title: "progress/result for unknown or foreign tasks get unknown_task with ref = task_id",
    spec: ["TASK-21", "ERR-3"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const other = await ctx.agent([ctx.uniq("cap")], {}, "other");
      const { peer: client } = await ctx.client();
      const bogus = ctx.uniq("t");
      agent.peer.send({ type: "result", task_id: bogus, ok: true });
      await ctx.error(agent.peer, "unknown_task", bogus);
      const { task_id } = await ctx.submit(client, cap, null);
      await agent.peer.next("task", (t) => t.task_id === task_id);
      other.peer.send({ type: "progress", task_id, data: encodePayload(1) });
      await ctx.error(other.peer, "unknown_task", task_id);
    },
  }),
  b({
    id: "broker.task.cancel",
    title: "cancel ends the task as cancelled for the submitter, cancels the agent, acks; late results are dropped",
    spec: ["TASK-29", "TASK-12", "TASK-23", "TASK-30", "TASK-32", "TASK-19"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched();
      const ref = ctx.uniq("c");
      client.send({ type: "cancel", task_id, ref, reason: "conformance" });
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual(result.ok, false, "result.ok");
      checkEqual(result.error?.code, "cancelled", "result.error.code");
      check(result.error?.retryable !== true, "a cancelled result is marked retryable");
      await client.next("ack", (a) => a.ref === ref);
      const cancel = await agent.peer.next("cancel", (c) => c.task_id === task_id);
      check(typeof cancel.reason === "string" || cancel.reason === undefined, "cancel.reason");
      agent.peer.send({ type: "result", task_id, ok: true });
      const ref2 = ctx.uniq("c");
      client.send({ type: "cancel", task_id, ref: ref2 });
      await client.next("ack", (a) => a.ref === ref2, ctx.timeoutMs, "ack for a cancel of an ended task");
      await ctx.sync(agent.peer);
      check(agent.peer.all("error").length === 0, "the agent's late result was answered with an error");
      checkEqual(client.all("result", (r) => r.task_id === task_id).length, 1, "results for the cancelled task");
    },
  }),
  b({
    id: "broker.task.attach",
    title: "attach from another session follows a task: accepted (duplicate) with its ref, then the result; an unknown id gets unknown_task",
    spec: ["ATT-1", "ATT-2"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched();
      const { peer: follower } = await ctx.client("follower");
      const ref = ctx.uniq("a");
      follower.send({ type: "attach", task_id, ref });
      const accepted = await follower.next("accepted", (a) => a.ref === ref);
      checkEqual(accepted.task_id, task_id, "accepted.task_id");
      checkEqual(accepted.duplicate, true, "accepted.duplicate");
      const output = Buffer.from([0xa2, 0x6f, 0x6b]);
      agent.peer.send({ type: "result", task_id, ok: true, attempt: 1, output });
      const result = await follower.next("result", (r) => r.task_id === task_id);
      checkEqual(result.ref, ref, "result.ref for the attaching session");
      check(result.output !== undefined && sameBytes(result.output, output), "result.output is not the agent's bytes");
      await client.next("result", (r) => r.task_id === task_id);
      const bogus = ctx.uniq("t");
      const ref2 = ctx.uniq("a");
      follower.send({ type: "attach", task_id: bogus, ref: ref2 });
      await ctx.error(follower, "unknown_task", ref2);
    },
  }),
  b({
    id: "broker.task.cancel-unknown",
    title: "cancel of an unknown task, or by a session that is not a submitter, gets unknown_task",
    spec: ["TASK-31"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client } = await ctx.client();
      const { peer: stranger } = await ctx.client("stranger");
      const bogus = ctx.uniq("t");
      client.send({ type: "cancel", task_id: bogus });
      await ctx.error(client, "unknown_task", bogus);
      const { task_id } = await ctx.submit(client, cap, null);
      await agent.peer.next("task", (t) => t.task_id === task_id);
      stranger.send({ type: "cancel", task_id, ref: ctx.uniq("c") });
      await ctx.error(stranger, "unknown_task");
      await ctx.sync(agent.peer);
      check(agent.peer.all("cancel").length === 0, "a stranger's cancel reached the agent");
    },
  }),
  b({
    id: "broker.task.deadline",
    title: "a dispatched task past its deadline ends deadline_exceeded and the agent gets cancel reason deadline_exceeded",
    spec: ["TASK-33", "TASK-12", "TASK-15", "TASK-23"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched({ timeout_ms: 300 });
      const result = await client.next("result", (r) => r.task_id === task_id, 300 + ctx.timeoutMs);
      checkEqual(result.ok, false, "result.ok");
      checkEqual(result.error?.code, "deadline_exceeded", "result.error.code");
      check(result.error?.retryable !== !ERROR_CODES.deadline_exceeded.retryable, "deadline_exceeded carries the wrong retryable");
      const cancel = await agent.peer.next("cancel", (c) => c.task_id === task_id);
      checkEqual(cancel.reason, "deadline_exceeded", "cancel.reason");
    },
  }),
  b({
    id: "broker.task.deadline-queued",
    title: "a queued task past its deadline ends deadline_exceeded and is never dispatched",
    spec: ["TASK-33", "ROUTE-3"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap], { capacity: 1 });
      const { peer: client } = await ctx.client();
      const first = await ctx.submit(client, cap, 1);
      await agent.peer.next("task", (t) => t.task_id === first.task_id);
      const late = await ctx.submit(client, cap, 2, { timeout_ms: 300 });
      const result = await client.next("result", (r) => r.task_id === late.task_id, 300 + ctx.timeoutMs);
      checkEqual(result.error?.code, "deadline_exceeded", "result.error.code");
      agent.peer.send({ type: "result", task_id: first.task_id, ok: true });
      await client.next("result", (r) => r.task_id === first.task_id);
      await ctx.sync(agent.peer);
      check(agent.peer.all("task", (t) => t.task_id === late.task_id).length === 0, "the expired task was dispatched");
    },
  }),
  b({
    id: "broker.task.requeue-on-loss",
    title: "when the agent's session ends, the task is requeued as attempt 2 with the same id and input",
    spec: ["TASK-22", "TASK-17", "TASK-13", "CONN-11", "TASK-5", "ROUTE-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const first = await ctx.agent([cap], {}, "agent-1");
      const { peer: client } = await ctx.client();
      const { task_id, ref, input } = await ctx.submit(client, cap, { job: "requeue" }, { max_attempts: 3 });
      await first.peer.next("task", (t) => t.task_id === task_id);
      await first.peer.close();
      const second = await ctx.agent([cap], {}, "agent-2");
      const task = await second.peer.next("task", (t) => t.task_id === task_id, ctx.timeoutMs, "the requeued task on the second agent");
      checkEqual(task.attempt, 2, "attempt of the requeued task");
      check(sameBytes(task.input, input), "the requeued task's input changed");
      second.peer.send({ type: "result", task_id, ok: true, attempt: 2, output: encodePayload("ok") });
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual([result.ok, result.ref, result.attempt], [true, ref, 2], "result [ok, ref, attempt]");
    },
  }),
  b({
    id: "broker.task.agent-lost",
    title: "when the agent of a last attempt goes away the task fails with agent_lost",
    spec: ["TASK-22", "TASK-23", "TASK-13"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched({ max_attempts: 1 });
      agent.peer.terminate();
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual([result.ok, result.error?.code], [false, "agent_lost"], "result [ok, error.code]");
      check(result.error?.retryable !== false, "agent_lost marked retryable: false");
    },
  }),
  b({
    id: "broker.task.retry",
    title: "only error.retryable true requeues; absent retryable ends the task with the agent's error",
    spec: ["TASK-14", "TASK-13", "TASK-11", "TASK-10", "ERR-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client } = await ctx.client();
      const { task_id } = await ctx.submit(client, cap, null, { max_attempts: 3 });
      await agent.peer.next("task", (t) => t.task_id === task_id && t.attempt === 1);
      agent.peer.send({ type: "result", task_id, ok: false, attempt: 1, error: { code: "flaky", message: "try again", retryable: true } });
      await agent.peer.next("task", (t) => t.task_id === task_id && t.attempt === 2, ctx.timeoutMs, "attempt 2 after a retryable failure");
      agent.peer.send({ type: "result", task_id, ok: false, attempt: 2, error: { code: "broken", message: "final", details: { k: 1 } } });
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual([result.ok, result.error?.code, result.attempt], [false, "broken", 2], "result [ok, error.code, attempt]");
      await ctx.sync(agent.peer);
      check(agent.peer.all("task", (t) => t.task_id === task_id && t.attempt === 3).length === 0, "a non-retryable failure was retried");
    },
  }),
  b({
    id: "broker.task.stale-attempt",
    title: "a result for another attempt is dropped without error",
    spec: ["TASK-20", "TASK-9"],
    level: "MUST",
    async run(ctx) {
      const { agent, client, task_id } = await ctx.dispatched();
      agent.peer.send({ type: "result", task_id, ok: true, attempt: 2, output: encodePayload("stale") });
      await ctx.sync(agent.peer);
      check(agent.peer.all("error").length === 0, "a stale result was answered with error");
      agent.peer.send({ type: "result", task_id, ok: true, output: encodePayload("fresh") });
      const result = await client.next("result", (r) => r.task_id === task_id);
      checkEqual(decodePayload(result.output!), "fresh", "result output");
    },
  }),
  b({
    id: "broker.task.idempotency",
    title: "a repeated idempotency key joins the first task; after it ended the result follows accepted at once",
    spec: ["TASK-26", "TASK-28", "TASK-24", "TASK-25", "TASK-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: c1 } = await ctx.client("client-1");
      const key = ctx.uniq("key");
      const first = await ctx.submit(c1, cap, 1, { idempotency_key: key });
      const { peer: c2 } = await ctx.client("client-2");
      const ref2 = ctx.uniq("s");
      c2.send({ type: "submit", ref: ref2, capability: cap, input: encodePayload(2), idempotency_key: key, priority: "low" });
      const dup = await c2.next("accepted", (a) => a.ref === ref2);
      checkEqual([dup.task_id, dup.duplicate], [first.task_id, true], "accepted [task_id, duplicate]");
      await agent.peer.next("task", (t) => t.task_id === first.task_id);
      await c1.close(); // the first submitter leaves; the task continues [TASK-24]
      agent.peer.send({ type: "result", task_id: first.task_id, ok: true, output: encodePayload("once") });
      const r2 = await c2.next("result", (r) => r.task_id === first.task_id);
      checkEqual(r2.ref, ref2, "result.ref for the second submitter");
      const { peer: c3 } = await ctx.client("client-3");
      const ref3 = ctx.uniq("s");
      c3.send({ type: "submit", ref: ref3, capability: cap, input: encodePayload(3), idempotency_key: key });
      const acc3 = await c3.next("accepted", (a) => a.ref === ref3);
      checkEqual([acc3.task_id, acc3.duplicate], [first.task_id, true], "late accepted [task_id, duplicate]");
      const r3 = await c3.next("result", (r) => r.task_id === first.task_id);
      checkEqual([r3.ok, r3.ref, decodePayload(r3.output!)], [true, ref3, "once"], "late result [ok, ref, output]");
      await ctx.sync(agent.peer);
      checkEqual(agent.peer.all("task").length, 1, "tasks dispatched for one idempotency key");
    },
  }),
  b({
    id: "broker.route.capacity",
    title: "the broker never dispatches more tasks than the agent's capacity; the next one follows a result",
    spec: ["ROUTE-3", "ROUTE-1", "ROUTE-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap], { capacity: 1 });
      const { peer: client } = await ctx.client();
      const t1 = await ctx.submit(client, cap, 1);
      const t2 = await ctx.submit(client, cap, 2);
      await agent.peer.next("task", (t) => t.task_id === t1.task_id);
      await ctx.sync(agent.peer);
      check(agent.peer.all("task").length === 1, "a second task was dispatched beyond capacity 1");
      agent.peer.send({ type: "result", task_id: t1.task_id, ok: true });
      await agent.peer.next("task", (t) => t.task_id === t2.task_id, ctx.timeoutMs, "the queued task once capacity freed");
    },
  }),
  b({
    id: "broker.route.priority-order",
    title: "queued tasks are dispatched by priority rank, then FIFO",
    spec: ["ROUTE-2", "ROUTE-4", "TASK-16"],
    level: "MUST",
    async run(ctx) {
      ctx.relaxedAcrossBrokers(
        "MESH-2",
        "a task is queued on the broker of the agents that run it, and `accepted` comes from the client's broker before the task reaches that queue; no frame shows when all of them are queued, so the dispatch order of tasks just accepted depends on hand-over timing",
      );
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap], { capacity: 1 });
      const { peer: client } = await ctx.client();
      const blocker = await ctx.submit(client, cap, "blocker");
      await agent.peer.next("task", (t) => t.task_id === blocker.task_id);
      const order = ["low", "normal", "high", "critical", "normal", "high"] as const;
      const submitted: string[] = [];
      for (const [i, priority] of order.entries()) submitted.push((await ctx.submit(client, cap, `${priority}-${i}`, { priority })).task_id);
      let current: Task = { task_id: blocker.task_id } as Task;
      const got: string[] = [];
      for (let i = 0; i < order.length; i++) {
        agent.peer.send({ type: "result", task_id: current.task_id, ok: true });
        current = await agent.peer.next("task", (t) => t.task_id !== blocker.task_id && !got.includes(t.task_id));
        got.push(decodePayload<string>(current.input));
      }
      checkEqual(got, ["critical-3", "high-2", "high-5", "normal-1", "normal-4", "low-0"], "dispatch order");
    },
  }),
  b({
    id: "broker.hb.eviction",
    title: "a silent session is closed with 1008 after heartbeat_timeout_ms and its task requeued",
    spec: ["HB-4", "CONN-11", "TASK-22"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const { peer: client, registered } = await ctx.client();
      ctx.needShortHeartbeat(registered);
      const silent = await ctx.register({ capabilities: [{ name: cap }] }, "silent", false);
      const { task_id } = await ctx.submit(client, cap, null);
      await silent.peer.next("task", (t) => t.task_id === task_id);
      const started = Date.now();
      const closed = await silent.peer.closedWithin(registered.heartbeat_timeout_ms * 2 + 3_000, "eviction");
      check(closed.code === 1008, `evicted with close code ${closed.code}, expected 1008`);
      check(Date.now() - started >= registered.heartbeat_timeout_ms * 0.5, `evicted after ${Date.now() - started} ms, before heartbeat_timeout_ms ${registered.heartbeat_timeout_ms}`);
      const next = await ctx.agent([cap], {}, "successor");
      const task = await next.peer.next("task", (t) => t.task_id === task_id, ctx.timeoutMs, "the evicted agent's task, requeued");
      checkEqual(task.attempt, 2, "attempt after eviction");
    },
  }),
  b({
    id: "broker.hb.any-frame-counts",
    title: "any frame, not only heartbeat, keeps a session alive",
    spec: ["HB-3"],
    level: "MUST",
    async run(ctx) {
      const { peer: probe, registered } = await ctx.client();
      ctx.needShortHeartbeat(registered);
      const quiet = await ctx.register({}, "query-only", false);
      const until = Date.now() + registered.heartbeat_timeout_ms * 2;
      while (Date.now() < until) {
        await ctx.sync(quiet.peer);
        await new Promise((r) => setTimeout(r, Math.max(20, Math.floor(registered.heartbeat_interval_ms / 2))));
      }
      check(!quiet.peer.isClosed, "a session sending frames other than heartbeat was evicted");
      await ctx.sync(probe);
    },
  }),
  b({
    id: "broker.hb.unhealthy",
    title: "status unhealthy stops routing until the agent reports ready; heartbeat capacity is used",
    spec: ["HB-6", "HB-5", "ROUTE-1", "ROUTE-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap], { capacity: 4 });
      agent.peer.startHeartbeat(50, () => ({ in_flight: 0, capacity: 4, status: "unhealthy" }));
      agent.peer.send({ type: "heartbeat", in_flight: 0, capacity: 4, status: "unhealthy" });
      await ctx.sync(agent.peer);
      const { peer: client } = await ctx.client();
      const { task_id } = await ctx.submit(client, cap, null);
      await ctx.sync(agent.peer);
      check(agent.peer.all("task").length === 0, "a task was dispatched to an unhealthy agent");
      agent.peer.startHeartbeat(50, () => ({ in_flight: 0, capacity: 4, status: "ready" }));
      agent.peer.send({ type: "heartbeat", in_flight: 0, capacity: 4, status: "ready" });
      await agent.peer.next("task", (t) => t.task_id === task_id, ctx.timeoutMs, "the queued task once the agent is ready");
    },
  }),
];
