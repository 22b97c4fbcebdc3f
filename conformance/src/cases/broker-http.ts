/** Broker cases: the HTTP API (SPEC §15). They skip when no HTTP base URL is known. */
import { TERMINAL_TASK_STATES, decodePayload, type TaskState } from "@agentwire/wire";
import { Skip, check, checkEqual, type Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

/** One HTTP request to the broker under test (skips the case without an HTTP base URL). */
export async function http(ctx: BrokerCtx, method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: unknown; text: string; type: string }> {
  if (ctx.http === undefined) throw new Skip("no HTTP base URL (--http)");
  const init: RequestInit = { method, signal: AbortSignal.timeout(ctx.timeoutMs * 2) };
  if (body !== undefined || raw !== undefined) {
    init.body = raw ?? JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(new URL(path, ctx.http), init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, type: res.headers.get("content-type") ?? "" };
}

export const errorCode = (json: unknown): unknown => (json as { error?: { code?: unknown } } | undefined)?.error?.code;

export const httpCases: C[] = [
  b({
    id: "broker.http.health",
    title: "/livez and /readyz answer 200, /metrics is Prometheus text 0.0.4",
    spec: ["HTTP-13", "HTTP-14"],
    level: "MUST",
    async run(ctx) {
      checkEqual((await http(ctx, "GET", "/livez")).status, 200, "/livez status");
      checkEqual((await http(ctx, "GET", "/readyz")).status, 200, "/readyz status");
      const m = await http(ctx, "GET", "/metrics");
      checkEqual(m.status, 200, "/metrics status");
      check(m.type.startsWith("text/plain") && m.type.includes("0.0.4"), `/metrics content-type ${m.type}`);
    },
  }),
  b({
    id: "broker.http.errors",
    title: "unknown routes get 404 not_found, bad JSON 400 bad_frame, in the error body shape",
    spec: ["HTTP-2", "HTTP-3"],
    level: "MUST",
    async run(ctx) {
      const nf = await http(ctx, "GET", "/v1/nothing-here");
      checkEqual([nf.status, errorCode(nf.json)], [404, "not_found"], "unknown route [status, code]");
      const bad = await http(ctx, "POST", "/v1/tasks", undefined, "{not json");
      checkEqual([bad.status, errorCode(bad.json)], [400, "bad_frame"], "bad JSON [status, code]");
      check(typeof (bad.json as { error: { message?: unknown } }).error.message === "string", "error body without message");
      const none = await http(ctx, "POST", "/v1/tasks", { capability: ctx.uniq("nobody") });
      checkEqual([none.status, errorCode(none.json)], [503, "no_agents"], "no agents [status, code]");
    },
  }),
  b({
    id: "broker.http.tasks",
    title: "POST /v1/tasks submits (202, or 200 with ?wait), JSON converts both ways, GET and DELETE work",
    spec: ["HTTP-4", "HTTP-5", "HTTP-6", "HTTP-7", "HTTP-8", "HTTP-9", "HTTP-10"],
    level: "MUST",
    async run(ctx) {
      if (ctx.http === undefined) throw new Skip("no HTTP base URL (--http)");
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const posted = await http(ctx, "POST", "/v1/tasks", { capability: cap, input: { n: 1, f: 1.5, s: "x", l: [null, true] } });
      checkEqual(posted.status, 202, "POST status");
      const taskId = (posted.json as { task_id: string }).task_id;
      const task = await agent.peer.next("task", (t) => t.task_id === taskId);
      checkEqual(decodePayload(task.input), { n: 1, f: 1.5, s: "x", l: [null, true] }, "input converted from JSON");
      agent.peer.send({ type: "result", task_id: taskId, ok: true, output: Buffer.from([0x82, 0xa1, 0x62, 0xc4, 0x02, 0x01, 0x02, 0xa1, 0x6e, 0x07]) });
      await ctx.sync(agent.peer);
      let view = await http(ctx, "GET", `/v1/tasks/${taskId}`);
      // Across brokers of a mesh the result travels from the agent's broker back to the one that
      // accepted the task: its view may still show the task open for a moment.
      for (const until = Date.now() + ctx.timeoutMs; ctx.acrossBrokers && view.status === 200 && !TERMINAL_TASK_STATES.has((view.json as { state: TaskState }).state) && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 20));
        view = await http(ctx, "GET", `/v1/tasks/${taskId}`);
      }
      checkEqual(view.status, 200, "GET status");
      const v = view.json as { state: string; ok: boolean; output: unknown };
      checkEqual([v.state, v.ok, v.output], ["succeeded", true, { b: "AQI=", n: 7 }], "task view [state, ok, output]");
      const waiting = http(ctx, "POST", "/v1/tasks?wait=10000", { capability: cap, input: "w" });
      const t2 = await agent.peer.next("task", (t) => t.task_id !== taskId);
      agent.peer.send({ type: "result", task_id: t2.task_id, ok: false, error: { code: "nope", message: "no" } });
      const waited = await waiting;
      checkEqual([waited.status, (waited.json as { ok: boolean }).ok, errorCode(waited.json)], [200, false, "nope"], "wait answer [status, ok, error.code]");
      const t3 = await http(ctx, "POST", "/v1/tasks", { capability: cap });
      const id3 = (t3.json as { task_id: string }).task_id;
      await agent.peer.next("task", (t) => t.task_id === id3);
      const del = await http(ctx, "DELETE", `/v1/tasks/${id3}`);
      checkEqual([del.status, (del.json as { state: string }).state], [200, "cancelled"], "DELETE [status, state]");
      await agent.peer.next("cancel", (c) => c.task_id === id3);
      const missing = await http(ctx, "GET", `/v1/tasks/${ctx.uniq("nope")}`);
      checkEqual([missing.status, errorCode(missing.json)], [404, "unknown_task"], "unknown task [status, code]");
    },
  }),
  b({
    id: "broker.http.agents-publish",
    title: "GET /v1/agents answers like query; POST /v1/publish delivers the converted body from the broker (from_broker) and counts the sessions it reached",
    spec: ["HTTP-11", "HTTP-12", "MESH-6", "MSG-7"],
    level: "MUST",
    async run(ctx) {
      if (ctx.http === undefined) throw new Skip("no HTTP base URL (--http)");
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const list = await http(ctx, "GET", `/v1/agents?capability=${cap}`);
      checkEqual((list.json as { agents: { agent_id: string }[] }).agents.map((a) => a.agent_id), [agent.registered.agent_id], "agents listed");
      const topic = `${ctx.uniq("t")}.http`;
      const listener = await ctx.client("listener");
      for (const peer of [agent.peer, listener.peer]) {
        peer.send({ type: "subscribe", topic, ref: "s" });
        await peer.next("ack");
      }
      const pub = await http(ctx, "POST", `/v1/publish/${topic}`, { hello: [1, 2] });
      // Both subscribers get the message; the count is of the sessions on the broker that received
      // the POST, which in a mesh leaves out the agent when it is on another broker (MESH-6).
      checkEqual([pub.status, (pub.json as { delivered: number }).delivered], [202, ctx.acrossBrokers ? 1 : 2], "publish [status, delivered]");
      for (const peer of [agent.peer, listener.peer]) {
        const msg = await peer.next("message", (m) => m.topic === topic);
        checkEqual(decodePayload(msg.payload), { hello: [1, 2] }, `published payload (${peer.label})`);
        // The broker that took the POST is the listener's; a mesh's other brokers pass its id on.
        check(msg.from_broker === true, `message.from_broker is ${msg.from_broker} for an HTTP publish (${peer.label})`);
        if (peer === listener.peer) checkEqual(msg.from, listener.registered.broker_id, "message.from of an HTTP publish");
      }
    },
  }),
];
