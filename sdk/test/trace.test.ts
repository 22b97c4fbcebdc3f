/**
 * W3C trace context end to end [TRACE-*]: one trace from a client through an agent, the task that
 * agent submits, and a second agent, across the two brokers of a mesh (client and second agent on
 * broker A, first agent on broker B: both tasks cross brokers). With OpenTelemetry's in-memory
 * exporter the spans show the parent/child links; without any tracer the fields still flow.
 */
import { startMeshPair, waitFor, type RunningBroker } from "@agentwire/testkit";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentwireError, connect, createAgent, currentTrace, z, type Agent, type Client, type Tracing } from "../src/index.js";
import { openTelemetry } from "../src/otel.js";
import { backoff, logger } from "./helpers.js";

/** A mesh pair with an outer agent on broker B whose handler submits `inner`, run by an agent on broker A. */
async function meshWithAgents(mesh: RunningBroker, tracing: Tracing | undefined, seen: (string | undefined)[]): Promise<{ agents: Agent[]; client: Client }> {
  const inner = await createAgent({ url: mesh.url, name: "inner", logger, backoff, tracing })
    .capability("trace.inner", { input: z.string() }, async (input, ctx) => {
      seen.push(currentTrace()?.traceparent);
      if (input === "fail") throw new AgentwireError("refused", "inner refused");
      return { inner: ctx.task.id };
    })
    .start();
  const outer = await createAgent({ url: mesh.agentUrl!, name: "outer", logger, backoff, tracing })
    .capability("trace.outer", { input: z.string() }, async (input, ctx) => {
      seen.push(currentTrace()?.traceparent);
      const nested = await ctx.submit<{ inner: string }>("trace.inner", input);
      return { outer: ctx.task.id, nested };
    })
    .respond("trace.ask", () => currentTrace()?.traceparent ?? null)
    .start();
  await mesh.visible!(outer.id!);
  // Broker B must list the inner agent (on A) before the outer agent's nested submit can route to it.
  await waitFor(async () => ((await outer.client.agents({ capability: "trace.inner" })).length > 0 ? true : undefined), 10_000, "broker B to list the inner agent");
  const client = await connect({ url: mesh.url, logger, backoff, tracing });
  return { agents: [inner, outer], client };
}

