/**
 * Agent cases. The agent under test follows the conformance convention (protocol/IMPLEMENTING.md):
 * it offers `conformance.echo`, `conformance.slow` and `conformance.strict`.
 */
import { CLOSE_CODES, SUBPROTOCOL, decodePayload, type Frame } from "@agentwire/wire";
import { Failure, check, checkEqual, deepEqual, show, within, type Case } from "../case.js";
import type { AgentCtx } from "../agent-ctx.js";
import type { AgentSession } from "../mock-broker.js";

type C = Case<AgentCtx>;
const a = (c: Omit<C, "mode">): C => ({ ...c, mode: "agent" });

export const CONFORMANCE_CAPABILITIES = ["conformance.echo", "conformance.slow", "conformance.strict"] as const;

const resultFor = (s: AgentSession, taskId: string, timeoutMs: number, what?: string) => s.peer.next("result", (r) => r.task_id === taskId, timeoutMs, what ?? `result for ${taskId}`);

/** The agent stopped work on a task: it sent a result for it, or a heartbeat with in_flight 0. */
async function stopped(ctx: AgentCtx, s: AgentSession, taskId: string, timeoutMs: number, what: string): Promise<Frame> {
  return s.peer.nextAny((f) => (f.type === "result" && f.task_id === taskId) || (f.type === "heartbeat" && f.in_flight === 0), timeoutMs, what);
}

