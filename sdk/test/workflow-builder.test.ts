/**
 * The workflow builder writes the definition document of SPEC §21: each built document is compared
 * with the one written by hand and parsed by the wire's own schema (WorkflowSchema, the one the broker
 * checks runs with); a graph the schema refuses is a BadWorkflowError naming its path. The type checks
 * (expectTypeOf, @ts-expect-error) count at `tsc -b`.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { BadWorkflowError, WorkflowSchema, type AgentwireError, defineCapability, ref, retry, tpl, workflow, type Client, type RunHandle, type WorkflowOutput } from "../src/index.js";

const Analyze = defineCapability({ name: "market_analyzer", input: z.object({ symbol: z.string() }), output: z.object({ trend: z.string() }) });
const Execute = defineCapability({ name: "trade_executor", input: z.unknown(), output: z.object({ order_id: z.string(), filled: z.number() }) });

/** What the broker would parse: the document must come back from the wire's schema unchanged. */
function parsed(doc: unknown): unknown {
  return WorkflowSchema.parse(JSON.parse(JSON.stringify(doc)));
}

describe("workflow builder", () => {
  it("writes the seed's analyze → assess_risk → execute flow as a sequence", () => {
    const doc = workflow("trade", { description: "analyze, assess the risk, execute" })
      .step("analyze", "market_analyzer", { input: ref("/input") })
      .step("assess_risk", "risk_manager", { input: ref("/steps/analyze/output"), retry: retry({ maxAttempts: 3, initialIntervalMs: 200 }), timeoutMs: 5_000 })
      .step("execute", "trade_executor", { input: { symbol: ref("/input/symbol"), note: tpl("risk ${/steps/assess_risk/output/level}") }, priority: "high" })
      .output({ analysis: ref("/steps/analyze/output"), execution: ref("/steps/execute/output") })
      .build();
    expect(doc).toEqual({
      workflow: 1,
      name: "trade",
      version: "1.0.0",
      description: "analyze, assess the risk, execute",
      steps: [
        { id: "analyze", capability: "market_analyzer", input: { $ref: "/input" } },
        { id: "assess_risk", capability: "risk_manager", timeout_ms: 5_000, input: { $ref: "/steps/analyze/output" }, after: ["analyze"], retry: { max_attempts: 3, initial_interval_ms: 200 } },
        {
          id: "execute",
          capability: "trade_executor",
          priority: "high",
          input: { symbol: { $ref: "/input/symbol" }, note: { $tpl: "risk ${/steps/assess_risk/output/level}" } },
          after: ["assess_risk"],
        },
      ],
      output: { analysis: { $ref: "/steps/analyze/output" }, execution: { $ref: "/steps/execute/output" } },
    });
    expect(parsed(doc)).toEqual(doc);
  });

  it("fans out with .parallel and joins with a policy; after: [] starts a step at once", () => {
    const doc = workflow("quotes", { version: "2.1.0", limits: { maxStepOutputBytes: 4096, maxRunMs: 60_000 } })
      .step("plan", "planner")
      .parallel((p) => p.step("a", "quote", { input: ref("/steps/plan/output/a") }).step("b", "quote").step("c", "quote", { strategy: "least_loaded", tags: ["eu"], version: "^1.2" }))
      .join("best", "pick", { quorum: 2 }, { input: ref("/steps") })
      .step("audit", "audit_log", { after: [] })
      .build();
    expect(doc.version).toBe("2.1.0");
    expect(doc.limits).toEqual({ max_step_output_bytes: 4096, max_run_ms: 60_000 });
    expect(doc.steps.map((s) => [s.id, s.after, s.join])).toEqual([
      ["plan", undefined, undefined],
      ["a", ["plan"], undefined],
      ["b", ["plan"], undefined],
      ["c", ["plan"], undefined],
      ["best", ["a", "b", "c"], { quorum: 2 }],
      ["audit", undefined, undefined],
    ]);
    expect(doc.steps[3]).toMatchObject({ strategy: "least_loaded", tags: ["eu"], version: "^1.2" });
    expect(doc).not.toHaveProperty("output");
    expect(parsed(doc)).toEqual(doc);
  });

  it("a .join after the fan-out with all_settled; a .parallel first fans out from the start", () => {
    const doc = workflow("fan")
      .parallel((p) => p.step("x", "probe").step("y", "probe"))
      .join("sum", "summarize", "all_settled")
      .build();
    expect(doc.steps).toEqual([
      { id: "x", capability: "probe" },
      { id: "y", capability: "probe" },
      { id: "sum", capability: "summarize", after: ["x", "y"], join: "all_settled" },
    ]);
    expect(parsed(doc)).toEqual(doc);
  });

  it("a compensation step stays out of the DAG; .onFailure sets every other step's default", () => {
    const doc = workflow("pay")
      .step("reserve", "inventory")
      .step("charge", "payments", { onFailure: { compensate: "release" }, retry: retry({ maxAttempts: 2, nonRetryable: ["card_declined"], jitter: 0.1, backoffFactor: 3, maxIntervalMs: 5_000 }) })
      .compensation("release", "inventory_release", { input: ref("/steps/reserve/output") })
      .step("notify", "mailer", { onFailure: "continue" })
      .onFailure(retry({ maxAttempts: 3 }))
      .onFailure("continue")
      .build();
    expect(doc.steps).toEqual([
      { id: "reserve", capability: "inventory", retry: { max_attempts: 3 }, on_failure: "continue" },
      {
        id: "charge",
        capability: "payments",
        after: ["reserve"],
        retry: { max_attempts: 2, backoff_factor: 3, max_interval_ms: 5_000, jitter: 0.1, non_retryable: ["card_declined"] },
        on_failure: { compensate: "release" },
      },
      { id: "release", capability: "inventory_release", input: { $ref: "/steps/reserve/output" }, retry: { max_attempts: 3 } },
      { id: "notify", capability: "mailer", after: ["charge"], retry: { max_attempts: 3 }, on_failure: "continue" },
    ]);
    expect(parsed(doc)).toEqual(doc);
  });

  it("without .output, the run's output is the last .step's even when a compensation step is listed after it [WF-16]", () => {
    const doc = workflow("t").step("go", Execute, { onFailure: { compensate: "undo" } }).compensation("undo", "undo").build();
    expect(doc.output).toEqual({ $ref: "/steps/go/output" });
    expect(workflow("t").step("go", Execute).build()).not.toHaveProperty("output");
  });

  it("each call makes a new builder: a shared prefix starts several workflows", () => {
    const base = workflow("base").step("a", "x").onFailure("continue");
    const one = base.step("b", "y").build();
    const two = base.parallel((p) => {
      const shared = p.step("c", "z");
      shared.step("ignored", "z"); // a branch builder is immutable too: only what the callback returns counts
      return shared.step("d", "z");
    }).build();
    expect(one.steps.map((s) => s.id)).toEqual(["a", "b"]);
    expect(two.steps.map((s) => [s.id, s.after])).toEqual([["a", undefined], ["c", ["a"]], ["d", ["a"]]]);
    expect(base.build().steps).toEqual([{ id: "a", capability: "x", on_failure: "continue" }]);
  });

  it("takes a contract's name as the capability", () => {
    expect(workflow("t").step("a", Analyze).build().steps[0]).toEqual({ id: "a", capability: "market_analyzer" });
  });

  it("refuses what the broker would refuse, with BadWorkflowError and the path [WF-2, WF-3]", () => {
    const cases: [() => unknown, string][] = [
      [() => workflow("dup").step("a", "x").step("a", "y").build(), "steps.1.id"],
      [() => workflow("ghost").step("a", "x", { after: ["nope" as never] }).build(), "steps.0.after.0"],
      [() => workflow("bad name").step("a", "x").build(), "name"],
      [() => workflow("v", { version: "1" }).step("a", "x").build(), "version"],
      [() => workflow("r").step("a", "x", { retry: retry({ maxAttempts: 0 }) }).build(), "steps.0.retry.max_attempts"],
      [() => workflow("q").step("a", "x").step("b", "y", { join: { quorum: 2 } }).build(), "steps.1.join.quorum"],
      [() => workflow("c").step("a", "x", { onFailure: { compensate: "missing" } }).build(), "steps.0.on_failure.compensate"],
      [() => workflow("empty").build(), "steps"],
    ];
    for (const [build, path] of cases) {
      let thrown: unknown;
      try {
        build();
      } catch (err) {
        thrown = err;
      }
      expect(thrown, path).toBeInstanceOf(BadWorkflowError);
      expect((thrown as AgentwireError).code).toBe("bad_workflow");
      expect((thrown as AgentwireError).details?.path, String(thrown)).toBe(path);
    }
    expect(() => workflow("p").parallel((p) => p)).toThrow(TypeError);
  });
});

// Types only: never called.
function types(client: Client): void {
  const typed = workflow("t").step("analyze", Analyze).step("execute", Execute).build();
  expectTypeOf<WorkflowOutput<typeof typed>>().toEqualTypeOf<{ order_id: string; filled: number }>();
  expectTypeOf(client.run(typed, { symbol: "SOL" })).toEqualTypeOf<RunHandle<{ order_id: string; filled: number }>>();
  expectTypeOf(client.run(workflow("t").step("a", "by-name").build(), {}).result).resolves.toBeUnknown();
  expectTypeOf(client.run(workflow("t").step("a", Analyze).output<{ n: number }>({ n: 1 }).build(), {}).result).resolves.toEqualTypeOf<{ n: number }>();
  expectTypeOf(client.run<string>({ name: "registered" }, {}).result).resolves.toBeString();
  // @ts-expect-error after names only steps defined before
  workflow("t").step("a", "x").step("b", "y", { after: ["c"] });
}
void types;
