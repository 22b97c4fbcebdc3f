/** Every MUST statement of SPEC.md is checked by a case or has a written reason in uncovered.ts. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agentCases, brokerCases, parseSpec, UNCOVERED } from "../src/index.js";
import { REPO } from "./helpers.js";

const statements = parseSpec(readFileSync(`${REPO}protocol/SPEC.md`, "utf8"));
const cases = [...brokerCases, ...agentCases];
const cited = new Set(cases.flatMap((c) => c.spec));
const ids = new Set(statements.map((s) => s.id));

describe("spec coverage", () => {
  it("parses the spec's statements", () => {
    expect(statements.length).toBeGreaterThan(150);
    expect(statements.filter((s) => s.level === "MUST").length).toBeGreaterThan(100);
  });

  it("every MUST statement is cited by a case or listed with a reason", () => {
    const missing = statements.filter((s) => s.level === "MUST" && !cited.has(s.id) && !(UNCOVERED[s.id]?.trim() ?? ""));
    expect(missing.map((s) => s.id)).toEqual([]);
  });

  it("uncovered.ts lists only real MUST statements that no case cites", () => {
    for (const id of Object.keys(UNCOVERED)) {
      expect(statements.find((s) => s.id === id)?.level, id).toBe("MUST");
      expect(cited.has(id), `${id} is cited by a case; drop it from uncovered.ts`).toBe(false);
    }
  });

  it("cases have unique ids, cite existing spec ids, and have a level and mode", () => {
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) {
      expect(c.spec.length, c.id).toBeGreaterThan(0);
      for (const id of c.spec) expect(ids.has(id), `${c.id} cites unknown ${id}`).toBe(true);
      expect(["MUST", "SHOULD", "MAY"]).toContain(c.level);
      expect(c.id.startsWith(`${c.mode}.`), c.id).toBe(true);
    }
  });
});
