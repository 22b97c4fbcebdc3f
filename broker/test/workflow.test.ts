/**
 * Workflows run by a real broker process [SPEC §21] over real agents (SDK createAgent) and a raw
 * client (the test peer speaking `run` frames): sequence, retries with backoff, non-retryable codes,
 * compensation, fan-out with joins and cancellation of siblings, limits, bad definitions, HTTP.
 */
import { AgentwireError, createAgent, decodePayload, encodePayload, type Agent, type RunEvent, type WorkflowDefinition } from "@agentwire/sdk";
import { startBroker, waitFor, type BrokerProcess } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const logger = pino({ level: "silent" });
const backoff = { minMs: 20, maxMs: 250 };

let broker: BrokerProcess;
let client: Peer;
const agents: Agent[] = [];
/** Executions per capability and key, counted by the agents. */
const runs = new Map<string, number>();
/** Attempts the `flaky` agent saw, with when each started. */
const flakyStarts: Array<{ attempt: number; at: number }> = [];
/** Tasks of `slow` whose handler saw the cancel. */
const cancelled: string[] = [];
const count = (k: string): void => void runs.set(k, (runs.get(k) ?? 0) + 1);

beforeAll(async () => {
  broker = await startBroker();
  const agent = createAgent({ url: broker.url, name: "workers", logger, backoff })
    .capability("market_analyzer", { input: z.object({ symbol: z.string() }) }, async (input) => {
      count(`analyze:${input.symbol}`);
      return { symbol: input.symbol, trend: "up", price: 42 };
    })
    .capability("assess_risk", { input: z.object({ trend: z.string(), price: z.number() }) }, async (input) => ({ risk: input.trend === "up" ? "low" : "high", limit: input.price * 10 }))
    .capability("execute", { input: z.unknown() }, async (input) => ({ executed: true, order: input }))
    .capability("flaky", { input: z.object({ failures: z.number(), key: z.string() }) }, async (input, ctx) => {
      flakyStarts.push({ attempt: ctx.task.attempt, at: Date.now() });
      count(`flaky:${input.key}`);
      if ((runs.get(`flaky:${input.key}`) ?? 0) <= input.failures) throw new AgentwireError("upstream_down", `failure ${runs.get(`flaky:${input.key}`)}`);
      return { attempt: ctx.task.attempt };
    })
    .capability("fail", { input: z.unknown() }, async () => {
      throw new AgentwireError("bad_order", "the order is refused");
    })
    .capability("undo", { input: z.unknown() }, async (input) => {
      count("undo");
      return { undone: input };
    })
    .capability("slow", { input: z.unknown() }, (_input, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          cancelled.push(ctx.task.id);
          reject(ctx.signal.reason);
        });
      }),
    )
    .capability("big", { input: z.object({ bytes: z.number() }) }, async (input) => ({ blob: "x".repeat(input.bytes) }))
    .capability("echo", { input: z.unknown() }, async (input) => input);
  await agent.start();
  agents.push(agent);
  client = await Peer.register(broker.url, { name: "wf-client" }, { waitMs: 20_000 });
});

afterAll(async () => {
  await client?.close();
  for (const a of agents) await a.drain();
  await broker?.stop();
});

const def = (name: string, steps: WorkflowDefinition["steps"], extra: Partial<WorkflowDefinition> = {}): WorkflowDefinition => ({ workflow: 1, name, version: "1.0.0", steps, ...extra });

let refs = 0;
/** Starts a run over the peer; resolves with its id, events and result once it ended. */
async function run(workflow: unknown, input: unknown): Promise<{ runId: string; events: RunEvent[]; ok: boolean; output: unknown; error: { code: string; message: string; details?: Record<string, unknown> } | undefined }> {
  const ref = `w${++refs}`;
  client.send({ type: "run", ref, workflow: workflow as Record<string, unknown>, input: encodePayload(input) });
  const accepted = await client.next("run_accepted", (f) => f.ref === ref);
  const result = await client.next("run_result", (f) => f.run_id === accepted.run_id, 30_000);
  const events = client.takeAll("run_event", (e) => e.run_id === accepted.run_id);
  return { runId: accepted.run_id, events, ok: result.ok, output: result.output === undefined ? undefined : decodePayload(result.output), error: result.error };
}

