/**
 * Trace context as the broker carries it [TRACE-4..6]: what a frame brought, passed on unchanged to
 * the frames it causes (a submit's to each attempt's task, a send's or publish's to its messages, a
 * request's to its forwarded request, a response's to the caller), across the mesh too. The broker
 * never makes one up. Absent fields cost nothing: no object, no Redis field.
 */
import type { TraceContext } from "@agentwire/wire";

/** A frame's (or a mesh entry's) trace fields. */
export interface Traced {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** The trace context to carry on, or undefined (no allocation) when none came; a tracestate without a traceparent is dropped [TRACE-2]. */
export function carried(f: Traced): TraceContext | undefined {
  return f.traceparent === undefined ? undefined : { traceparent: f.traceparent, tracestate: f.tracestate };
}

/** The same from a mesh entry's `tp` and `ts`. */
export function carriedParts(traceparent: string | undefined, tracestate: string | undefined): TraceContext | undefined {
  return traceparent === undefined ? undefined : { traceparent, tracestate };
}
