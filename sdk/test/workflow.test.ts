/**
 * client.run against a real broker and real agents (SPEC §21): the output of a three-step flow, its
 * events through events() and onEvent, a step retried by its policy with the attempt visible to the
 * agent, cancel through an AbortSignal and through handle.cancel() (the agent sees the task's cancel),
 * watchRun from a second client, a definition registered with registerWorkflow started by name, and the broker's refusals
 * as typed errors.
 */
import { AgentwireError, BadWorkflowError, CancelledError, MappingFailedError, UnknownRunError, UnknownWorkflowError, WorkflowExistsError } from "@agentwire/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, defineCapability, ref, retry, tpl, workflow, type Agent, type Client, type WorkflowEvent } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

const Upper = defineCapability({ name: "wf.upper", input: z.object({ text: z.string() }), output: z.object({ text: z.string() }) });

describe.skipIf(!HAVE_BROKER)("client.run against the real broker", () => {
  let broker: TestBroker;
  let agent: Agent;
  let client: Client;
  /** The attempts the flaky capability saw, per key. */
  const attempts = new Map<string, number[]>();
  /** Hanging tasks by key: started with the task id, then the reason of their cancel. */
  const hanging = new Map<string, { started: ReturnType<typeof deferred<string>>; aborted: ReturnType<typeof deferred<unknown>> }>();
  const hang = (key: string) => {
    if (!hanging.has(key)) hanging.set(key, { started: deferred<string>(), aborted: deferred<unknown>() });
    return hanging.get(key)!;
  };

  beforeAll(async () => {
    broker = await sdkBroker();
    agent = createAgent({ url: broker.url, name: "wf-worker", logger, backoff })
      .capability(Upper, ({ text }) => ({ text: text.toUpperCase() }))
      .capability("wf.count", { input: z.object({ text: z.string() }) }, ({ text }) => ({ words: text.split(/\s+/).length }))
      .capability("wf.join", { input: z.unknown() }, (input) => ({ joined: input }))
      .capability("wf.flaky", { input: z.object({ key: z.string(), failures: z.number() }) }, ({ key, failures }, ctx) => {
        attempts.set(key, [...(attempts.get(key) ?? []), ctx.task.attempt]);
        if (ctx.task.attempt <= failures) throw new AgentwireError("not_yet", `not yet (attempt ${ctx.task.attempt})`);
        return { attempt: ctx.task.attempt };
      })
      // Fails once the hanging task of the same key runs: a sibling branch that fails while another runs.
      .capability("wf.fail-after", { input: z.object({ key: z.string() }) }, async ({ key }) => {
        await hang(key).started.promise;
        throw new AgentwireError("boom", `failed while ${key} runs`);
      })
      .capability("wf.hang", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
        const h = hang(key);
        h.started.resolve(ctx.task.id);
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        h.aborted.resolve(ctx.signal.reason);
        throw ctx.signal.reason;
      });
    await agent.start();
    client = await connect({ url: broker.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await broker?.stop();
  });

  it("[WF-13] [WF-16] [WF-18] [WF-19] runs three steps; the output is the mapping; events() and onEvent see every transition in order", async () => {
    const flow = workflow("words")
      .step("upper", Upper, { input: { text: ref("/input/text") } })
      .step("count", "wf.count", { input: ref("/steps/upper/output") })
      .step("report", "wf.join", { input: { line: tpl("${/steps/upper/output/text} has ${/steps/count/output/words} words") } })
      .output({ upper: ref("/steps/upper/output/text"), words: ref("/steps/count/output/words"), report: ref("/steps/report/output/joined/line") })
      .build();
    const seen: WorkflowEvent[] = [];
    const run = client.run(flow, { text: "agents run workflows" }, { onEvent: (e) => seen.push(e) });
    await expect(within(run.result, 20_000, "the run's result")).resolves.toEqual({ upper: "AGENTS RUN WORKFLOWS", words: 3, report: "AGENTS RUN WORKFLOWS has 3 words" });
    const events: WorkflowEvent[] = [];
    for await (const e of run.events()) events.push(e);
    expect(events.map((e) => [e.type, e.step, e.attempt])).toEqual([
      ["workflow.started", undefined, undefined],
      ["workflow.step.started", "upper", 1],
      ["workflow.step.succeeded", "upper", 1],
      ["workflow.step.started", "count", 1],
      ["workflow.step.succeeded", "count", 1],
      ["workflow.step.started", "report", 1],
      ["workflow.step.succeeded", "report", 1],
      ["workflow.completed", undefined, undefined],
    ]);
    expect(seen).toEqual(events);
    expect(events.filter((e) => e.type === "workflow.step.started").every((e) => typeof e.taskId === "string")).toBe(true);
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort((a, b) => a - b));
    expect(run.runId).toBe(await run.id);
    expect(run.done).toBe(true);
  });

  it("[WF-11] [WF-12] [WF-13] retries a step by its policy: the agent sees attempts 1, 2, 3, the events the delays", async () => {
    const flow = workflow("flaky").step("f", "wf.flaky", { retry: retry({ maxAttempts: 3, initialIntervalMs: 50, backoffFactor: 3 }) }).build();
    const run = client.run(flow, { key: "retry", failures: 2 });
    await expect(within(run.result, 20_000, "the run's result")).resolves.toEqual({ attempt: 3 });
    expect(attempts.get("retry")).toEqual([1, 2, 3]);
    const events: WorkflowEvent[] = [];
    for await (const e of run.events()) events.push(e);
    const retrying = events.filter((e) => e.type === "workflow.step.retrying");
    expect(retrying.map((e) => [e.attempt, e.delayMs, e.error?.code])).toEqual([
      [1, 50, "not_yet"],
      [2, 150, "not_yet"],
    ]);
    // The next attempt never starts before its delay is over (on the broker's clock; no upper bound here).
    const started = events.filter((e) => e.type === "workflow.step.started");
    expect(started.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(started[1]!.at - retrying[0]!.at).toBeGreaterThanOrEqual(50);
    expect(started[2]!.at - retrying[1]!.at).toBeGreaterThanOrEqual(150);
  });

  it("[WF-11] a code listed as non_retryable fails the run at once with the step's error", async () => {
    const flow = workflow("fatal").step("f", "wf.flaky", { retry: retry({ maxAttempts: 5, initialIntervalMs: 10, nonRetryable: ["not_yet"] }) }).build();
    const err = await within(client.run(flow, { key: "fatal", failures: 9 }).result.catch((e: AgentwireError) => e), 20_000, "the run's result");
    expect((err as AgentwireError).code).toBe("not_yet");
    expect(attempts.get("fatal")).toEqual([1]);
  });

  it("[WF-9] [WF-10] .parallel + .join(all): a failing branch fails the run and cancels its running sibling (its agent sees the cancel)", async () => {
    const flow = workflow("fan-all")
      .parallel((p) => p.step("slow", "wf.hang", { input: { key: "fan-all" } }).step("bad", "wf.fail-after", { input: { key: "fan-all" } }).step("ok", Upper, { input: { text: "x" } }))
      .join("after", "wf.join", "all")
      .build();
    const run = client.run(flow, {});
    const err = await within(run.result.catch((e: AgentwireError) => e), 20_000, "the run's result");
    expect((err as AgentwireError).code).toBe("boom");
    await within(hang("fan-all").aborted.promise, 20_000, "the sibling's agent to see the cancel");
    const events: WorkflowEvent[] = [];
    for await (const e of run.events()) events.push(e);
    expect(events.filter((e) => e.step === "after")).toEqual([]);
    expect(events.map((e) => `${e.type} ${e.step ?? ""}`)).toEqual(expect.arrayContaining(["workflow.step.failed bad", "workflow.step.cancelled slow", "workflow.failed "]));
  });

  it("[WF-9] .join(all_settled) runs after every branch ended, failed ones with their error in the context", async () => {
    const flow = workflow("fan-settled")
      .parallel((p) =>
        p.step("a", Upper, { input: { text: "a" } }).step("b", "wf.flaky", { input: { key: "settled", failures: 9 }, onFailure: "continue" }).step("c", Upper, { input: { text: "c" } }),
      )
      .join("sum", "wf.join", "all_settled", { input: { a: ref("/steps/a/output/text"), b: ref("/steps/b/error/code"), c: ref("/steps/c/output/text") } })
      .build();
    await expect(within(client.run(flow, {}).result, 20_000, "the run's result")).resolves.toEqual({ joined: { a: "A", b: "not_yet", c: "C" } });
  });

  it("[WF-10] a compensation step runs once with the failed step's error, then the run fails with that error", async () => {
    const flow = workflow("compensated")
      .step("charge", "wf.flaky", { input: { key: "charge", failures: 9 }, onFailure: { compensate: "refund" } })
      .compensation("refund", "wf.join", { input: { why: ref("/steps/charge/error/code") } })
      .build();
    const run = client.run(flow, {});
    const err = await within(run.result.catch((e: AgentwireError) => e), 20_000, "the run's result");
    expect((err as AgentwireError).code).toBe("not_yet");
    const events: WorkflowEvent[] = [];
    for await (const e of run.events()) events.push(e);
    expect(events.filter((e) => e.step === "refund").map((e) => e.type)).toEqual(["workflow.step.started", "workflow.step.succeeded"]);
    expect(attempts.get("charge")).toEqual([1]);
  });

  it("[WF-20] an AbortSignal cancels the run: the running step's agent sees the cancel, the run ends cancelled", async () => {
    const controller = new AbortController();
    const run = client.run(workflow("hang").step("h", "wf.hang").step("never", Upper).build(), { key: "abort" }, { signal: controller.signal });
    await within(hang("abort").started.promise, 20_000, "the step's task to start");
    controller.abort();
    await within(hang("abort").aborted.promise, 20_000, "the agent to see the cancel");
    await expect(within(run.result, 20_000, "the run's result")).rejects.toBeInstanceOf(CancelledError);
    const types: string[] = [];
    for await (const e of run.events()) types.push(e.type);
    expect(types.at(-1)).toBe("workflow.cancelled");
    expect(types).not.toContain("workflow.step.succeeded");
  });

  it("[WF-21] watchRun follows a run from another client; handle.cancel() cancels it; watching an unknown run is UnknownRunError", async () => {
    const run = client.run(workflow("watched").step("h", "wf.hang").build(), { key: "watch" });
    const runId = await within(run.id, 20_000, "the run id");
    await within(hang("watch").started.promise, 20_000, "the step's task to start");
    await using other = await connect({ url: broker.url, logger, backoff });
    const watched = other.watchRun(runId);
    await within(watched.id, 20_000, "the watch's ack");
    await run.cancel();
    await expect(within(watched.result, 20_000, "the watcher's result")).rejects.toBeInstanceOf(CancelledError);
    await expect(run.result).rejects.toBeInstanceOf(CancelledError);
    const types: string[] = [];
    for await (const e of watched.events()) types.push(e.type);
    expect(types).toContain("workflow.cancelled");
    // A run that already ended: ack, then its result at once.
    await expect(within(other.watchRun(runId).result, 20_000, "the ended run's result")).rejects.toBeInstanceOf(CancelledError);
    await expect(other.watchRun("no-such-run").result).rejects.toBeInstanceOf(UnknownRunError);
  });

  it("[WF-18] watch: false sends no events, only the result", async () => {
    const run = client.run(workflow("quiet").step("u", Upper).build(), { text: "shh" }, { watch: false });
    await expect(within(run.result, 20_000, "the run's result")).resolves.toEqual({ text: "SHH" });
    const events: WorkflowEvent[] = [];
    for await (const e of run.events()) events.push(e);
    expect(events).toEqual([]);
  });

  it("[WF-2] [WF-5] registerWorkflow stores a definition once, runs start it by name; an unregistered name is UnknownWorkflowError", async () => {
    const doc = workflow("shout", { version: "1.2.0" }).step("u", Upper).build();
    await expect(client.registerWorkflow(doc)).resolves.toBe(true);
    await expect(client.registerWorkflow(doc)).resolves.toBe(false);
    await expect(client.registerWorkflow(workflow("shout", { version: "1.2.0" }).step("other", Upper).build())).rejects.toBeInstanceOf(WorkflowExistsError);
    await expect(within(client.run<{ text: string }>({ name: "shout" }, { text: "hey" }).result, 20_000, "the run's result")).resolves.toEqual({ text: "HEY" });
    await expect(client.run({ name: "shout", version: "1.2.0" }, { text: "ho" }).result).resolves.toEqual({ text: "HO" });
    await expect(client.run({ name: "whisper" }, {}).result).rejects.toBeInstanceOf(UnknownWorkflowError);
  });

  it("[WF-2] [WF-8] the broker's refusals are typed: a bad definition names its path, a missing pointer fails the step", async () => {
    const bad = { workflow: 1, name: "bad", version: "1.0.0", steps: [{ id: "a", capability: "wf.upper", after: ["b"] }] };
    const err = await client.run(bad as never, {}).result.catch((e: AgentwireError) => e);
    expect(err).toBeInstanceOf(BadWorkflowError);
    expect((err as AgentwireError).details?.path).toBe("steps.0.after.0");
    await expect(client.run(bad as never, {}).id).rejects.toBeInstanceOf(BadWorkflowError);
    const missing = await within(client.run(workflow("gap").step("u", Upper, { input: ref("/input/nope") }).build(), {}).result.catch((e: AgentwireError) => e), 20_000, "the run's result");
    expect(missing).toBeInstanceOf(MappingFailedError);
    expect((missing as AgentwireError).details?.pointer).toBe("/input/nope");
  });
});
