/**
 * The frame codec: plain, standard MessagePack only [ENC-1..9].
 *
 * Decoding is three separate steps with plain data between them: `scanEnvelope` proves the bytes are
 * one well-formed MessagePack map of allowed types (msgpackr alone would accept 0xc1, timestamps,
 * non-str keys and, without a code, trailing bytes), msgpackr turns them into a value, and the frame's
 * zod schema validates it. Payload fields are `bin` and are never looked into.
 */
import { isUtf8 } from "#utf8";
import { addExtension, Packr, Unpackr, type Options } from "msgpackr";
import { DEFAULTS, LIMITS } from "./constants.js";
import { BadFrameError, FrameTooLargeError, UnknownTypeError } from "./errors.js";
import { certainlyValid } from "./fast-check.js";
import { FRAME_SCHEMAS, isId, type Frame, type FrameType } from "./frames.js";

// `skipValues` and int64AsType "auto" exist in msgpackr 2.x but not in its type definitions.
const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
} as Options);
/**
 * A non-negative integer beyond 32 bits, written as MessagePack uint64 (0xcf) [ENC-19]. msgpackr writes
 * every bigint below 2^63 as int64 (0xd3), so this class writes its nine bytes itself through
 * msgpackr's raw-write hook (a `pack` that fills the space it asked for and returns nothing writes no
 * extension header). The extension type is never written; reading it stays an unknown extension.
 */
class Uint64 {
  constructor(readonly value: number) {}
}
const UINT64_UNUSED_EXT = 0x7e;
addExtension({
  Class: Uint64,
  type: UINT64_UNUSED_EXT,
  pack(u: Uint64, allocate: (size: number) => { target: Uint8Array; targetView: DataView; position: number }) {
    const { target, targetView, position } = allocate(9);
    target[position] = 0xcf;
    // Two 32-bit halves of a safe integer: no BigInt per wide value (every task frame has a deadline).
    targetView.setUint32(position + 1, Math.floor(u.value / 0x1_0000_0000));
    targetView.setUint32(position + 5, u.value >>> 0);
    return undefined;
  },
  unpack() {
    throw new Error(`Unknown extension type ${UINT64_UNUSED_EXT}`);
  },
} as unknown as Parameters<typeof addExtension>[0]);

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "auto" } as unknown as Options);

export interface DecodeOptions {
  /** Messages longer than this fail with frame_too_large [ENC-8]. Default DEFAULTS.maxFrameBytes. */
  maxFrameBytes?: number;
  /** Frame types this receiver accepts; any other type fails with unknown_type [ENC-11]. */
  accept?: ReadonlySet<FrameType>;
}

/** Decodes one message into a validated frame, or throws a ProtocolError with the spec's code. */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): Frame {
  const max = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
  if (bytes.byteLength > max) {
    throw new FrameTooLargeError(`message of ${bytes.byteLength} bytes exceeds max_frame_bytes ${max}`, {
      details: { size: bytes.byteLength, max },
    });
  }
  scanEnvelope(bytes);
  let value: Record<string, unknown>;
  try {
    value = unpackr.unpack(bytes) as Record<string, unknown>;
  } catch (cause) {
    // scanEnvelope accepted the bytes, so this is a codec defect; still report it as the peer's frame.
    throw new BadFrameError(`undecodable MessagePack: ${(cause as Error).message}`, { cause });
  }
  const type = value.type;
  if (typeof type !== "string") throw new BadFrameError("frame has no string `type`", { details: { path: "type" } });
  dropNils(value);
  const ref = refOf(value);
  if (!Object.hasOwn(FRAME_SCHEMAS, type) || (options.accept !== undefined && !options.accept.has(type as FrameType))) {
    throw new UnknownTypeError(`unknown frame type ${JSON.stringify(type.slice(0, 64))}`, { details: { type }, ref });
  }
  const schema = FRAME_SCHEMAS[type as FrameType];
  // The common case, valid with nothing to strip, needs no zod run (fast-check.ts); otherwise zod decides.
  if (certainlyValid(schema, value)) return value as unknown as Frame;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join(".") ?? "";
    throw new BadFrameError(`${type}: ${path === "" ? "" : `${path}: `}${issue?.message ?? "invalid"}`, {
      details: { type, path },
      ref,
    });
  }
  return parsed.data as Frame;
}

