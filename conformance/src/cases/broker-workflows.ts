/**
 * Broker cases: workflows (SPEC §21). Workflows are optional for a broker: one that answers `run` with
 * unknown_type skips them. The agents here are raw peers answering `task` frames by hand (on a mesh,
 * on the other broker, so each step's task crosses brokers); the client speaks `run` frames.
 */
import { decodePayload, encodePayload, type FrameOf } from "@agentwire/wire";
import { Skip, check, checkEqual, type Case } from "../case.js";
import type { BrokerCtx, Session } from "../broker-ctx.js";
import { http } from "./broker-http.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

type Definition = Record<string, unknown> & { steps: Array<Record<string, unknown>> };
const definition = (ctx: BrokerCtx, steps: Definition["steps"], extra: Record<string, unknown> = {}): Definition => ({ workflow: 1, name: ctx.uniq("wf"), version: "1.0.0", steps, ...extra });

/** Sends `run`; resolves with run_accepted, or throws Skip on a broker without workflows. */
async function start(ctx: BrokerCtx, s: Session, workflow: unknown, input: unknown): Promise<string> {
  const answer = await send(ctx, s, workflow, input);
  check(answer.type === "run_accepted", `run was answered ${answer.type === "error" ? `${answer.code}: ${answer.message}` : answer.type}, expected run_accepted`);
  return answer.run_id;
}

async function send(ctx: BrokerCtx, s: Session, workflow: unknown, input: unknown): Promise<FrameOf<"run_accepted"> | FrameOf<"error">> {
  const ref = ctx.uniq("run");
  s.peer.send({ type: "run", ref, workflow: workflow as Record<string, unknown>, input: encodePayload(input) });
  const answer = (await s.peer.nextAny((f) => (f.type === "run_accepted" || f.type === "error") && f.ref === ref, ctx.timeoutMs, `the answer to run ${ref}`)) as FrameOf<"run_accepted"> | FrameOf<"error">;
  if (answer.type === "error" && answer.code === "unknown_type") throw new Skip("the broker does not offer workflows (§21 is optional; it answered run with unknown_type)");
  return answer;
}

const result = (ctx: BrokerCtx, s: Session, runId: string, wait = ctx.timeoutMs * 2): Promise<FrameOf<"run_result">> => s.peer.next("run_result", (f) => f.run_id === runId, wait, `run_result of ${runId}`);
const task = (ctx: BrokerCtx, s: Session, capability: string): Promise<FrameOf<"task">> => s.peer.next("task", (t) => t.capability === capability, ctx.timeoutMs * 2, `a task of ${capability}`);
const ok = (s: Session, t: FrameOf<"task">, output: unknown): void => s.peer.send({ type: "result", task_id: t.task_id, ok: true, output: encodePayload(output), attempt: t.attempt });
const fail = (s: Session, t: FrameOf<"task">, code: string): void => s.peer.send({ type: "result", task_id: t.task_id, ok: false, error: { code, message: `${code} (conformance)`, retryable: false }, attempt: t.attempt });

