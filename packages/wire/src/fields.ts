/**
 * Field types shared by the frames (frames.ts) and the workflow definition document (workflow.ts):
 * the grammars of ids, capability names, versions and ranges, and the zod builders that carry each
 * field's description and MessagePack type into the generated JSON Schema.
 */
import { z } from "zod";

/** Printable ASCII without spaces, 1..256 bytes: ids, refs, keys [ENC-6]. */
export const ID_RE = /^[\x21-\x7e]{1,256}$/;
/** Whether a string is a well-formed id [ENC-6]. */
export const isId = (s: string): boolean => ID_RE.test(s);
export const id = (description: string) => z.string().regex(ID_RE).describe(description);

export const CAPABILITY_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;
export const capabilityName = (description: string) => z.string().regex(CAPABILITY_RE).describe(description);

/** MAJOR.MINOR.PATCH [CAP-2]. */
export const VERSION_RE = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;
/** A version range: "*", or one or more space-separated comparators [CAP-3]. */
export const RANGE_RE =
  /^(\*|(\^|~|>=|<=|>|<|=)?(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8}))?)?( +(\^|~|>=|<=|>|<|=)?(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8}))?)?)*)$/;

// zod's max counts code points (JSON Schema's maxLength too); ENC-18 counts UTF-16 units, which the
// refinement checks. The generated maxLength is then an upper bound (SCHEMA_LIMITS, ENC-18).
export const text = (max: number, description: string) =>
  z.string().max(max).refine((s) => s.length <= max, `longer than ${max} UTF-16 code units (ENC-18)`).describe(description);
/** Every integer field is a MessagePack int [ENC-3]: `x-msgpack: int` says so in the JSON Schema. */
export const int = (min: number, max: number, description: string) =>
  z.number().int().min(min).max(max).meta({ description, "x-msgpack": "int" });
/** 1..64 chars: an empty code names nothing [ERR-1]. */
export const errorCode = (description: string) =>
  z.string().min(1).max(64).refine((s) => s.length <= 64, "longer than 64 UTF-16 code units (ENC-18)").describe(description);
export const uint = (description: string) => int(0, Number.MAX_SAFE_INTEGER, description);
export const posInt = (max: number, description: string) => int(1, max, description);
/** Opaque application data: a MessagePack `bin` holding one MessagePack document [ENC-7]. */
export const bin = (description: string) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected bin").meta({ description, "x-msgpack": "bin" });
export const tags = (description: string) => z.array(z.string().regex(ID_RE)).max(64).describe(description);
