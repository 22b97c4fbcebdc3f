/**
 * `@agentwire/sdk/otel`: OpenTelemetry spans for agentwire, through `@opentelemetry/api` (an optional
 * peer dependency: only this subpath loads it). `createAgent({ ..., tracing: openTelemetry() })` and
 * `connect({ ..., tracing: openTelemetry() })` give a producer span to every submit, send, publish and
 * request, and a consumer span around every task, message and request handler, with the messaging
 * semantic conventions' attributes; the W3C trace context on the wire links them across processes
 * and brokers [TRACE-*]. Spans go to whatever tracer provider the application registered (none: the
 * API's no-op tracer, and trace context still flows).
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  createTraceState,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent, type TraceContext } from "@agentwire/wire";
import type { ConsumerOperation, ProducerOperation, TraceSpan, Tracing } from "./trace.js";

export interface OpenTelemetryOptions {
  /** Where spans go; default: the globally registered provider (`trace.setGlobalTracerProvider`, an OTel SDK's `register()`). */
  tracerProvider?: TracerProvider;
}

/** The instrumentation scope's name. */
export const TRACER_NAME = "@agentwire/sdk";

/** Messaging semantic-convention attribute names (OpenTelemetry semconv 1.27 and later). */
export const ATTR = {
  system: "messaging.system",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  destination: "messaging.destination.name",
  messageId: "messaging.message.id",
  errorType: "error.type",
} as const;

/** OpenTelemetry spans around agentwire operations. */
export function openTelemetry(options: OpenTelemetryOptions = {}): Tracing {
  return new OpenTelemetryTracing((options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME));
}

/** A remote parent's span context from a frame's trace context. */
export function spanContextOf(t: TraceContext): SpanContext {
  const { traceId, parentId, flags } = parseTraceparent(t.traceparent);
  return { traceId, spanId: parentId, traceFlags: flags, isRemote: true, traceState: t.tracestate === undefined ? undefined : createTraceState(t.tracestate) };
}

/** The trace context a span's frames carry; undefined for an invalid span context (a no-op span without parent). */
export function traceContextOf(sc: SpanContext): TraceContext | undefined {
  if (!trace.isSpanContextValid(sc)) return undefined;
  const state = sc.traceState?.serialize();
  return { traceparent: formatTraceparent(sc.traceId, sc.spanId, (sc.traceFlags & 1) === 1), tracestate: state === "" ? undefined : state };
}

class OpenTelemetryTracing implements Tracing {
  constructor(private readonly tracer: Tracer) {}

  produce(operation: ProducerOperation, destination: string, parent: TraceContext | undefined, explicit: boolean): TraceSpan {
    // Unless the caller named the parent, a span active in the application's own context (a context
    // manager is registered: e.g. a span the handler started) is closer than the handler's in scope.
    const active = context.active();
    const own = !explicit && trace.getSpan(active) !== undefined;
    const parentContext = parent === undefined || own ? active : trace.setSpanContext(active, spanContextOf(parent));
    return this.start(`${operation} ${destination}`, SpanKind.PRODUCER, parentContext, { operationType: "send", operationName: operation, destination, messageId: undefined });
  }

  consume(operation: ConsumerOperation, destination: string, incoming: TraceContext | undefined, messageId: string | undefined): TraceSpan {
    // The frame's trace context is the parent; a frame without one starts a trace of its own.
    const parentContext = incoming === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContextOf(incoming));
    return this.start(`process ${destination}`, SpanKind.CONSUMER, parentContext, { operationType: "process", operationName: `process ${operation}`, destination, messageId });
  }

  private start(name: string, kind: SpanKind, parent: Context, a: { operationType: string; operationName: string; destination: string; messageId: string | undefined }): TraceSpan {
    const span = this.tracer.startSpan(
      name,
      {
        kind,
        attributes: {
          [ATTR.system]: "agentwire",
          [ATTR.operationType]: a.operationType,
          [ATTR.operationName]: a.operationName,
          [ATTR.destination]: a.destination,
          ...(a.messageId === undefined ? {} : { [ATTR.messageId]: a.messageId }),
        },
      },
      parent,
    );
    return new OtelSpan(span, parent);
  }
}

class OtelSpan implements TraceSpan {
  readonly context: TraceContext | undefined;

  constructor(
    private readonly span: Span,
    private readonly parent: Context,
  ) {
    this.context = traceContextOf(span.spanContext());
  }

  run<R>(fn: () => R): R {
    return context.with(trace.setSpan(this.parent, this.span), fn);
  }

  end(error?: { code: string; message: string }): void {
    if (error !== undefined) {
      this.span.setAttribute(ATTR.errorType, error.code);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    this.span.end();
  }
}
