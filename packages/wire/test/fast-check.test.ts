/**
 * The compiled fast check (src/fast-check.ts) against zod itself: whenever it says "certainly valid",
 * zod must accept the value and return it unchanged; on the frames every task crosses it must say so
 * for their valid vectors (else the fast path is dead code). Values: every vector of
 * protocol/vectors, decoded without validation, and many mutations of each (a field dropped, set to a
 * value of another type or at a bound, an unknown key added, nested fields changed).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromHex, vectorsDir, type InvalidVector, type ValidVector, type VectorFile } from "../scripts/vectors.js";
import { decodePayload } from "../src/codec.js";
import { certainlyValid } from "../src/fast-check.js";
import { FRAME_SCHEMAS, type FrameType } from "../src/frames.js";
import { WorkflowSchema } from "../src/workflow.js";

const read = <V>(name: string): VectorFile<V> => JSON.parse(readFileSync(join(vectorsDir, name), "utf8")) as VectorFile<V>;

/** Every vector's bytes as the codec's unpacker reads them (nils dropped at the top, as decode does). */
function values(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const v of [...read<ValidVector>("valid.json").vectors, ...read<InvalidVector>("invalid.json").vectors]) {
    let value: unknown;
    try {
      value = decodePayload(fromHex(v.hex));
    } catch {
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) continue;
    const o = value as Record<string, unknown>;
    for (const k in o) if (o[k] === null) delete o[k];
    if (typeof o.type === "string" && Object.hasOwn(FRAME_SCHEMAS, o.type)) out.push(o);
  }
  return out;
}

const PALETTE: unknown[] = [
  0, 1, -1, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 53), 100, 101, 1_000_001, 86_400_000, 86_400_001, NaN,
  "", "x", "r-1", "a b", "é", "x".repeat(64), "x".repeat(65), "x".repeat(256), "x".repeat(257), "x".repeat(4097),
  "price.quote", "_bad", "1.2.3", "^1.2", "high", "normal", "bogus", "round_robin", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  true, false, [], ["a"], ["a b"], Array.from({ length: 65 }, (_, i) => `t${i}`), {}, { code: "x", message: "m" }, { code: "", message: "m" },
  { code: "x", message: "m", extra: 1 }, { code: "x", message: "m", details: { a: 1 } }, { code: "x", message: "m", retryable: "yes" },
  new Uint8Array([0xc0]), Buffer.from([0x90]),
];

/** The value itself and its mutations: each field dropped or replaced by each palette value, an unknown key, nested changes. */
function* mutations(base: Record<string, unknown>): Generator<Record<string, unknown>> {
  yield base;
  yield { ...base, x_future: 1 };
  for (const key of Object.keys(base)) {
    if (key === "type") continue;
    const { [key]: _dropped, ...rest } = base;
    yield rest;
    for (const p of PALETTE) yield { ...base, [key]: p };
    const v = base[key];
    if (Array.isArray(v)) {
      yield { ...base, [key]: [...v, 5] };
      for (const p of PALETTE.slice(0, 30)) yield { ...base, [key]: [p] };
    } else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) {
      const o = v as Record<string, unknown>;
      yield { ...base, [key]: { ...o, x_future: 1 } };
      for (const k of Object.keys(o)) {
        const { [k]: _d, ...r } = o;
        yield { ...base, [key]: r };
        for (const p of PALETTE) yield { ...base, [key]: { ...o, [k]: p } };
      }
    }
  }
}

/** The hot frames whose common shape must take the fast path. */
const HOT: FrameType[] = ["submit", "accepted", "task", "result", "progress", "heartbeat", "ack", "cancel"];

describe("fast check: compiled from the zod definitions, never more lenient than zod", () => {
  it("says 'certainly valid' only where zod accepts the value and returns it unchanged", () => {
    let fast = 0;
    let total = 0;
    for (const base of values()) {
      const schema = FRAME_SCHEMAS[base.type as FrameType];
      for (const v of mutations(base)) {
        total++;
        if (!certainlyValid(schema, v)) continue;
        fast++;
        const parsed = schema.safeParse(v);
        expect(parsed.success, JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${x.length})` : x))).toBe(true);
        expect(parsed.data).toEqual(v);
      }
    }
    console.log(`fast check: ${fast} of ${total} values certainly valid`);
    // Enough of both answers for the property to mean something.
    expect(total).toBeGreaterThan(25_000);
    expect(fast).toBeGreaterThan(1_000);
    expect(total - fast).toBeGreaterThan(10_000);
  });

  it("takes the fast path for every valid vector of the hot frames that has no unknown key", () => {
    const seen = new Set<string>();
    for (const v of read<ValidVector>("valid.json").vectors) {
      const value = decodePayload<Record<string, unknown>>(fromHex(v.hex));
      for (const k in value) if (value[k] === null) delete value[k];
      const type = value.type as FrameType;
      if (!HOT.includes(type)) continue;
      const schema = FRAME_SCHEMAS[type];
      const parsed = schema.safeParse(value);
      if (!parsed.success || Object.keys(parsed.data).length !== Object.keys(value).length) continue;
      // details (a record) is left to zod: the compiler does not model records
      const hasRecord = JSON.stringify(Object.keys((value.error ?? {}) as object)).includes("details");
      expect(certainlyValid(schema, value) || hasRecord, v.id).toBe(true);
      seen.add(type);
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(["accepted", "result", "submit", "task"]));
  });

  it("leaves a schema it cannot model to zod (a record, a transform)", () => {
    // The workflow document has records and defaults: the compiled check never claims it
    expect(certainlyValid(WorkflowSchema, { name: "w", steps: [] })).toBe(false);
    expect(certainlyValid(FRAME_SCHEMAS.result, { type: "result", task_id: "t", ok: false, error: { code: "x", message: "m", details: { a: 1 } } })).toBe(false);
    expect(certainlyValid(FRAME_SCHEMAS.result, { type: "result", task_id: "t", ok: false, error: { code: "x", message: "m" } })).toBe(true);
  });
});
