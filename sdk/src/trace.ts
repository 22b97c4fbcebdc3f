/**
 * W3C trace context in the SDK [TRACE-*]. Without any tracer the fields still flow: a handler runs in
 * the scope of its frame's trace context, and what it sends (a nested submit, send, publish, request)
 * carries that context on [TRACE-8]. A `Tracing` (e.g. `openTelemetry()` from `@agentwire/sdk/otel`)
 * adds spans: a producer span per outgoing frame, a consumer span around each handler, and the
 * frames then carry the spans' ids. The core SDK defines only this interface; it loads no tracer.
 */
import { AsyncLocalStorage } from "#async-context";
import type { TraceContext } from "@agentwire/wire";

export type { TraceContext } from "@agentwire/wire";

/** What a peer sends: `submit`, `send`, `publish`, `request`. */
export type ProducerOperation = "submit" | "send" | "publish" | "request";
/** What a handler receives: a `task`, a `message`, a `request`. */
export type ConsumerOperation = "task" | "message" | "request";

/** A span in progress: its trace context goes on the wire; `end` once the operation is over. */
export interface TraceSpan {
  /** The span's own trace context: what frames sent in it carry. */
  readonly context: TraceContext | undefined;
  /** Runs `fn` with the span current for the tracer's own context (nested spans of the application). */
  run<R>(fn: () => R): R;
  /** Ends the span; `error` marks it failed. */
  end(error?: { code: string; message: string } | undefined): void;
}

/** Spans around what the SDK sends and handles; `createAgent({ tracing })`, `connect({ tracing })`. */
export interface Tracing {
  /**
   * A producer span for an outgoing frame to `destination` (capability, agent id or topic), child of
   * `parent`: the trace context the caller gave (`explicit`), or the handler's in scope, if any; the
   * tracer may prefer a span of its own current context over one in scope, never over an explicit one.
   */
  produce(operation: ProducerOperation, destination: string, parent: TraceContext | undefined, explicit: boolean): TraceSpan;
  /** A consumer span around a handler of a frame that came with `incoming` (its parent when present). */
  consume(operation: ConsumerOperation, destination: string, incoming: TraceContext | undefined, messageId: string | undefined): TraceSpan;
}

const scope = new AsyncLocalStorage<TraceContext>();

/** The trace context of the handler running now (Node: through every await; browsers: its synchronous part). */
export function currentTrace(): TraceContext | undefined {
  return scope.getStore();
}

/** Runs `fn` in the scope of trace context `trace`. */
export function withTrace<R>(trace: TraceContext, fn: () => R): R {
  return scope.run(trace, fn);
}

/** A frame's trace context, or undefined (no allocation) without a traceparent [TRACE-2]. */
export function traceOf(f: { traceparent?: string | undefined; tracestate?: string | undefined }): TraceContext | undefined {
  return f.traceparent === undefined ? undefined : { traceparent: f.traceparent, tracestate: f.tracestate };
}

/**
 * Starts what an outgoing frame carries: the producer span when tracing (its trace context), else the
 * trace context given or in scope. Returns undefined when there is none of either (the common, free case).
 */
export function produce(tracing: Tracing | undefined, operation: ProducerOperation, destination: string, given: TraceContext | undefined): { span: TraceSpan | undefined; trace: TraceContext | undefined } | undefined {
  const parent = given ?? scope.getStore();
  if (tracing === undefined) return parent === undefined ? undefined : { span: undefined, trace: parent };
  const span = tracing.produce(operation, destination, parent, given !== undefined);
  return { span, trace: span.context ?? parent };
}

/**
 * Runs a handler `fn` of a frame that came with `incoming`, in a consumer span when tracing, in the
 * scope of the span's (or else the frame's) trace context; `done` gets the span to end (undefined
 * when not tracing). Without tracing or trace context it is a plain call.
 */
export function consume<R>(tracing: Tracing | undefined, operation: ConsumerOperation, destination: string, incoming: TraceContext | undefined, messageId: string | undefined, fn: () => R): { span: TraceSpan | undefined; value: R } {
  if (tracing === undefined) return { span: undefined, value: incoming === undefined ? fn() : scope.run(incoming, fn) };
  const span = tracing.consume(operation, destination, incoming, messageId);
  const trace = span.context ?? incoming;
  return { span, value: span.run(() => (trace === undefined ? fn() : scope.run(trace, fn))) };
}

/** `consume` for a handler whose promise says how it went: the span ends when it settles (failed when it rejects). */
export function consumeAsync<R>(tracing: Tracing | undefined, operation: ConsumerOperation, destination: string, incoming: TraceContext | undefined, messageId: string | undefined, fn: () => Promise<R>): Promise<R> {
  if (tracing === undefined && incoming === undefined) return fn();
  const { span, value } = consume(tracing, operation, destination, incoming, messageId, fn);
  if (span === undefined) return value;
  return value.then(
    (v) => {
      span.end();
      return v;
    },
    (err: unknown) => {
      span.end(spanError(err));
      throw err;
    },
  );
}

/** What a failed span records of an error: its code (an agentwire error's, else `internal`) and message. */
export function spanError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null;
  return { code: typeof e?.code === "string" ? e.code : "internal", message: typeof e?.message === "string" ? e.message : String(err) };
}