const http = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
  const res = await fetch(`${broker.http}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

describe("workflows on one broker", () => {
  it("runs analyze -> assess risk -> execute; the output is the mapping of step outputs [WF-7, WF-13, WF-19]", async () => {
    const r = await run(
      def("trade", [
        { id: "analyze", capability: "market_analyzer", input: { symbol: { $ref: "/input/symbol" } } },
        { id: "risk", capability: "assess_risk", after: ["analyze"], input: { $ref: "/steps/analyze/output" } },
        { id: "execute", capability: "execute", after: ["risk"], input: { symbol: { $ref: "/input/symbol" }, limit: { $ref: "/steps/risk/output/limit" } } },
      ], { output: { analysis: { $ref: "/steps/analyze/output" }, risk: { $ref: "/steps/risk/output/risk" }, order: { $ref: "/steps/execute/output/order" }, note: { $tpl: "${/input/symbol} at ${/steps/analyze/output/price}" } } }),
      { symbol: "SOL" },
    );
    expect(r.ok).toBe(true);
    expect(r.output).toEqual({ analysis: { symbol: "SOL", trend: "up", price: 42 }, risk: "low", order: { symbol: "SOL", limit: 420 }, note: "SOL at 42" });
    expect(r.events.map((e) => `${e.event}${e.step === undefined ? "" : ` ${e.step}`}`)).toEqual([
      "workflow.started",
      "workflow.step.started analyze",
      "workflow.step.succeeded analyze",
      "workflow.step.started risk",
      "workflow.step.succeeded risk",
      "workflow.step.started execute",
      "workflow.step.succeeded execute",
      "workflow.completed",
    ]);
    expect(r.events.find((e) => e.event === "workflow.step.started")?.task_id).toMatch(/./);
    // The run's view over HTTP and its events in the store, stream workflow-<id> [WF-22, WF-24].
    const view = await http("GET", `/v1/runs/${r.runId}`);
    expect(view.body).toMatchObject({ run_id: r.runId, workflow: { name: "trade", version: "1.0.0" }, state: "completed", output: r.output, steps: { analyze: { state: "succeeded", attempts: 1 }, execute: { state: "succeeded" } } });
    const replay = await fetch(`${broker.http}/v1/events?limit=1000`).then((res) => res.text());
    const mine = replay.trim().split("\n").map((l) => JSON.parse(l) as { stream: string; type: string }).filter((e) => e.stream === `workflow-${r.runId}`);
    expect(mine.map((e) => e.type)).toEqual(r.events.map((e) => e.event));
  });

  it("retries a step with the policy's backoff; the agent sees each attempt's number [WF-11, WF-12, WF-13]", async () => {
    flakyStarts.length = 0;
    const r = await run(def("retry", [{ id: "f", capability: "flaky", retry: { max_attempts: 3, initial_interval_ms: 300, backoff_factor: 2 } }]), { failures: 2, key: "retry" });
    expect(r.ok).toBe(true);
    expect(r.output).toEqual({ attempt: 3 });
    expect(flakyStarts.map((s) => s.attempt)).toEqual([1, 2, 3]);
    const retrying = r.events.filter((e) => e.event === "workflow.step.retrying");
    expect(retrying.map((e) => [e.attempt, e.delay_ms, e.error?.code])).toEqual([[1, 300, "upstream_down"], [2, 600, "upstream_down"]]);
    const started = r.events.filter((e) => e.event === "workflow.step.started");
    expect(started.map((e) => e.attempt)).toEqual([1, 2, 3]);
    // Each attempt starts no sooner than its delay after the failure before it (a busy machine only adds).
    for (let i = 0; i < 2; i++) {
      expect(started[i + 1]!.at - retrying[i]!.at).toBeGreaterThanOrEqual(retrying[i]!.delay_ms!);
      expect(flakyStarts[i + 1]!.at - flakyStarts[i]!.at).toBeGreaterThanOrEqual(retrying[i]!.delay_ms!);
      // ... and not long after it: the delay is a timer, not a poll (a generous bound for a busy machine).
      expect(started[i + 1]!.at - retrying[i]!.at).toBeLessThan(retrying[i]!.delay_ms! + 3_000);
    }
  });

  it("spreads each delay by the policy's jitter [WF-12]", async () => {
    const r = await run(def("jitter", [{ id: "f", capability: "flaky", retry: { max_attempts: 4, initial_interval_ms: 200, backoff_factor: 1, jitter: 0.5 } }]), { failures: 3, key: "jitter" });
    expect(r.ok).toBe(true);
    const delays = r.events.filter((e) => e.event === "workflow.step.retrying").map((e) => e.delay_ms!);
    expect(delays).toHaveLength(3);
    for (const d of delays) expect(d >= 100 && d <= 300, `delay ${d}`).toBe(true);
  });

  it("fails the run at once on a non-retryable code [WF-11]", async () => {
    const r = await run(def("nonretry", [{ id: "f", capability: "fail", retry: { max_attempts: 5, initial_interval_ms: 10, non_retryable: ["bad_order"] } }]), {});
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("bad_order");
    expect(r.events.filter((e) => e.event === "workflow.step.started")).toHaveLength(1);
    expect(r.events.some((e) => e.event === "workflow.step.retrying")).toBe(false);
    expect(r.events.at(-1)?.event).toBe("workflow.failed");
  });

  it("runs the compensation step once, then fails the run with the step's error [WF-10]", async () => {
    const before = runs.get("undo") ?? 0;
    const r = await run(
      def("compensate", [
        { id: "order", capability: "echo", input: { id: 7 } },
        { id: "charge", capability: "fail", after: ["order"], on_failure: { compensate: "refund" } },
        { id: "refund", capability: "undo", input: { order: { $ref: "/steps/order/output" }, why: { $ref: "/steps/charge/error/code" } } },
      ]),
      {},
    );
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("bad_order");
    expect(runs.get("undo")).toBe(before + 1);
    expect(r.events.filter((e) => e.step === "refund").map((e) => e.event)).toEqual(["workflow.step.started", "workflow.step.succeeded"]);
    const view = await http("GET", `/v1/runs/${r.runId}`);
    expect(view.body.steps).toMatchObject({ order: { state: "succeeded" }, charge: { state: "failed" }, refund: { state: "succeeded" } });
  });

  it("fan-out of 3 joined with all: one branch fails, the others are cancelled and their agents see it [WF-9, WF-10]", async () => {
    const seen = cancelled.length;
    const r = await run(
      def("fanout", [
        { id: "a", capability: "slow" },
        { id: "b", capability: "slow" },
        { id: "c", capability: "fail", after: ["a0"] },
        { id: "a0", capability: "echo" },
        { id: "join", capability: "echo", after: ["a", "b", "c"] },
      ]),
      {},
    );
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("bad_order");
    await waitFor(() => (cancelled.length >= seen + 2 ? true : undefined), 10_000, "both slow branches to see their cancel");
    const view = await http("GET", `/v1/runs/${r.runId}`);
    expect(view.body.steps).toMatchObject({ a: { state: "cancelled" }, b: { state: "cancelled" }, c: { state: "failed" }, join: { state: "skipped" } });
    expect(r.events.filter((e) => e.event === "workflow.step.cancelled").map((e) => e.step).sort()).toEqual(["a", "b"]);
  });

  it("with all_settled the run goes on past a failed branch, whose error the join sees [WF-9]", async () => {
    const r = await run(
      def("settled", [
        { id: "a", capability: "echo", input: 1 },
        { id: "b", capability: "fail" },
        { id: "c", capability: "echo", input: 3 },
        { id: "join", capability: "echo", after: ["a", "b", "c"], join: "all_settled", input: { a: { $ref: "/steps/a/output" }, b: { $ref: "/steps/b/error/code" }, c: { $ref: "/steps/c/output" } } },
      ]),
      {},
    );
    expect(r.ok).toBe(true);
    expect(r.output).toEqual({ a: 1, b: "bad_order", c: 3 });
  });

  it("a quorum join runs once enough branches succeeded and cancels the rest [WF-9]", async () => {
    const r = await run(
      def("quorum", [
        { id: "a", capability: "echo", input: "a" },
        { id: "b", capability: "echo", input: "b" },
        { id: "c", capability: "slow" },
        { id: "join", capability: "echo", after: ["a", "b", "c"], join: { quorum: 2 }, input: [{ $ref: "/steps/a/output" }, { $ref: "/steps/b/output" }] },
      ]),
      {},
    );
    expect(r.ok).toBe(true);
    expect(r.output).toEqual(["a", "b"]);
    const view = await http("GET", `/v1/runs/${r.runId}`);
    expect(view.body.steps.c.state).toBe("cancelled");
  });

  it("an oversized step output fails the step with an error naming the limit [WF-14]", async () => {
    const r = await run(def("big", [{ id: "big", capability: "big", retry: { max_attempts: 3 } }], { limits: { max_step_output_bytes: 1000 } }), { bytes: 5000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: "limit_exceeded", details: { limit: "max_step_output_bytes", max: 1000, step: "big" } });
    expect(r.error?.message).toContain("max_step_output_bytes");
    expect(r.events.filter((e) => e.event === "workflow.step.started")).toHaveLength(1);
  });

  it("a run past limits.max_run_ms fails with limit_exceeded and its running step is cancelled [WF-14]", async () => {
    const seen = cancelled.length;
    const r = await run(def("slowrun", [{ id: "s", capability: "slow" }], { limits: { max_run_ms: 300 } }), {});
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: "limit_exceeded", details: { limit: "max_run_ms", max: 300 } });
    await waitFor(() => (cancelled.length > seen ? true : undefined), 10_000, "the step's agent to see the cancel");
  });

  it("an output that is not one MessagePack document fails the step with invalid_output [WF-7]", async () => {
    const raw = await Peer.register(broker.url, { capabilities: [{ name: "raw.bad" }] });
    raw.serve((t, p) => p.send({ type: "result", task_id: t.task_id, ok: true, output: new Uint8Array([0xc1]), attempt: t.attempt }));
    const r = await run(def("badout", [{ id: "s", capability: "raw.bad" }]), {});
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: "invalid_output", details: { step: "s" } });
    await raw.close();
  });

  it("a mapping naming a missing value fails the step without retry, naming the pointer [WF-8]", async () => {
    const r = await run(def("mapping", [{ id: "s", capability: "echo", input: { $ref: "/input/nope" }, retry: { max_attempts: 3 } }]), {});
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: "mapping_failed", details: { pointer: "/input/nope" } });
  });

  it("refuses bad definitions with bad_workflow and details.path, over WebSocket and HTTP [WF-2, WF-3]", async () => {
    client.send({ type: "run", ref: "bad1", workflow: def("cycle", [{ id: "a", capability: "echo", after: ["b"] }, { id: "b", capability: "echo", after: ["a"] }]), input: encodePayload(null) });
    expect(await client.next("error", (e) => e.ref === "bad1")).toMatchObject({ code: "bad_workflow", details: { path: "steps.0.after" } });
    client.send({ type: "run", ref: "bad2", workflow: { ...def("x", [{ id: "a", capability: "echo" }]), version: "one" }, input: encodePayload(null) });
    expect(await client.next("error", (e) => e.ref === "bad2")).toMatchObject({ code: "bad_workflow", details: { path: "version" } });
    client.send({ type: "run", ref: "bad3", workflow: { name: "never-registered" }, input: encodePayload(null) });
    expect(await client.next("error", (e) => e.ref === "bad3")).toMatchObject({ code: "unknown_workflow" });
    const res = await http("POST", "/v1/runs", { workflow: def("dup", [{ id: "a", capability: "echo" }, { id: "a", capability: "echo" }]), input: 1 });
    expect(res).toMatchObject({ status: 400, body: { error: { code: "bad_workflow" } } });
    // Larger than 256 KiB as MessagePack [WF-4].
    const big = def("big-def", Array.from({ length: 256 }, (_, i) => ({ id: `s${i}`, capability: "echo", input: "x".repeat(1100) })));
    expect(await http("POST", "/v1/runs", { workflow: big, input: 1 })).toMatchObject({ status: 400, body: { error: { code: "bad_workflow" } } });
    // An input that is not one MessagePack document [WF-17].
    client.send({ type: "run", ref: "bad4", workflow: def("x", [{ id: "a", capability: "echo" }]), input: new Uint8Array([0xc1]) });
    expect(await client.next("error", (e) => e.ref === "bad4")).toMatchObject({ code: "bad_frame", details: { path: "input" } });
  });

  it("registers definitions, starts runs by name, lists, reads and cancels them over HTTP [WF-5, WF-23, WF-24]", async () => {
    const d = def("named", [{ id: "s", capability: "slow" }]);
    expect((await http("PUT", "/v1/workflows/named", d)).status).toBe(201);
    expect((await http("PUT", "/v1/workflows/named", d)).status).toBe(200);
    expect(await http("PUT", "/v1/workflows/named", { ...d, description: "changed" })).toMatchObject({ status: 409, body: { error: { code: "workflow_exists" } } });
    expect((await http("GET", "/v1/workflows")).body.workflows).toContainEqual({ name: "named", version: "1.0.0" });
    const started = await http("POST", "/v1/workflows/named/runs", { input: { n: 1 } });
    expect(started.status).toBe(202);
    const runId = started.body.run_id as string;
    await waitFor(async () => ((await http("GET", `/v1/runs/${runId}`)).body.steps.s.state === "running" ? true : undefined), 10_000, "the step to run");
    // A watcher on another session gets the result [WF-21].
    client.send({ type: "run_watch", ref: "watch1", run_id: runId });
    await client.next("ack", (a) => a.ref === "watch1");
    const seen = cancelled.length;
    const del = await http("DELETE", `/v1/runs/${runId}`);
    expect(del.status).toBe(202);
    const result = await client.next("run_result", (f) => f.run_id === runId);
    expect(result).toMatchObject({ ok: false, error: { code: "cancelled" } });
    await waitFor(() => (cancelled.length > seen ? true : undefined), 10_000, "the step's agent to see the cancel");
    const list = await http("GET", "/v1/runs?name=named&state=cancelled");
    expect(list.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([runId]);
    expect(list.body.runs[0]).toMatchObject({ workflow: { name: "named", version: "1.0.0" }, state: "cancelled" });
    expect((await http("GET", "/v1/runs/nope")).body.error.code).toBe("unknown_run");
    // The runs so far, counted in /metrics.
    const metrics = await fetch(`${broker.http}/metrics`).then((res) => res.text());
    expect(metrics).toMatch(/^agentwire_workflow_runs_ended_total\{state="cancelled"\} [1-9]/m);
    expect(metrics).toMatch(/^agentwire_workflow_runs_ended_total\{state="completed"\} [1-9]/m);
    expect(metrics).toMatch(/^agentwire_workflow_step_retries_total [1-9]/m);
    expect(metrics).toMatch(/^agentwire_workflow_runs_running 0$/m);
    client.send({ type: "run_cancel", ref: "c9", run_id: "nope" });
    expect(await client.next("error", (e) => e.ref === "c9")).toMatchObject({ code: "unknown_run" });
  });
});
