/**
 * A validator built only from protocol/schema/ (ajv, draft 2020-12), judged by the test vectors: it
 * must reject every invalid vector, unless the vector cites a rule that SCHEMA_LIMITS (SPEC.md
 * §3.1, generated from it) says a schema cannot carry; and accept every valid vector on the same terms.
 * Frames reach it as SPEC.md's HTTP-5 turns MessagePack into JSON: bin as base64, extension values nil.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decode as msgpackDecode, ExtData } from "@msgpack/msgpack";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { protocolDir } from "../scripts/paths.js";
import { type InvalidVector, type ValidVector, type VectorFile, fromHex, vectorsDir } from "../scripts/vectors.js";
import { SCHEMA_LIMITS, TOPIC_PATTERN, TOPIC_PATTERN_PATTERN } from "../src/index.js";

const schemaDir = join(protocolDir, "schema");
const ajv = new Ajv2020({ strict: true, strictRequired: false });
ajv.addKeyword("x-msgpack");
ajv.addKeyword("x-direction");
for (const name of readdirSync(schemaDir).filter((n) => n.endsWith(".json"))) {
  ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, name), "utf8")) as object);
}
const validateFrame = ajv.getSchema("urn:agentwire:v1:schema:frame")!;
const CANNOT_CARRY = new Set(SCHEMA_LIMITS.map((l) => l.rule));

/** A decoded MessagePack value as JSON per HTTP-5; undefined when the bytes are not one MessagePack value. */
function asJson(hex: string): unknown {
  let value: unknown;
  try {
    value = msgpackDecode(fromHex(hex));
  } catch {
    return undefined;
  }
  const convert = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
    if (v instanceof ExtData || v instanceof Date) return null;
    if (typeof v === "number" && !Number.isFinite(v)) return null;
    if (typeof v === "bigint") return Number(v);
    if (Array.isArray(v)) return v.map(convert);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x)]));
    return v;
  };
  return convert(value);
}

const accepts = (hex: string): boolean => {
  const json = asJson(hex);
  return json !== undefined && validateFrame(json) === true;
};

const read = <V>(name: string): VectorFile<V> => JSON.parse(readFileSync(join(vectorsDir, name), "utf8")) as VectorFile<V>;
const excused = (spec: string[]): boolean => spec.some((id) => CANNOT_CARRY.has(id));

describe("a validator built only from protocol/schema/", () => {
  it("rejects every invalid vector whose rule a schema can carry", () => {
    const missed = read<InvalidVector>("invalid.json").vectors.filter((v) => accepts(v.hex) && !excused(v.spec));
    expect(missed.map((v) => `${v.id} (${v.spec.join(", ")})`)).toEqual([]);
  });

  it("accepts every valid vector, but for rules a schema cannot carry (ENC-12's nil)", () => {
    const refused = read<ValidVector>("valid.json").vectors.filter((v) => !accepts(v.hex) && !excused(v.spec));
    expect(refused.map((v) => v.id)).toEqual([]);
  });

  it("has a reason in SCHEMA_LIMITS for each invalid vector it accepts, and each such rule is one of SPEC.md", () => {
    const spec = readFileSync(join(protocolDir, "SPEC.md"), "utf8");
    for (const rule of CANNOT_CARRY) expect(spec, rule).toContain(`[${rule}]`);
    // The excuses are used: some invalid vectors do pass the schemas, each for a listed rule.
    const passing = read<InvalidVector>("invalid.json").vectors.filter((v) => accepts(v.hex));
    expect(passing.length).toBeGreaterThan(0);
    for (const v of passing) expect(excused(v.spec), v.id).toBe(true);
  });

  it("carries the topic grammar from the same source as isValidTopic and isValidPattern [TOPIC-1, TOPIC-2]", () => {
    const prop = (type: string) => (JSON.parse(readFileSync(join(schemaDir, `${type}.json`), "utf8")) as { properties: { topic: { pattern: string } } }).properties.topic.pattern;
    expect(prop("publish")).toBe(TOPIC_PATTERN);
    expect(prop("message")).toBe(TOPIC_PATTERN);
    expect(prop("subscribe")).toBe(TOPIC_PATTERN_PATTERN);
    expect(prop("unsubscribe")).toBe(TOPIC_PATTERN_PATTERN);
  });
});
