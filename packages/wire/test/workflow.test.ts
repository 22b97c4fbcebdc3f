import { describe, expect, it } from "vitest";
import { encodePayload, retryDelayMs, retryPolicy, scanDocument, WorkflowSchema } from "../src/index.js";

const base = { workflow: 1, name: "trade", version: "1.0.0" };
const paths = (doc: unknown): string[] => {
  const r = WorkflowSchema.safeParse(doc);
  return r.success ? [] : r.error.issues.map((i) => i.path.join("."));
};

describe("workflow definition [WF-1, WF-3]", () => {
  it("accepts a DAG with a join, a retry policy and a compensation step", () => {
    const doc = {
      ...base,
      steps: [
        { id: "a", capability: "x" },
        { id: "b", capability: "x", after: ["a"], retry: { max_attempts: 3 } },
        { id: "c", capability: "x", after: ["a", "b"], join: { quorum: 2 }, on_failure: { compensate: "undo" } },
        { id: "undo", capability: "x" },
      ],
      output: { $ref: "/steps/c/output" },
    };
    expect(paths(doc)).toEqual([]);
  });

  it.each([
    ["a duplicate id", [{ id: "a", capability: "x" }, { id: "a", capability: "x" }], "steps.1.id"],
    ["after naming no step", [{ id: "a", capability: "x", after: ["zz"] }], "steps.0.after.0"],
    ["a cycle", [{ id: "a", capability: "x", after: ["b"] }, { id: "b", capability: "x", after: ["a"] }], "steps.0.after"],
    ["quorum beyond after", [{ id: "a", capability: "x" }, { id: "b", capability: "x", after: ["a"], join: { quorum: 2 } }], "steps.1.join.quorum"],
    ["a compensation step in the DAG", [{ id: "a", capability: "x", on_failure: { compensate: "u" } }, { id: "u", capability: "x" }, { id: "c", capability: "x", after: ["u"] }], "steps.2.after.0"],
    ["compensate naming no step", [{ id: "a", capability: "x", on_failure: { compensate: "nope" } }], "steps.0.on_failure.compensate"],
    ["a bad capability", [{ id: "a", capability: ".x" }], "steps.0.capability"],
  ])("refuses %s with its path", (_what, steps, path) => {
    expect(paths({ ...base, steps })).toContain(path);
  });

  it("refuses a document of another format version", () => {
    expect(paths({ ...base, workflow: 2, steps: [{ id: "a", capability: "x" }] })).toContain("workflow");
  });
});

describe("retry delay [WF-12]", () => {
  it("grows by the factor up to the ceiling, spread by the jitter", () => {
    const p = retryPolicy({ id: "s", capability: "x", retry: { initial_interval_ms: 100, backoff_factor: 3, max_interval_ms: 500 } });
    expect([1, 2, 3, 4].map((a) => retryDelayMs(p, a))).toEqual([100, 300, 500, 500]);
    const j = retryPolicy({ id: "s", capability: "x", retry: { initial_interval_ms: 1000, jitter: 0.5 } });
    expect(retryDelayMs(j, 1, 0)).toBe(500);
    expect(retryDelayMs(j, 1, 0.5)).toBe(1000);
    expect(retryDelayMs(j, 1, 0.999999)).toBe(1500);
  });
});

describe("scanDocument: a document the broker reads itself [WF-17]", () => {
  it("takes any MessagePack value of the JSON data model, nested up to LIMITS.maxJsonDepth", () => {
    for (const v of [null, 1, -5, 1.5, "text", [1, [2, [3]]], { a: { b: [true] } }]) expect(() => scanDocument(encodePayload(v))).not.toThrow();
    let deep: unknown = 1;
    for (let i = 0; i < 500; i++) deep = [deep];
    expect(() => scanDocument(encodePayload(deep))).not.toThrow();
  });

  it.each([
    ["0xc1", new Uint8Array([0xc1])],
    ["an extension (timestamp)", new Uint8Array([0xd6, 0xff, 0, 0, 0, 0])],
    ["trailing bytes", new Uint8Array([0x01, 0x02])],
    ["an int map key", new Uint8Array([0x81, 0x01, 0x02])],
    ["nothing", new Uint8Array([])],
    ["a truncated str", new Uint8Array([0xa3, 0x61])],
  ])("refuses %s with bad_frame", (_what, bytes) => {
    expect(() => scanDocument(bytes)).toThrow(expect.objectContaining({ code: "bad_frame" }));
  });
});
