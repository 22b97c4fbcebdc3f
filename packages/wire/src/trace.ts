/**
 * W3C Trace Context on the wire [TRACE-*]: the optional `traceparent` and `tracestate` fields of
 * submit, task, send, message, publish, request and response, defined once here and spread into those
 * frames (frames.ts). The grammar is the W3C Trace Context Level 1 recommendation's; agentwire only
 * carries the fields, it never makes one up.
 */
import { z } from "zod";

/** The trace context one frame carries. */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

/** version-traceid-parentid-flags, lowercase hex [TRACE-1]; what it cannot say (all-zero ids, version ff) is in `isValidTraceparent`. */
export const TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";
const TRACEPARENT_RE = new RegExp(TRACEPARENT_PATTERN);
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);

/** W3C limits of `tracestate` [TRACE-2]. */
export const TRACESTATE_MAX_CHARS = 512;
export const TRACESTATE_MAX_MEMBERS = 32;

/** A well-formed traceparent [TRACE-1]: the grammar, a version other than ff, trace id and parent id not all zeros. */
export function isValidTraceparent(s: string): boolean {
  return TRACEPARENT_RE.test(s) && !s.startsWith("ff") && s.slice(3, 35) !== ZERO_TRACE_ID && s.slice(36, 52) !== ZERO_PARENT_ID;
}

// key = simple-key / multi-tenant-key; value = 0..255 of 0x20-0x7e except "," and "=", not ending in a space.
const MEMBER_RE = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** A well-formed tracestate [TRACE-2]: at most 512 characters, at most 32 `key=value` list members, empty members allowed. */
export function isValidTracestate(s: string): boolean {
  if (s.length > TRACESTATE_MAX_CHARS) return false;
  let members = 0;
  for (const raw of s.split(",")) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (member === "") continue;
    if (!MEMBER_RE.test(member) || ++members > TRACESTATE_MAX_MEMBERS) return false;
  }
  return true;
}

/** A traceparent from its parts (ids in lowercase hex, `sampled` the flags' low bit). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

/** The trace id, parent id and flags of a valid traceparent. */
export function parseTraceparent(s: string): { traceId: string; parentId: string; flags: number } {
  return { traceId: s.slice(3, 35), parentId: s.slice(36, 52), flags: Number.parseInt(s.slice(53, 55), 16) };
}

/**
 * The two optional fields, spread into each frame that carries them: one definition for seven frames.
 * The JSON Schema gets the grammar as `pattern` and the length as `maxLength`; the rest (SCHEMA_LIMITS)
 * is in the refinements.
 */
export const traceFields = {
  traceparent: z
    .string()
    .regex(TRACEPARENT_RE)
    .refine(isValidTraceparent, "not a valid W3C traceparent (TRACE-1)")
    .describe("v1.2: W3C Trace Context `traceparent` (TRACE-1); passed on unchanged by the broker.")
    .optional(),
  tracestate: z
    .string()
    .max(TRACESTATE_MAX_CHARS)
    .refine(isValidTracestate, "not a valid W3C tracestate (TRACE-2)")
    .describe("v1.2: W3C Trace Context `tracestate` (TRACE-2), with `traceparent` only; passed on unchanged.")
    .optional(),
};
