/**
 * Fuzzes `decode`: 100,000 random and mutated byte strings (deterministic seed) must each either
 * decode to a frame or throw a ProtocolError with a registry code — never anything else — and none
 * may hang. The time bounds below are hang guards, not performance assertions: they are far above
 * what a busy 2-core machine needs and only catch runaway loops or huge allocations.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ValidVector, type VectorFile, fromHex, toHex, vectorsDir } from "../scripts/vectors.js";
import { DEFAULTS, ProtocolError, decode, encode, isErrorCode } from "../src/index.js";

const SEED = 0x5eed_a9e1;
const INPUTS = 100_000;
/** Hang guards (see above). */
const TOTAL_BOUND_MS = 60_000;
const SINGLE_BOUND_MS = 1_000;
/** The only codes `decode` has reason to throw. */
const DECODE_CODES = new Set(["bad_frame", "frame_too_large", "unknown_type"]);

/** mulberry32: a tiny deterministic PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds: Uint8Array[] = (
  JSON.parse(readFileSync(join(vectorsDir, "valid.json"), "utf8")) as VectorFile<ValidVector>
).vectors.map((v) => fromHex(v.hex));

type Outcome = { ok: true } | { ok: false; code: string };

/** Decodes, failing the test with the input's hex on anything but a frame or a registry ProtocolError. */
function check(bytes: Uint8Array, label: string): { outcome: Outcome; ms: number } {
  const start = performance.now();
  let frame: unknown;
  try {
    frame = decode(bytes);
  } catch (err) {
    const ms = performance.now() - start;
    if (!(err instanceof ProtocolError) || !isErrorCode(err.code) || !DECODE_CODES.has(err.code)) {
      const what = err instanceof Error ? `${err.constructor.name}(${(err as { code?: unknown }).code ?? ""}): ${err.message}` : String(err);
      throw new Error(`${label}: decode threw ${what} for input ${toHex(bytes)}`);
    }
    return { outcome: { ok: false, code: err.code }, ms };
  }
  const ms = performance.now() - start;
  // What decodes must survive a round trip through the encoder.
  let again: unknown;
  try {
    again = decode(encode(frame as Parameters<typeof encode>[0]));
  } catch (err) {
    throw new Error(`${label}: decoded frame does not re-decode (${(err as Error).message}) for input ${toHex(bytes)}`);
  }
  if (canon(again) !== canon(frame)) {
    throw new Error(`${label}: round trip changed the frame for input ${toHex(bytes)}`);
  }
  return { outcome: { ok: true }, ms };
}

/**
 * A comparable rendering of a decoded value. Fields typed "any" (error details, JSON schemas) may hold
 * values JSON lacks: int64 beyond 2^53 (bigint), NaN and infinities.
 */
