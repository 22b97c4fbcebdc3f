/** The mapping language [WF-7, WF-8]: pure, so each rule is checked on its own. */
import { describe, expect, it } from "vitest";
import { evaluate, resolve } from "../src/workflows/mapping.js";

const ctx = { input: { a: { "b/c": 1, "d~e": [10, 20] }, s: "text" }, steps: { x: { output: { v: [1, { w: true }] }, attempts: 2 } } };

describe("workflow mappings", () => {
  it("replaces $ref objects by the value their JSON Pointer names, RFC 6901 escapes included [WF-7]", () => {
    expect(evaluate({ $ref: "/input/a/b~1c" }, ctx)).toBe(1);
    expect(evaluate({ $ref: "/input/a/d~0e/1" }, ctx)).toBe(20);
    expect(evaluate({ $ref: "" }, ctx)).toEqual(ctx);
    expect(evaluate({ list: [{ $ref: "/steps/x/output/v/1/w" }, 3], n: null, t: "plain" }, ctx)).toEqual({ list: [true, 3], n: null, t: "plain" });
    expect(evaluate({ $ref: "/steps/x/attempts" }, ctx)).toBe(2);
  });

  it("fills $tpl parts: strings as they are, other values as JSON [WF-7]", () => {
    expect(evaluate({ $tpl: "s=${/input/s} v=${/steps/x/output/v} none" }, ctx)).toBe('s=text v=[1,{"w":true}] none');
  });

  it("evaluates nothing else: $ref with other keys, or not a string, is an ordinary object [WF-7]", () => {
    expect(evaluate({ $ref: "/input/s", other: 1 }, ctx)).toEqual({ $ref: "/input/s", other: 1 });
    expect(evaluate({ $ref: 5 }, ctx)).toEqual({ $ref: 5 });
    expect(evaluate({ $tpl: ["x"] }, ctx)).toEqual({ $tpl: ["x"] });
  });

  it("a pointer to a missing value fails with mapping_failed naming it [WF-8]", () => {
    for (const pointer of ["/input/nope", "/input/a/d~0e/2", "/input/a/d~0e/01", "/steps/y/output", "input", "/input/s/0"]) {
      expect(() => resolve(ctx, pointer), pointer).toThrow(expect.objectContaining({ code: "mapping_failed", details: { pointer } }));
    }
    expect(() => evaluate({ $tpl: "${/nowhere}" }, ctx)).toThrow(expect.objectContaining({ code: "mapping_failed" }));
  });
});
