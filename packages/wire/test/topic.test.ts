import { describe, expect, it } from "vitest";
import { isValidPattern, isValidTopic, patternContains, topicMatches } from "../src/index.js";

describe("topic grammar [TOPIC-1..4]", () => {
  it("accepts concrete topics and rejects wildcards or empty tokens in them", () => {
    for (const t of ["market", "market.sol", "a.b-c.d_e:f", "ü.天"]) expect(isValidTopic(t), t).toBe(true);
    for (const t of ["", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a*", `${"a.".repeat(32)}a`]) expect(isValidTopic(t), t).toBe(false);
  });

  it("accepts * as a whole token and > only as the last token", () => {
    for (const p of ["*", ">", "a.*", "a.>", "*.b.>", "a.*.c"]) expect(isValidPattern(p), p).toBe(true);
    for (const p of ["a.>.b", "a*", "a.b*", ">.a", "a..b", "", "a.>>"]) expect(isValidPattern(p), p).toBe(false);
  });

  it("matches * to exactly one token and > to one or more", () => {
    const cases: [string, string, boolean][] = [
      ["market.*", "market.sol", true],
      ["market.*", "market.sol.usd", false],
      ["market.*", "market", false],
      ["market.>", "market.sol.usd", true],
      ["market.>", "market", false],
      [">", "a", true],
      ["*.sol", "market.sol", true],
      ["a.b", "a.b", true],
      ["a.b", "a.c", false],
    ];
    for (const [p, t, want] of cases) expect(topicMatches(p, t), `${p} ~ ${t}`).toBe(want);
  });

  it("a pattern contains another when it matches every topic the other matches", () => {
    const cases: [string, string, boolean][] = [
      ["market.>", "market.*", true],
      ["market.>", "market.eu.>", true],
      ["market.>", "market.x", true],
      ["market.>", "market.>", true],
      ["market.>", ">", false],
      ["market.>", "*.x", false],
      ["market.>", "market", false],
      ["market.*", "market.x", true],
      ["market.*", "market.*", true],
      ["market.*", "market.>", false],
      ["market.*", "market.x.y", false],
      ["market.*", "market", false],
      [">", ">", true],
      [">", "a.*.>", true],
      ["*", ">", false],
      ["*.*", "*.>", false],
      ["*.>", "a.b.c", true],
      ["a.*.c", "a.*.c", true],
      ["a.*.c", "a.b.*", false],
      ["a.b", "a.b", true],
      ["a.b", "a.c", false],
    ];
    for (const [outer, inner, want] of cases) expect(patternContains(outer, inner), `${outer} ⊇ ${inner}`).toBe(want);
  });
});