/** A top-level optional field sent as nil counts as absent [ENC-12]; a required one then fails as missing. */
function dropNils(obj: Record<string, unknown>): void {
  for (const key in obj) if (obj[key] === null) delete obj[key];
}

/** The correlation of a frame that failed validation, so the error can name it [ERR-3]. */
function refOf(value: Record<string, unknown>): string | undefined {
  for (const key of ["ref", "task_id", "id"] as const) {
    const v = value[key];
    // Only a well-formed id is echoed: the error frame must itself be valid [ENC-6].
    if (typeof v === "string" && isId(v)) return v;
  }
  return undefined;
}

/**
 * Encodes a frame. Integers outside the 32-bit range are written as MessagePack uint64 when positive
 * and int64 when negative, never as float64 [ENC-3, ENC-19]; undefined fields are left out. The frame is not validated: build frames from the
 * typed shapes, and tests prove what the encoder emits decodes again.
 */
export function encode(frame: Frame): Uint8Array {
  return packr.pack(widenInts(frame));
}

/** Encodes one application document (task input, output, payloads) for a `bin` field [ENC-7]. */
export function encodePayload(value: unknown): Uint8Array {
  return packr.pack(widenInts(value));
}

/** Decodes one application document from a `bin` field. */
export function decodePayload<T = unknown>(bytes: Uint8Array): T {
  try {
    return unpackr.unpack(bytes) as T;
  } catch (cause) {
    throw new BadFrameError(`payload is not one MessagePack document: ${(cause as Error).message}`, { cause });
  }
}

const INT32_MIN = -0x8000_0000;
const UINT32_MAX = 0xffff_ffff;

function isWide(n: unknown): n is number {
  return typeof n === "number" && (n > UINT32_MAX || n < INT32_MIN) && Number.isSafeInteger(n);
}

/** Copy-on-write: returns the value itself unless some integer needs a 64-bit encoding. */
function widenInts(value: unknown): unknown {
  if (isWide(value)) return value > 0 ? new Uint64(value) : BigInt(value);
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const w = widenInts(v);
      if (w !== v) (out ??= value.slice())[i] = w;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    const v = obj[key];
    const w = widenInts(v);
    if (w !== v) (out ??= { ...obj })[key] = w;
  }
  return out ?? value;
}

// ---- structural scan ---------------------------------------------------------------------------

const remaining = new Float64Array(LIMITS.maxDepth + 1);
const isMap = new Uint8Array(LIMITS.maxDepth + 1);
// The same for documents the broker itself reads (a workflow's input), nested at most as deep as JSON bodies.
const docRemaining = new Float64Array(LIMITS.maxJsonDepth + 1);
const docIsMap = new Uint8Array(LIMITS.maxJsonDepth + 1);

function bad(message: string, offset: number): never {
  throw new BadFrameError(message, { details: { offset } });
}

/**
 * Proves `bytes` hold exactly one MessagePack map whose contents use only the types SPEC.md allows in
 * an envelope: no extension types, no 0xc1, str map keys, valid UTF-8 strings, bounded depth.
 * `bin` contents are skipped unread.
 */
