/** Broker cases: W3C trace context carried unchanged through tasks, messages and requests (SPEC §20). */
import { encodePayload } from "@agentwire/wire";
import { checkEqual, type Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";
import { errorCode, http } from "./broker-http.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE = "vendor1=opaque,tenant@vendor2=x";
const TRACE = { traceparent: TRACEPARENT, tracestate: TRACESTATE };

/** The trace fields of a frame, for one comparison. */
const traceOf = (f: { traceparent?: string | undefined; tracestate?: string | undefined }): [string | undefined, string | undefined] => [f.traceparent, f.tracestate];

export const traceCases: C[] = [
  b({
    id: "broker.trace.task",
    title: "a submit's traceparent and tracestate reach every attempt's task unchanged; a submit without them gets a task without them",
    spec: ["TRACE-4", "TRACE-6"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client } = await ctx.client();
      const { task_id } = await ctx.submit(client, cap, null, { ...TRACE, max_attempts: 2 });
      const first = await agent.peer.next("task", (t) => t.task_id === task_id && t.attempt === 1);
      checkEqual(traceOf(first), [TRACEPARENT, TRACESTATE], "attempt 1's task [traceparent, tracestate]");
      agent.peer.send({ type: "result", task_id, ok: false, attempt: 1, error: { code: "flaky", message: "again", retryable: true } });
      const second = await agent.peer.next("task", (t) => t.task_id === task_id && t.attempt === 2);
      checkEqual(traceOf(second), [TRACEPARENT, TRACESTATE], "attempt 2's task [traceparent, tracestate]");
      agent.peer.send({ type: "result", task_id, ok: true, attempt: 2, output: encodePayload(1) });
      await client.next("result", (r) => r.task_id === task_id);
      const plain = await ctx.submit(client, cap, null);
      const untraced = await agent.peer.next("task", (t) => t.task_id === plain.task_id);
      checkEqual(traceOf(untraced), [undefined, undefined], "an untraced submit's task [traceparent, tracestate]");
      // A tracestate without a traceparent names no parent: nothing is forwarded [TRACE-2].
      const lone = await ctx.submit(client, cap, null, { tracestate: TRACESTATE });
      const loneTask = await agent.peer.next("task", (t) => t.task_id === lone.task_id);
      checkEqual(traceOf(loneTask), [undefined, undefined], "the task of a submit with a tracestate alone [traceparent, tracestate]");
    },
  }),
  b({
    id: "broker.trace.message",
    title: "send and publish carry their trace context to each message they deliver, unchanged",
    spec: ["TRACE-4", "TRACE-6"],
    level: "MUST",
    async run(ctx) {
      // The target is an agent: on a mesh it is on another broker than the sender.
      const target = await ctx.agent([ctx.uniq("cap")]);
      const sender = await ctx.client("sender");
      const ref = ctx.uniq("m");
      sender.peer.send({ type: "send", to: target.registered.agent_id, payload: encodePayload(1), ref, ...TRACE });
      const direct = await target.peer.next("message", (m) => m.topic === undefined);
      checkEqual(traceOf(direct), [TRACEPARENT, TRACESTATE], "direct message [traceparent, tracestate]");
      await sender.peer.next("ack", (f) => f.ref === ref);
      const topic = ctx.uniq("t");
      const sub = ctx.uniq("sub");
      target.peer.send({ type: "subscribe", topic, ref: sub });
      await target.peer.next("ack", (f) => f.ref === sub);
      sender.peer.send({ type: "publish", topic, payload: encodePayload(2), traceparent: TRACEPARENT });
      const broadcast = await target.peer.next("message", (m) => m.topic === topic);
      checkEqual(traceOf(broadcast), [TRACEPARENT, undefined], "broadcast message [traceparent, tracestate]");
      sender.peer.send({ type: "publish", topic, payload: encodePayload(3) });
      const plain = await target.peer.next("message", (m) => m.topic === topic);
      checkEqual(traceOf(plain), [undefined, undefined], "an untraced publish's message [traceparent, tracestate]");
    },
  }),
  b({
    id: "broker.trace.request",
    title: "a request's trace context reaches the responder, the response's reaches the caller, each unchanged; the broker adds none",
    spec: ["TRACE-4", "TRACE-5", "TRACE-6"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const target = await ctx.agent([cap]);
      const caller = await ctx.client("caller");
      caller.peer.send({ type: "request", id: "req-1", capability: cap, payload: encodePayload(1), ...TRACE });
      const fwd = await target.peer.next("request");
      checkEqual(traceOf(fwd), [TRACEPARENT, TRACESTATE], "forwarded request [traceparent, tracestate]");
      const answered = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01";
      target.peer.send({ type: "response", id: fwd.id, payload: encodePayload(2), traceparent: answered });
      const resp = await caller.peer.next("response", (r) => r.id === "req-1");
      checkEqual(traceOf(resp), [answered, undefined], "response [traceparent, tracestate]");
      caller.peer.send({ type: "request", id: "req-2", capability: cap, payload: encodePayload(1), ...TRACE });
      const fwd2 = await target.peer.next("request", (r) => r.id !== fwd.id);
      target.peer.send({ type: "response", id: fwd2.id, payload: encodePayload(3) });
      const resp2 = await caller.peer.next("response", (r) => r.id === "req-2");
      checkEqual(traceOf(resp2), [undefined, undefined], "a response sent without trace context [traceparent, tracestate]");
    },
  }),
  b({
    id: "broker.trace.http",
    title: "POST /v1/tasks takes traceparent and tracestate in its body like a submit: carried to the task, a malformed one 400 bad_frame",
    spec: ["TRACE-3", "TRACE-4", "HTTP-6"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const bad = await http(ctx, "POST", "/v1/tasks", { capability: cap, input: 1, traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` });
      checkEqual([bad.status, errorCode(bad.json)], [400, "bad_frame"], "a malformed traceparent [status, code]");
      const ok = await http(ctx, "POST", "/v1/tasks", { capability: cap, input: 1, ...TRACE });
      checkEqual(ok.status, 202, "POST /v1/tasks status");
      const taskId = (ok.json as { task_id: string }).task_id;
      const task = await agent.peer.next("task", (t) => t.task_id === taskId);
      checkEqual(traceOf(task), [TRACEPARENT, TRACESTATE], "the task of an HTTP submit [traceparent, tracestate]");
      agent.peer.send({ type: "result", task_id: taskId, ok: true, attempt: task.attempt });
      await ctx.sync(agent.peer);
      checkEqual(agent.peer.all("task").length, 1, "tasks routed (the malformed submit ran nothing)");
    },
  }),
  b({
    id: "broker.trace.malformed",
    title: "a malformed traceparent or tracestate is refused with bad_frame naming the field in details.path; nothing is routed",
    spec: ["TRACE-1", "TRACE-2", "TRACE-3", "ENC-15"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer } = await ctx.client();
      const bad: [string, Record<string, string>, string][] = [
        ["uppercase", { traceparent: TRACEPARENT.toUpperCase() }, "traceparent"],
        ["zero trace id", { traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` }, "traceparent"],
        ["version ff", { traceparent: TRACEPARENT.replace(/^00/, "ff") }, "traceparent"],
        ["33 members", { traceparent: TRACEPARENT, tracestate: Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",") }, "tracestate"],
      ];
      for (const [what, fields, path] of bad) {
        const ref = ctx.uniq("s");
        peer.send({ type: "submit", ref, capability: cap, input: encodePayload(null), ...fields });
        const err = await ctx.error(peer, "bad_frame", ref);
        checkEqual([err.details?.type, err.details?.path], ["submit", path], `bad_frame details [type, path] for a submit with a ${what} ${path}`);
      }
      const ref = ctx.uniq("m");
      peer.send({ type: "send", to: agent.registered.agent_id, payload: encodePayload(1), ref, traceparent: "00-4bf92f35" });
      const err = await ctx.error(peer, "bad_frame", ref);
      checkEqual([err.details?.type, err.details?.path], ["send", "traceparent"], "bad_frame details [type, path] for a send with a short traceparent");
      await ctx.sync(agent.peer);
      checkEqual([agent.peer.all("task").length, agent.peer.all("message").length], [0, 0], "tasks and messages routed from refused frames");
    },
  }),
];
