import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FRAME_TYPES, framesWithoutTable, schemaFiles, syncSpec } from "../src/index.js";
import { protocolDir } from "../scripts/paths.js";

const schemaDir = join(protocolDir, "schema");
const specPath = join(protocolDir, "SPEC.md");

describe("protocol/schema drift check", () => {
  it("has exactly the files the zod definitions generate, byte for byte (run `pnpm gen` to refresh)", () => {
    const expected = schemaFiles();
    const present = readdirSync(schemaDir).filter((f) => f.endsWith(".json")).sort();
    expect(present).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) expect(readFileSync(join(schemaDir, name), "utf8"), name).toBe(text);
  });

  it("has one schema with a stable $id per frame type", () => {
    for (const type of FRAME_TYPES) {
      const schema = JSON.parse(readFileSync(join(schemaDir, `${type}.json`), "utf8")) as Record<string, unknown>;
      expect(schema.$id).toBe(`urn:agentwire:v1:schema:${type}`);
      expect((schema.properties as Record<string, { const?: string }>).type?.const).toBe(type);
    }
  });
});

describe("SPEC.md generated tables", () => {
  it("exists and has a field table for every frame type", () => {
    expect(existsSync(specPath)).toBe(true);
    expect(framesWithoutTable(readFileSync(specPath, "utf8"))).toEqual([]);
  });

  it("is in sync with the zod definitions and the error registry (run `pnpm gen` to refresh)", () => {
    const spec = readFileSync(specPath, "utf8");
    expect(spec.includes("<!-- generated:errors -->")).toBe(true);
    expect(syncSpec(spec)).toBe(spec);
  });

  it("gives normative statements stable ids, each defined once", () => {
    const spec = readFileSync(specPath, "utf8");
    const defined = [...spec.matchAll(/^\s*(?:[-*]\s+|\d+\.\s+|\|\s*)?\*{0,2}\[([A-Z]+-\d+)\]/gm)].map((m) => m[1]);
    expect(defined.length).toBeGreaterThan(100);
    const seen = new Set<string>();
    const dup = defined.filter((id) => (seen.has(id!) ? true : (seen.add(id!), false)));
    expect(dup).toEqual([]);
  });
});