export function scanEnvelope(bytes: Uint8Array): void {
  const first = bytes[0];
  if (first !== undefined && !((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf)) bad("message is not a MessagePack map", 0);
  scan(bytes, LIMITS.maxDepth, remaining, isMap);
}

/**
 * Proves `bytes` hold exactly one MessagePack document of any type within the same rules as an
 * envelope (no extension types, no 0xc1, str map keys, valid UTF-8), nested at most
 * LIMITS.maxJsonDepth deep: what the broker checks of a document it reads itself (a workflow input).
 */
export function scanDocument(bytes: Uint8Array): void {
  scan(bytes, LIMITS.maxJsonDepth, docRemaining, docIsMap);
}

/**
 * One pass over the bytes, on the hot path of every frame: no closures, no object per string (an ASCII
 * string is checked in place; only one with a byte ≥ 0x80 goes to the UTF-8 validator), no BigInt per
 * 64-bit integer.
 */
function scan(bytes: Uint8Array, maxDepth: number, remaining: Float64Array, isMap: Uint8Array): void {
  const n = bytes.byteLength;
  if (n === 0) bad("empty message", 0);

  let pos = 0;
  let depth = -1; // index of the innermost open container
  do {
    const atKey = depth >= 0 && isMap[depth] === 1 && remaining[depth]! % 2 === 0;
    if (depth >= 0) remaining[depth]!--;
    if (pos >= n) bad("truncated MessagePack data", pos);
    const b = bytes[pos++]!;
    if (atKey && !((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))) bad("map key is not a str", pos - 1);

    let strLen = -1; // a str's length once its header is read
    let count = -1; // a container's entries once its header is read
    let map = false;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // fixint, nil, bool
    } else if (b <= 0x8f) {
      count = b & 0x0f;
      map = true;
    } else if (b <= 0x9f) count = b & 0x0f;
    else if (b <= 0xbf) strLen = b & 0x1f;
    else {
      switch (b) {
        case 0xc1: bad("0xc1 is never used in MessagePack", pos - 1);
        case 0xc4: if (pos + 1 > n) bad("truncated MessagePack data", pos); pos += 1 + bytes[pos]!; break;
        case 0xc5: if (pos + 2 > n) bad("truncated MessagePack data", pos); pos += 2 + be16(bytes, pos); break;
        case 0xc6: if (pos + 4 > n) bad("truncated MessagePack data", pos); pos += 4 + be32(bytes, pos); break;
        case 0xc7: case 0xc8: case 0xc9:
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
          bad("extension types are not allowed", pos - 1);
        case 0xca: pos += 4; break;
        case 0xcb: pos += 8; break;
        case 0xcc: case 0xd0: pos += 1; break;
        case 0xcd: case 0xd1: pos += 2; break;
        case 0xce: case 0xd2: pos += 4; break;
        case 0xcf: case 0xd3: {
          if (pos + 8 > n) bad("truncated MessagePack data", pos);
          // ±(2^53-1) in two 32-bit halves: the high half within ±0x1fffff (and not -0x200000 with a zero low half).
          const hi = b === 0xcf ? be32(bytes, pos) : be32(bytes, pos) | 0;
          if (hi > 0x1f_ffff || hi < -0x20_0000 || (hi === -0x20_0000 && be32(bytes, pos + 4) === 0)) bad("integer outside ±(2^53-1)", pos - 1);
          pos += 8;
          break;
        }
        case 0xd9: if (pos + 1 > n) bad("truncated MessagePack data", pos); strLen = bytes[pos]!; pos += 1; break;
        case 0xda: if (pos + 2 > n) bad("truncated MessagePack data", pos); strLen = be16(bytes, pos); pos += 2; break;
        case 0xdb: if (pos + 4 > n) bad("truncated MessagePack data", pos); strLen = be32(bytes, pos); pos += 4; break;
        case 0xdc: if (pos + 2 > n) bad("truncated MessagePack data", pos); count = be16(bytes, pos); pos += 2; break;
        case 0xdd: if (pos + 4 > n) bad("truncated MessagePack data", pos); count = be32(bytes, pos); pos += 4; break;
        case 0xde: if (pos + 2 > n) bad("truncated MessagePack data", pos); count = be16(bytes, pos); pos += 2; map = true; break;
        case 0xdf: if (pos + 4 > n) bad("truncated MessagePack data", pos); count = be32(bytes, pos); pos += 4; map = true; break;
      }
    }
    if (strLen >= 0) {
      if (pos + strLen > n) bad("truncated MessagePack data", pos);
      const end = pos + strLen;
      let i = pos;
      while (i < end && bytes[i]! < 0x80) i++;
      if (i < end && !isUtf8(bytes.subarray(i, end))) bad("str is not valid UTF-8", pos);
      pos = end;
    } else if (count >= 0) {
      if (depth + 1 >= maxDepth) bad(`nesting deeper than ${maxDepth}`, pos);
      if (count > 0) {
        depth++;
        remaining[depth] = map ? count * 2 : count;
        isMap[depth] = map ? 1 : 0;
      }
    } else if (pos > n) bad("truncated MessagePack data", n);
    while (depth >= 0 && remaining[depth] === 0) depth--;
  } while (depth >= 0);

  if (pos !== n) bad(`${n - pos} trailing bytes after the frame`, pos);
}

const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const be32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