export const workflowCases: C[] = [
  b({
    id: "broker.workflow.sequence",
    title: "a two-step run: run_accepted, each step a task with its mapped input, run_events in order, run_result with the output mapping",
    spec: ["WF-7", "WF-9", "WF-13", "WF-17", "WF-18", "WF-19", "WF-22"],
    level: "MUST",
    async run(ctx) {
      const [first, second] = [ctx.uniq("cap"), ctx.uniq("cap")];
      const agent = await ctx.agent([first, second]);
      const client = await ctx.client();
      const runId = await start(ctx, client, definition(ctx, [
        { id: "a", capability: first, input: { x: { $ref: "/input/x" } } },
        { id: "b", capability: second, after: ["a"], input: { got: { $ref: "/steps/a/output/y" }, text: { $tpl: "x=${/input/x}" } } },
      ], { output: { a: { $ref: "/steps/a/output" }, b: { $ref: "/steps/b/output" } } }), { x: 2 });
      const t1 = await task(ctx, agent, first);
      checkEqual([decodePayload(t1.input), t1.attempt], [{ x: 2 }, 1], "the first step's task [input, attempt]");
      check(agent.peer.take("task", (t) => t.capability === second) === undefined, "the second step's task came before the first step ended");
      ok(agent, t1, { y: 20 });
      const t2 = await task(ctx, agent, second);
      checkEqual(decodePayload(t2.input), { got: 20, text: "x=2" }, "the second step's input (its mapping)");
      ok(agent, t2, "done");
      const r = await result(ctx, client, runId);
      checkEqual([r.ok, r.output === undefined ? undefined : decodePayload(r.output)], [true, { a: { y: 20 }, b: "done" }], "run_result [ok, output]");
      const events = client.peer.takeAll("run_event", (e) => e.run_id === runId).map((e) => `${e.event}${e.step === undefined ? "" : `:${e.step}`}`);
      checkEqual(events, ["workflow.started", "workflow.step.started:a", "workflow.step.succeeded:a", "workflow.step.started:b", "workflow.step.succeeded:b", "workflow.completed"], "the run_events before run_result");
    },
  }),
  b({
    id: "broker.workflow.bad-definition",
    title: "bad definitions get bad_workflow with details.path (cycle, duplicate id, after naming no step, too many steps); an unregistered name gets unknown_workflow",
    spec: ["WF-2", "WF-3", "WF-4"],
    level: "MUST",
    async run(ctx) {
      const client = await ctx.client();
      const expect = async (workflow: unknown, code: string, path: string | undefined, what: string): Promise<void> => {
        const answer = await send(ctx, client, workflow, null);
        checkEqual(answer.type === "error" ? [answer.code, path === undefined ? undefined : answer.details?.path] : [answer.type], [code, path], `the answer to ${what} [code, details.path]`);
      };
      await expect(definition(ctx, [{ id: "a", capability: "c", after: ["b"] }, { id: "b", capability: "c", after: ["a"] }]), "bad_workflow", "steps.0.after", "a cycle");
      await expect(definition(ctx, [{ id: "a", capability: "c" }, { id: "a", capability: "c" }]), "bad_workflow", "steps.1.id", "a duplicate step id");
      await expect(definition(ctx, [{ id: "a", capability: "c", after: ["zz"] }]), "bad_workflow", "steps.0.after.0", "after naming no step");
      await expect(definition(ctx, Array.from({ length: 257 }, (_, i) => ({ id: `s${i}`, capability: "c" }))), "bad_workflow", "steps", "257 steps");
      await expect({ name: ctx.uniq("never-registered") }, "unknown_workflow", undefined, "a workflow name nobody registered");
    },
  }),
  b({
    id: "broker.workflow.retry",
    title: "a failed attempt is retried after the policy's delay as the task's next attempt; a non-retryable code ends the step at once",
    spec: ["WF-11", "WF-12", "WF-13"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const client = await ctx.client();
      const runId = await start(ctx, client, definition(ctx, [{ id: "s", capability: cap, retry: { max_attempts: 3, initial_interval_ms: 300, non_retryable: ["fatal_code"] } }]), null);
      const t1 = await task(ctx, agent, cap);
      const failedAt = Date.now();
      fail(agent, t1, "flaky_code");
      const t2 = await task(ctx, agent, cap);
      check(Date.now() - failedAt >= 290, `the second attempt came ${Date.now() - failedAt} ms after the failure, before the policy's 300 ms`);
      checkEqual([t1.attempt, t2.attempt], [1, 2], "task.attempt of the two attempts");
      fail(agent, t2, "fatal_code");
      const r = await result(ctx, client, runId);
      checkEqual([r.ok, r.error?.code], [false, "fatal_code"], "run_result [ok, error.code] after a non-retryable code");
      const retrying = client.peer.takeAll("run_event", (e) => e.run_id === runId && e.event === "workflow.step.retrying");
      checkEqual(retrying.map((e) => [e.attempt, e.delay_ms, e.error?.code]), [[1, 300, "flaky_code"]], "workflow.step.retrying events [attempt, delay_ms, error.code]");
      check(agent.peer.take("task", (t) => t.capability === cap) === undefined, "a third attempt after a non-retryable code");
    },
  }),
  b({
    id: "broker.workflow.fail-cancels",
    title: "a step failing with on_failure fail fails the run: the sibling still running is cancelled (its agent gets cancel) and its dependent never starts",
    spec: ["WF-9", "WF-10"],
    level: "MUST",
    async run(ctx) {
      const [slow, bad, after] = [ctx.uniq("cap"), ctx.uniq("cap"), ctx.uniq("cap")];
      const agent = await ctx.agent([slow, bad, after]);
      const client = await ctx.client();
      const runId = await start(ctx, client, definition(ctx, [
        { id: "slow", capability: slow },
        { id: "bad", capability: bad, on_failure: "fail" },
        { id: "join", capability: after, after: ["slow", "bad"] },
      ]), null);
      const held = await task(ctx, agent, slow);
      fail(agent, await task(ctx, agent, bad), "bad_code");
      await agent.peer.next("cancel", (c) => c.task_id === held.task_id, ctx.timeoutMs * 2, "cancel of the sibling still running");
      const r = await result(ctx, client, runId);
      checkEqual([r.ok, r.error?.code], [false, "bad_code"], "run_result [ok, error.code]");
      check(agent.peer.take("task", (t) => t.capability === after) === undefined, "the dependent of a failed step started");
    },
  }),
  b({
    id: "broker.workflow.compensate",
    title: "on_failure compensate runs the compensation step once with the failed step's error in its context, then fails the run; continue lets the run go on",
    spec: ["WF-6", "WF-10"],
    level: "MUST",
    async run(ctx) {
      const [bad, undo, soft, last] = [ctx.uniq("cap"), ctx.uniq("cap"), ctx.uniq("cap"), ctx.uniq("cap")];
      const agent = await ctx.agent([bad, undo, soft, last]);
      const client = await ctx.client();
      const comp = await start(ctx, client, definition(ctx, [
        { id: "charge", capability: bad, on_failure: { compensate: "refund" } },
        { id: "refund", capability: undo, input: { why: { $ref: "/steps/charge/error/code" } } },
      ]), null);
      fail(agent, await task(ctx, agent, bad), "card_declined");
      const refund = await task(ctx, agent, undo);
      checkEqual(decodePayload(refund.input), { why: "card_declined" }, "the compensation step's input");
      ok(agent, refund, "refunded");
      const r1 = await result(ctx, client, comp);
      checkEqual([r1.ok, r1.error?.code], [false, "card_declined"], "run_result of a compensated run [ok, error.code]");
      const cont = await start(ctx, client, definition(ctx, [
        { id: "soft", capability: soft, on_failure: "continue" },
        { id: "last", capability: last, after: ["soft"], join: "all_settled", input: { $ref: "/steps/soft/error/code" } },
      ]), null);
      fail(agent, await task(ctx, agent, soft), "soft_code");
      const t = await task(ctx, agent, last);
      checkEqual(decodePayload(t.input), "soft_code", "the all_settled step's input (the failed step's error code)");
      ok(agent, t, "fine");
      const r2 = await result(ctx, client, cont);
      checkEqual([r2.ok, r2.output === undefined ? undefined : decodePayload(r2.output)], [true, "fine"], "run_result after continue [ok, output]");
    },
  }),
  b({
    id: "broker.workflow.limit",
    title: "a step output larger than limits.max_step_output_bytes fails the run with limit_exceeded naming the limit",
    spec: ["WF-14"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const client = await ctx.client();
      const runId = await start(ctx, client, definition(ctx, [{ id: "s", capability: cap }], { limits: { max_step_output_bytes: 100 } }), null);
      ok(agent, await task(ctx, agent, cap), "x".repeat(500));
      const r = await result(ctx, client, runId);
      checkEqual([r.ok, r.error?.code, r.error?.details?.limit], [false, "limit_exceeded", "max_step_output_bytes"], "run_result [ok, error.code, error.details.limit]");
    },
  }),
  b({
    id: "broker.workflow.cancel-watch",
    title: "run_watch from another session is acked and gets the result; run_cancel is acked, cancels the running step's task and ends the run cancelled; unknown run ids get unknown_run",
    spec: ["WF-20", "WF-21", "WF-19"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const client = await ctx.client();
      const watcher = await ctx.client("watcher");
      const runId = await start(ctx, client, definition(ctx, [{ id: "s", capability: cap }]), null);
      const held = await task(ctx, agent, cap);
      const wref = ctx.uniq("watch");
      watcher.peer.send({ type: "run_watch", ref: wref, run_id: runId });
      await watcher.peer.next("ack", (a) => a.ref === wref, ctx.timeoutMs, "ack of run_watch");
      const cref = ctx.uniq("cancel");
      client.peer.send({ type: "run_cancel", ref: cref, run_id: runId });
      await client.peer.next("ack", (a) => a.ref === cref, ctx.timeoutMs, "ack of run_cancel");
      await agent.peer.next("cancel", (c) => c.task_id === held.task_id, ctx.timeoutMs * 2, "cancel of the running step's task");
      for (const s of [client, watcher]) {
        const r = await result(ctx, s, runId);
        checkEqual([r.ok, r.error?.code], [false, "cancelled"], "run_result of a cancelled run [ok, error.code]");
      }
      const uref = ctx.uniq("watch");
      watcher.peer.send({ type: "run_watch", ref: uref, run_id: ctx.uniq("no-such-run") });
      const unknown = await watcher.peer.next("error", (e) => e.ref === uref, ctx.timeoutMs, "the answer to run_watch of an unknown run");
      checkEqual(unknown.code, "unknown_run", "the error code for an unknown run id");
    },
  }),
  b({
    id: "broker.workflow.quiet-watch",
    title: "run with watch false gets no run_event but its run_result; run_watch of a run that ended is acked and answered with its run_result at once",
    spec: ["WF-18", "WF-19", "WF-21"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const client = await ctx.client();
      const ref = ctx.uniq("run");
      client.peer.send({ type: "run", ref, workflow: definition(ctx, [{ id: "s", capability: cap }]), input: encodePayload(1), watch: false });
      const answer = (await client.peer.nextAny((f) => (f.type === "run_accepted" || f.type === "error") && f.ref === ref, ctx.timeoutMs, `the answer to run ${ref}`)) as FrameOf<"run_accepted"> | FrameOf<"error">;
      if (answer.type === "error" && answer.code === "unknown_type") throw new Skip("the broker does not offer workflows (§21 is optional; it answered run with unknown_type)");
      check(answer.type === "run_accepted", `run was answered ${answer.type === "error" ? `${answer.code}: ${answer.message}` : answer.type}, expected run_accepted`);
      ok(agent, await task(ctx, agent, cap), "quiet");
      const r = await result(ctx, client, answer.run_id);
      checkEqual([r.ok, r.output === undefined ? undefined : decodePayload(r.output)], [true, "quiet"], "run_result of a run started with watch false [ok, output]");
      checkEqual(client.peer.all("run_event", (e) => e.run_id === answer.run_id).length, 0, "run_events sent for a run started with watch false");
      const late = await ctx.client("late-watcher");
      const wref = ctx.uniq("watch");
      late.peer.send({ type: "run_watch", ref: wref, run_id: answer.run_id });
      await late.peer.next("ack", (a) => a.ref === wref, ctx.timeoutMs, "ack of run_watch of an ended run");
      const again = await result(ctx, late, answer.run_id);
      checkEqual([again.ok, again.output === undefined ? undefined : decodePayload(again.output)], [true, "quiet"], "run_result sent to a watcher of an ended run [ok, output]");
    },
  }),
  b({
    id: "broker.workflow.http",
    title: "PUT /v1/workflows/{name} registers (201, then 200 for the same body, 409 workflow_exists for another); a run by name over HTTP is 202 and readable at GET /v1/runs/{id}",
    spec: ["WF-5", "WF-23", "WF-24"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const d = definition(ctx, [{ id: "s", capability: cap }]);
      const put = await http(ctx, "PUT", `/v1/workflows/${d.name as string}`, d);
      if (put.status === 404) throw new Skip("the broker does not offer the workflow HTTP routes (WF-23 is a SHOULD)");
      checkEqual(put.status, 201, "PUT of a new definition");
      checkEqual((await http(ctx, "PUT", `/v1/workflows/${d.name as string}`, d)).status, 200, "PUT of the same definition again");
      const other = await http(ctx, "PUT", `/v1/workflows/${d.name as string}`, { ...d, description: "another" });
      checkEqual([other.status, (other.json as { error?: { code?: string } } | undefined)?.error?.code], [409, "workflow_exists"], "PUT of another definition for the name and version [status, code]");
      const started = await http(ctx, "POST", `/v1/workflows/${d.name as string}/runs`, { input: { k: 1 } });
      checkEqual(started.status, 202, "POST /v1/workflows/{name}/runs status");
      const runId = (started.json as { run_id: string }).run_id;
      const t = await task(ctx, agent, cap);
      checkEqual(decodePayload(t.input), { k: 1 }, "the step's input (the workflow input, by default)");
      ok(agent, t, { v: 1 });
      let view: { state?: string; steps?: Record<string, { state: string; attempts: number }>; output?: unknown } = {};
      for (const until = Date.now() + ctx.timeoutMs * 2; Date.now() < until && view.state !== "completed"; ) {
        view = (await http(ctx, "GET", `/v1/runs/${runId}`)).json as typeof view;
        if (view.state !== "completed") await new Promise((resolve) => setTimeout(resolve, 50));
      }
      checkEqual([view.state, view.steps?.s?.state, view.steps?.s?.attempts, view.output], ["completed", "succeeded", 1, { v: 1 }], "GET /v1/runs/{id} [state, steps.s.state, steps.s.attempts, output]");
    },
  }),
];