export const agentCases: C[] = [
  a({
    id: "agent.register",
    title: "connects with agentwire.v1, sends register first, offers the conformance capabilities",
    spec: ["TRANS-1", "TRANS-2", "CONN-1", "REG-1", "REG-8", "CAP-1", "CAP-2", "ENC-15"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.start();
      check(s.offeredSubprotocol, `the upgrade did not offer ${SUBPROTOCOL}`);
      check(s.first?.type === "register", `first frame was ${s.first?.type ?? (s.peer.violations[0] !== undefined ? `malformed (${s.peer.violations[0]})` : "nothing")}, expected register`);
      const reg = s.register!;
      check(reg.protocol === undefined || reg.protocol === 1, `register.protocol is ${reg.protocol}`);
      const names = (reg.capabilities ?? []).map((c) => c.name);
      check(new Set(names).size === names.length, `capability offered twice: ${names.join(",")}`);
      for (const cap of CONFORMANCE_CAPABILITIES) check(names.includes(cap), `capability ${cap} missing (offered: ${names.join(", ") || "none"})`);
    },
  }),
  a({
    id: "agent.heartbeat",
    title: "heartbeats at the announced interval, each with in_flight, capacity and status",
    spec: ["HB-2", "HB-1", "REG-13"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      const interval = ctx.broker.heartbeatIntervalMs;
      // Scheduling slack for a busy machine; an agent on its default 5 s interval still fails.
      const slack = Math.max(400, interval);
      let last = s.registeredAt;
      for (let i = 0; i < 4; i++) {
        const hb = await s.peer.next("heartbeat", () => true, last + interval + slack - Date.now(), `heartbeat ${i + 1} within ${interval} ms (+${slack} ms slack) of the previous one`);
        check(hb.in_flight !== undefined && hb.capacity !== undefined && hb.status !== undefined, `an agent heartbeat lacks in_flight/capacity/status: ${show(hb)}`);
        last = Date.now();
      }
    },
  }),
  a({
    id: "agent.echo",
    title: "answers a task with exactly one result carrying task_id, attempt and the output",
    spec: ["TASK-9", "TASK-10", "ENC-7"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      const doc = { text: "héllo", n: 42, list: [1, -2, null, true], nested: { ok: false } };
      const id = ctx.task(s, "conformance.echo", doc, { attempt: 2 });
      const r = await resultFor(s, id, ctx.timeoutMs);
      check(r.ok, `result not ok: ${show(r.error)}`);
      check(r.attempt === undefined || r.attempt === 2, `result.attempt ${r.attempt}, the task was attempt 2`);
      check(r.output !== undefined, "echo result has no output");
      const out = decodePayload(r.output);
      check(deepEqual(out, doc), `echo output ${show(out)} differs from input ${show(doc)}`);
      const id2 = ctx.task(s, "conformance.echo", "second");
      await resultFor(s, id2, ctx.timeoutMs);
      checkEqual(s.peer.all("result", (x) => x.task_id === id).length, 1, "results for one attempt");
    },
  }),
  a({
    id: "agent.progress",
    title: "conformance.slow sends `steps` progress frames for the task before its result",
    spec: ["TASK-7", "TASK-9"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 50, steps: 3 });
      const r = await resultFor(s, id, ctx.timeoutMs);
      check(r.ok, `slow result not ok: ${show(r.error)}`);
      const iResult = s.peer.received.indexOf(r);
      const progress = s.peer.received.filter((f, i) => f.type === "progress" && f.task_id === id && i < iResult);
      checkEqual(progress.length, 3, "progress frames before the result");
      check(s.peer.all("progress", (p) => p.task_id === id).length === 3, "progress sent after the result");
    },
  }),
  a({
    id: "agent.invalid-input",
    title: "conformance.strict rejects bad input with ok false and an error, and accepts good input",
    spec: ["TASK-10", "TASK-9"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      for (const bad of ["not a map", { n: "7" }, { m: 1 }, { n: 1.5 }]) {
        const id = ctx.task(s, "conformance.strict", bad);
        const r = await resultFor(s, id, ctx.timeoutMs);
        check(!r.ok, `strict accepted ${show(bad)}`);
        check(r.error !== undefined, "ok false without error");
      }
      const good = ctx.task(s, "conformance.strict", { n: 7 });
      const r = await resultFor(s, good, ctx.timeoutMs);
      check(r.ok, `strict rejected {n: 7}: ${show(r.error)}`);
    },
  }),
  a({
    id: "agent.invalid-input-code",
    title: "input rejected before running uses error code invalid_input",
    spec: ["TASK-10", "ERR-4"],
    level: "SHOULD",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.strict", ["n", 1]);
      const r = await resultFor(s, id, ctx.timeoutMs);
      checkEqual([r.ok, r.error?.code], [false, "invalid_input"], "result [ok, error.code]");
    },
  }),
  a({
    id: "agent.ignores-unknown",
    title: "unknown frame types and unknown keys are ignored, never answered with error",
    spec: ["ENC-10", "ENC-13", "ERR-11", "VER-4"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      s.peer.send({ type: "x-conformance-unknown", ref: "u1", "x-data": [1, 2] });
      const id = ctx.task(s, "conformance.echo", "still here", { extra: { "x-unknown-key": { a: 1 } } });
      const r = await resultFor(s, id, ctx.timeoutMs, "a result after an unknown frame type and key");
      check(r.ok, `result not ok: ${show(r.error)}`);
      check(!s.peer.isClosed, "the agent closed the connection");
    },
  }),
  a({
    id: "agent.discards-malformed",
    title: "a malformed frame from the broker is discarded (or the agent closes with 1002)",
    spec: ["ENC-14"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      s.peer.sendRaw(Buffer.from([0x92, 0x01, 0x02]));
      s.peer.sendRaw(Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa4, 0x74, 0x61, 0x73, 0x6b, 0xa1, 0x78, 0xd4, 0x01, 0x00]));
      const id = ctx.task(s, "conformance.echo", "after garbage");
      const r = await resultFor(s, id, ctx.timeoutMs).catch((err: unknown) => err as Error);
      if (r instanceof Error) {
        if (!s.peer.isClosed) throw r;
        const closed = await s.peer.closed;
        check(closed.code === CLOSE_CODES.protocolError, `the agent closed with ${closed.code} after a malformed frame (allowed: discard, or close 1002)`);
      } else check(r.ok, `echo failed after a malformed frame: ${show(r.error)}`);
    },
  }),
  a({
    id: "agent.wire-format",
    title: "every message is one binary frame of plain MessagePack (no extension types) that validates",
    spec: ["TRANS-6", "ENC-1", "ENC-2", "ENC-3", "ENC-4", "ENC-16", "ENC-20", "ENC-15"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.start();
      if (s.peer.violations.length > 0) throw new Failure(`malformed messages: ${s.peer.violations.slice(0, 3).join("; ")}`);
      if (s.register === undefined) throw new Failure(`the first frame was ${s.first?.type ?? "nothing"}, not register`);
      const id = ctx.task(s, "conformance.slow", { ms: 10, steps: 2 });
      await resultFor(s, id, ctx.timeoutMs);
      const id2 = ctx.task(s, "conformance.strict", "bad");
      await resultFor(s, id2, ctx.timeoutMs);
      if (s.peer.violations.length > 0) throw new Failure(`malformed messages: ${s.peer.violations.slice(0, 3).join("; ")}`);
    },
  }),
  a({
    id: "agent.ping",
    title: "answers WebSocket Ping with Pong",
    spec: ["TRANS-9"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      const pong = new Promise<void>((resolve) => s.peer.ws.once("pong", () => resolve()));
      s.peer.ws.ping();
      await within(pong, ctx.timeoutMs, "expected a pong");
    },
  }),
  a({
    id: "agent.cancel",
    title: "stops a task on cancel (result or in_flight 0) and keeps serving",
    spec: ["TASK-32", "TASK-12"],
    level: "SHOULD",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 60_000, steps: 1 });
      await s.peer.next("progress", (p) => p.task_id === id, ctx.timeoutMs, "the first progress of a slow task");
      s.peer.send({ type: "cancel", task_id: id, reason: "cancelled" });
      await stopped(ctx, s, id, ctx.broker.heartbeatIntervalMs * 2 + ctx.timeoutMs, "a result or a heartbeat with in_flight 0 after cancel");
      const echo = ctx.task(s, "conformance.echo", 1);
      await resultFor(s, echo, ctx.timeoutMs, "an echo result after the cancel");
    },
  }),
  a({
    id: "agent.deadline",
    title: "abandons a task when its deadline passes",
    spec: ["TASK-6"],
    level: "SHOULD",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 60_000, steps: 0 }, { deadline: Date.now() + 500 });
      const f = await stopped(ctx, s, id, 500 + ctx.broker.heartbeatIntervalMs * 2 + ctx.timeoutMs, "a result or a heartbeat with in_flight 0 after the deadline");
      check(!(f.type === "result" && f.ok), "the agent reported success for a task past its deadline");
    },
  }),
  a({
    id: "agent.deadline-result",
    title: "a result an agent sends when it gives up at the deadline is deadline_exceeded and not retryable, or there is none",
    spec: ["TASK-35"],
    level: "MUST",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 60_000, steps: 0 }, { deadline: Date.now() + 300 });
      const f = await stopped(ctx, s, id, 300 + ctx.broker.heartbeatIntervalMs * 2 + ctx.timeoutMs, "a result or a heartbeat with in_flight 0 after the deadline");
      if (f.type !== "result") return;
      checkEqual([f.ok, f.error?.code, f.error?.retryable], [false, "deadline_exceeded", false], "the agent's result at the deadline [ok, error.code, error.retryable]");
    },
  }),
  a({
    id: "agent.broker-drain",
    title: "after the broker's drain the agent finishes its in-flight task, reports it, then closes with 1000",
    spec: ["DRAIN-8", "DRAIN-5", "TRANS-8"],
    level: "SHOULD",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 800, steps: 1 });
      await s.peer.next("progress", (p) => p.task_id === id, ctx.timeoutMs, "the first progress of a slow task");
      // As a broker sends it when it drains the agent itself (a pool scale-down, an operator) [DRAIN-7].
      s.peer.send({ type: "drain", reason: "conformance drain check" });
      const r = await resultFor(s, id, ctx.timeoutMs, "the in-flight task's result after drain");
      check(r.ok, `the drained task failed: ${show(r.error)}`);
      const closed = await s.peer.closedWithin(ctx.timeoutMs, "the agent to close after its work was done");
      checkEqual(closed.code, CLOSE_CODES.normal, "close code");
    },
  }),
  a({
    id: "agent.goaway-drain",
    title: "after goaway the agent finishes its in-flight task, reports it, then closes with 1000",
    spec: ["SHUT-6", "DRAIN-5", "TRANS-8"],
    level: "SHOULD",
    async run(ctx) {
      const s = await ctx.registered();
      const id = ctx.task(s, "conformance.slow", { ms: 800, steps: 1 });
      await s.peer.next("progress", (p) => p.task_id === id, ctx.timeoutMs, "the first progress of a slow task");
      const grace = 5_000;
      s.peer.send({ type: "goaway", reason: "conformance drain check", grace_ms: grace });
      const r = await resultFor(s, id, grace, "the in-flight task's result within goaway.grace_ms");
      check(r.ok, `the drained task failed: ${show(r.error)}`);
      const closed = await s.peer.closedWithin(grace, "the agent to close after its work was done");
      checkEqual(closed.code, CLOSE_CODES.normal, "close code");
    },
  }),
];