describe("trace context across a mesh, with OpenTelemetry", () => {
  let mesh: RunningBroker;
  let agents: Agent[] = [];
  let client: Client;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const seen: (string | undefined)[] = [];

  beforeAll(async () => {
    mesh = await startMeshPair();
    ({ agents, client } = await meshWithAgents(mesh, openTelemetry({ tracerProvider: provider }), seen));
  });

  afterAll(async () => {
    await client?.close();
    for (const a of agents) await a.close();
    await mesh?.stop();
    await provider.shutdown();
  });

  /** The finished spans of one trace, by name, once `count` of them ended. */
  async function spansOf(traceId: string, count: number): Promise<Map<string, ReadableSpan>> {
    const spans = await waitFor(() => {
      const mine = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      return mine.length >= count ? mine : undefined;
    }, 10_000, `${count} spans of trace ${traceId}`);
    expect(spans).toHaveLength(count);
    return new Map(spans.map((s) => [s.name, s]));
  }

  it("links client → agent → nested task → second agent in one trace, each span the parent of the next", async () => {
    exporter.reset();
    const handle = client.submit<{ outer: string; nested: { inner: string } }>("trace.outer", "go");
    const out = await handle;
    const taskId = await handle.id;
    expect(out.outer).toBe(taskId);

    const submitSpan = exporter.getFinishedSpans().find((s) => s.name === "submit trace.outer");
    expect(submitSpan, "the client's producer span").toBeDefined();
    const traceId = submitSpan!.spanContext().traceId;
    const spans = await spansOf(traceId, 4);
    const chain = ["submit trace.outer", "process trace.outer", "submit trace.inner", "process trace.inner"].map((name) => spans.get(name));
    expect(chain.every((s) => s !== undefined), [...spans.keys()].join(", ")).toBe(true);
    const [submitOuter, processOuter, submitInner, processInner] = chain as ReadableSpan[];

    // Each span's parent is the one before it; the client's has none.
    expect(submitOuter!.parentSpanContext).toBeUndefined();
    expect(processOuter!.parentSpanContext?.spanId).toBe(submitOuter!.spanContext().spanId);
    expect(submitInner!.parentSpanContext?.spanId).toBe(processOuter!.spanContext().spanId);
    expect(processInner!.parentSpanContext?.spanId).toBe(submitInner!.spanContext().spanId);
    expect(processOuter!.parentSpanContext?.isRemote).toBe(true);

    expect([submitOuter!.kind, processOuter!.kind, submitInner!.kind, processInner!.kind]).toEqual([SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.CONSUMER]);
    expect(submitOuter!.attributes).toMatchObject({ "messaging.system": "agentwire", "messaging.operation.type": "send", "messaging.operation.name": "submit", "messaging.destination.name": "trace.outer" });
    expect(processOuter!.attributes).toMatchObject({ "messaging.system": "agentwire", "messaging.operation.type": "process", "messaging.destination.name": "trace.outer", "messaging.message.id": taskId });
    expect(processInner!.attributes).toMatchObject({ "messaging.destination.name": "trace.inner", "messaging.message.id": out.nested.inner });

    // The handlers ran in their consumer span's trace context, so what they sent carried its ids.
    expect(seen.slice(-2)).toEqual([
      `00-${traceId}-${processOuter!.spanContext().spanId}-01`,
      `00-${traceId}-${processInner!.spanContext().spanId}-01`,
    ]);

    // The broker recorded the submit's trace context on the task's events [TRACE-7].
    const events = [];
    for await (const e of client.events({ task: taskId })) events.push(e.data as { type: string; traceparent?: string });
    expect(events.find((e) => e.type === "task.submitted")?.traceparent).toBe(`00-${traceId}-${submitOuter!.spanContext().spanId}-01`);
  });

  it("a submit given a trace context of the caller's starts its producer span as that context's child", async () => {
    exporter.reset();
    const parent = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
    await client.submit("trace.outer", "go", { trace: parent });
    const spans = await spansOf("0af7651916cd43dd8448eb211c80319c", 4);
    expect(spans.get("submit trace.outer")?.parentSpanContext).toMatchObject({ spanId: "b7ad6b7169203331", isRemote: true });
  });

  it("links a request across the brokers to the responder's consumer span, in whose trace context the handler runs", async () => {
    exporter.reset();
    const answered = await client.request<string>({ capability: "trace.ask" }, 1);
    const request = exporter.getFinishedSpans().find((s) => s.name === "request trace.ask");
    expect(request?.kind).toBe(SpanKind.PRODUCER);
    const spans = await spansOf(request!.spanContext().traceId, 2);
    const process = [...spans.values()].find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(process.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    expect(process.attributes).toMatchObject({ "messaging.operation.type": "process", "messaging.operation.name": "process request" });
    expect(answered).toBe(`00-${process.spanContext().traceId}-${process.spanContext().spanId}-01`);
  });

  it("marks the spans of a failed nested task failed, with its error code", async () => {
    exporter.reset();
    await expect(client.submit("trace.outer", "fail")).rejects.toMatchObject({ code: "refused" });
    const submitSpan = exporter.getFinishedSpans().find((s) => s.name === "submit trace.outer")!;
    const spans = await spansOf(submitSpan.spanContext().traceId, 4);
    for (const name of ["process trace.inner", "process trace.outer"]) {
      expect(spans.get(name)?.status.code, name).toBe(SpanStatusCode.ERROR);
      expect(spans.get(name)?.attributes["error.type"], name).toBe("refused");
    }
    expect(submitSpan.status.code).toBe(SpanStatusCode.UNSET); // the submit itself was accepted
  });
});

describe("trace context across a mesh, without any tracer", () => {
  let mesh: RunningBroker;
  let agents: Agent[] = [];
  let client: Client;
  const seen: (string | undefined)[] = [];

  beforeAll(async () => {
    mesh = await startMeshPair();
    ({ agents, client } = await meshWithAgents(mesh, undefined, seen));
  });

  afterAll(async () => {
    await client?.close();
    for (const a of agents) await a.close();
    await mesh?.stop();
  });

  it("carries the submit's traceparent and tracestate unchanged to the agent and into the nested task", async () => {
    const trace = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "congo=t61rcWkgMzE" };
    seen.length = 0;
    await client.submit("trace.outer", "go", { trace });
    expect(seen).toEqual([trace.traceparent, trace.traceparent]);
    const events = [];
    for await (const e of client.events({ type: "task.submitted", capability: "trace.outer" })) events.push(e.data as { capability: string; traceparent?: string; tracestate?: string });
    expect(events.find((e) => e.capability === "trace.outer")).toMatchObject(trace);
  });

  it("a submit outside any handler and without a trace carries none", async () => {
    seen.length = 0;
    await client.submit("trace.outer", "go");
    expect(seen).toEqual([undefined, undefined]);
  });
});