function canon(value: unknown): string {
  if (value instanceof Uint8Array) return `bin:${toHex(value)}`;
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${canon(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function randomBytes(rand: () => number): Uint8Array {
  const len = Math.floor(rand() * 301);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(rand() * 256);
  // Half of them start like a map, so they get past the first byte.
  if (len > 0 && rand() < 0.5) out[0] = rand() < 0.8 ? 0x80 | Math.floor(rand() * 16) : rand() < 0.5 ? 0xde : 0xdf;
  return out;
}

/** Bytes that often matter to MessagePack: headers, 0xc1, extension markers, big lengths. */
const INTERESTING = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd3, 0xd4, 0xd6, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff];

function mutate(rand: () => number): Uint8Array {
  const pick = (): Uint8Array => seeds[Math.floor(rand() * seeds.length)]!;
  let b: number[] = Array.from(pick());
  const rounds = 1 + Math.floor(rand() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (b.length + 1));
    const byte = rand() < 0.5 ? Math.floor(rand() * 256) : INTERESTING[Math.floor(rand() * INTERESTING.length)]!;
    switch (Math.floor(rand() * 7)) {
      case 0: // replace a byte
        if (at < b.length) b[at] = byte;
        break;
      case 1: // flip a bit
        if (at < b.length) b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
        break;
      case 2: // insert bytes
        b.splice(at, 0, ...Array.from({ length: 1 + Math.floor(rand() * 4) }, () => byte));
        break;
      case 3: // delete bytes
        b.splice(at, 1 + Math.floor(rand() * 4));
        break;
      case 4: // truncate
        b = b.slice(0, at);
        break;
      case 5: { // splice two vectors
        const other = Array.from(pick());
        b = b.slice(0, at).concat(other.slice(Math.floor(rand() * (other.length + 1))));
        break;
      }
      case 6: { // duplicate a range
        const len = Math.floor(rand() * 16);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
    }
  }
  return Uint8Array.from(b);
}

describe("decode fuzz", () => {
  it(`${INPUTS} random and mutated inputs raise nothing but ProtocolError, without hanging`, () => {
    expect(seeds.length).toBeGreaterThan(0);
    const rand = mulberry32(SEED);
    const counts = new Map<string, number>();
    let slowest = 0;
    const start = performance.now();
    for (let i = 0; i < INPUTS; i++) {
      const bytes = i % 2 === 0 ? randomBytes(rand) : mutate(rand);
      const { outcome, ms } = check(bytes, `input #${i}`);
      slowest = Math.max(slowest, ms);
      const key = outcome.ok ? "ok" : outcome.code;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const total = performance.now() - start;
    // Hang guards, not performance assertions.
    expect(slowest).toBeLessThan(SINGLE_BOUND_MS);
    expect(total).toBeLessThan(TOTAL_BOUND_MS);
    // The mutations reach every stage: some inputs still decode, others fail in each way.
    expect(counts.get("ok") ?? 0).toBeGreaterThan(0);
    expect(counts.get("bad_frame") ?? 0).toBeGreaterThan(0);
    expect(counts.get("unknown_type") ?? 0).toBeGreaterThan(0);
  });

  describe("adversarial inputs fail fast, without huge allocations", () => {
    const s = (text: string) => [0xa0 | text.length, ...Buffer.from(text)];
    const header = [0x83, ...s("type"), ...s("ack"), ...s("ref"), ...s("r1"), ...s("x")];
    const cases: Array<[string, Uint8Array, string | null]> = [
      ["map32 with 2^32-1 entries", Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff]), "bad_frame"],
      ["map16 with 65535 entries", Uint8Array.from([0xde, 0xff, 0xff, ...s("type"), ...s("ack")]), "bad_frame"],
      ["str32 key of 2^32-1 bytes", Uint8Array.from([0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), "bad_frame"],
      ["bin32 of 2^32-1 bytes", Uint8Array.from([...header, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00]), "bad_frame"],
      ["array32 of 2^32-1 items", Uint8Array.from([...header, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]), "bad_frame"],
      ["ext32 of 2^32-1 bytes", Uint8Array.from([...header, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]), "bad_frame"],
      ["100,000 nested arrays", Uint8Array.from([...header, ...new Array<number>(100_000).fill(0x91), 0xc0]), "bad_frame"],
      ["100,000 nested maps", Uint8Array.from([...header, ...Array.from({ length: 100_000 }, () => [0x81, 0xa1, 0x6b]).flat(), 0xc0]), "bad_frame"],
      ["an unknown key holding 200,000 nils", Uint8Array.from([...header, 0xdd, 0x00, 0x03, 0x0d, 0x40, ...new Array<number>(200_000).fill(0xc0)]), null],
      ["max_frame_bytes + 1 bytes", new Uint8Array(DEFAULTS.maxFrameBytes + 1).fill(0xc1), "frame_too_large"],
    ];
    // A publish of exactly max_frame_bytes: a bin32 payload filling the rest.
    const pub = [0x83, ...s("type"), ...s("publish"), ...s("topic"), ...s("a"), ...s("payload"), 0xc6, 0, 0, 0, 0];
    const payloadLen = DEFAULTS.maxFrameBytes - pub.length;
    const atLimit = new Uint8Array(DEFAULTS.maxFrameBytes);
    atLimit.set(pub);
    new DataView(atLimit.buffer).setUint32(pub.length - 4, payloadLen);
    cases.push(["a publish of exactly max_frame_bytes", atLimit, null]);

    it.each(cases)("%s", (label, bytes, code) => {
      const { outcome, ms } = check(bytes, label);
      expect(ms).toBeLessThan(SINGLE_BOUND_MS); // hang guard
      expect(outcome).toEqual(code === null ? { ok: true } : { ok: false, code });
    });
  });
});
