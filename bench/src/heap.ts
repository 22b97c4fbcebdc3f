/**
 * Broker memory per in-flight task: a raw agent holds every task unanswered while a raw client
 * submits N of them; the broker's growth is read from /metrics (nodejs_heap_size_used_bytes) when
 * exposed, and from its RSS (/proc/<pid>/status) always; once per event store asked for (none, the
 * memory ring, PostgreSQL on a private server, frozen while the tasks arrive so that its buffer
 * fills to its bound).
 *
 * Broker memory per retained ended task: N tasks run to completion against a raw echo agent and stay
 * in the broker's table (TTL and caps raised past N); V8 heap and ArrayBuffer bytes after a forced
 * GC, against the same broker before the N tasks.
 */
import { WebSocket } from "ws";
import type { Child } from "@agentwire/testkit";
import { encodePayload } from "@agentwire/wire";
import { openEventStore, storeFigures, type EventStoreRun, type EventsMode } from "./event-stores.js";
import { log, payloadOf, procRssBytes, startRole } from "./harness.js";
import { rawClient } from "./scenarios/agentwire-raw.js";

export interface HeapResult {
  kind: "heap";
  /** The broker's event store during the measurement. */
  events: EventsMode;
  /** The store's counters after the measurement (null with no store). */
  events_written: number | null;
  events_dropped: number | null;
  /**
   * PostgreSQL, whose server is frozen while the tasks arrive: events waiting once every task was held
   * (the buffer's bound, --events-buffer), and the heap each costs (heap then, less heap once the
   * server was let go and they were written, per event).
   */
  events_buffered: number | null;
  buffer_bytes_per_event: number | null;
  tasks: number;
  payload_bytes: number;
  held: boolean;
  rss_before: number;
  rss_after: number;
  rss_bytes_per_task: number;
  heap_bytes_per_task: number | null;
  note: string;
}

async function heapUsed(port: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([0-9.e+]+)$/m.exec(text);
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * The broker's used heap after a full GC, read over the V8 inspector of a broker started with
 * `--inspect=127.0.0.1:0` (a Node runtime flag: nothing is added to the broker).
 */
export async function inspectorHeap(wsUrl: string): Promise<number | null> {
  return (await inspectorMemory(wsUrl))?.heap ?? null;
}

/**
 * After a full GC: the used V8 heap and the bytes of ArrayBuffer backing stores (outside the V8 heap:
 * payload bytes live there), the latter from `process.memoryUsage()` evaluated in the broker.
 */
async function inspectorMemory(wsUrl: string): Promise<{ heap: number; arrayBuffers: number | null } | null> {
  let session: InspectorSession | undefined;
  try {
    session = await inspectorSession(wsUrl);
    const call = session.call;
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const usage = await call("Runtime.getHeapUsage");
    if (typeof usage["usedSize"] !== "number") return null;
    const evaluated = await call("Runtime.evaluate", { expression: "process.memoryUsage().arrayBuffers", returnByValue: true });
    const value = (evaluated["result"] as { value?: unknown } | undefined)?.value;
    return { heap: usage["usedSize"], arrayBuffers: typeof value === "number" ? value : null };
  } catch {
    return null;
  } finally {
    session?.close();
  }
}

export interface InspectorSession {
  /** One inspector method call; rejects when no answer comes within `timeoutMs` (default 30 s). */
  call(method: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): void;
}

/** A session on the V8 inspector of a process started with `--inspect=127.0.0.1:0` (its announced ws:// URL). */
export async function inspectorSession(wsUrl: string): Promise<InspectorSession> {
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let next = 0;
  const call = (method: string, params?: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), timeoutMs);
      const onMessage = (data: Buffer): void => {
        const msg = JSON.parse(data.toString()) as { id?: number; result?: Record<string, unknown> };
        if (msg.id !== id) return;
        clearTimeout(timer);
        ws.off("message", onMessage);
        resolve(msg.result ?? {});
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Node flag that opens a process's V8 inspector on a free loopback port (`inspectorUrl` reads which). */
export const INSPECT = "--inspect=127.0.0.1:0";

/** The ws:// URL a process started with INSPECT announced, or undefined when it announced none. */
export async function inspectorUrl(child: Child): Promise<string | undefined> {
  return (await child.waitForLine(/Debugger listening on (ws:\/\/\S+)/, 5000).catch(() => null))?.[1];
}

/** The broker bin, with `store`'s flags, with its V8 inspector open (undefined when it did not announce one). */
async function inspectedBroker(store: EventStoreRun, args: string[]): Promise<{ broker: Awaited<ReturnType<EventStoreRun["startBroker"]>>; inspector: string | undefined }> {
  const broker = await store.startBroker("broker", args, [INSPECT]);
  return { broker, inspector: await inspectorUrl(broker.child) };
}

/**
 * `events` is the broker's event store: "off" gives the broker's own per-task state; the memory ring
 * adds at most --events-max events whatever the tasks; PostgreSQL adds what waits in its buffer, which
 * is written (the measurement waits for that) before the heap is read.
 */
export async function measureHeap(tasks: number, payloadBytes: number, timeoutMs: number, events: EventsMode): Promise<HeapResult> {
  const store = await openEventStore(events);
  try {
    return await heldTasks(store, tasks, payloadBytes, timeoutMs);
  } finally {
    await store.close();
  }
}

async function heldTasks(store: EventStoreRun, tasks: number, payloadBytes: number, timeoutMs: number): Promise<HeapResult> {
  const limit = String(tasks * 2);
  const { broker, inspector } = await inspectedBroker(store, ["--max-in-flight", limit, "--max-queue-length", limit, "--task-timeout-ms", "3600000", "--send-buffer-bytes", String(1 << 30)]);
  const agent = await startRole("raw-agent", [broker.url, String(Math.min(1_000_000, tasks * 2)), "hold"]);
  const client = await rawClient(broker.url);
  let frozen = false;
  try {
    await sleep(1000);
    await store.drained(timeoutMs);
    const rssBefore = procRssBytes(broker.child.pid);
    const gcBefore = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const heapBefore = await heapUsed(broker.port);
    const input = encodePayload(payloadOf(payloadBytes));
    // The PostgreSQL store's buffer at its bound (--events-buffer): the server is frozen (SIGSTOP)
    // while the tasks arrive, so their events wait (and past the bound are dropped) until it is let go.
    if (store.server !== undefined && inspector !== undefined) {
      store.server.pause();
      frozen = true;
    }
    for (let i = 0; i < tasks; i++) {
      void client.submit("echo", input).catch(() => undefined);
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    }
    log(`heap: ${tasks} submits sent; waiting for the agent to hold them all`);
    let held = true;
    await agent.child.waitForLine(new RegExp(`^held ${Math.floor(tasks / 10_000) * 10_000}$`), timeoutMs).catch((err: unknown) => {
      held = false;
      log(`heap: ${err instanceof Error ? err.message.split("\n").slice(0, 6).join(" | ") : String(err)}`);
    });
    await sleep(1500);
    let waiting: { events: number; heap: number | null } | null = null;
    if (frozen) {
      const events = (await storeFigures(broker.port))?.buffered ?? 0;
      waiting = { events, heap: events > 0 ? await inspectorHeap(inspector!) : null };
      store.server!.resume();
      frozen = false;
    }
    await store.drained(timeoutMs);
    const counters = await storeFigures(broker.port).catch(() => undefined);
    const rssAfter = procRssBytes(broker.child.pid);
    const heapAfter = await heapUsed(broker.port);
    const gcAfter = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const metricsPer = heapBefore !== null && heapAfter !== null ? (heapAfter - heapBefore) / tasks : null;
    const gcPer = gcBefore !== null && gcAfter !== null ? (gcAfter - gcBefore) / tasks : null;
    const heapPer = gcPer ?? metricsPer;
    return {
      kind: "heap",
      events: store.mode,
      events_written: counters?.written ?? null,
      events_dropped: counters?.dropped ?? null,
      events_buffered: waiting?.events ?? null,
      buffer_bytes_per_event: waiting !== null && waiting.heap !== null && gcAfter !== null && waiting.events > 0 ? (waiting.heap - gcAfter) / waiting.events : null,
      tasks,
      payload_bytes: payloadBytes,
      held,
      rss_before: rssBefore,
      rss_after: rssAfter,
      rss_bytes_per_task: (rssAfter - rssBefore) / tasks,
      heap_bytes_per_task: heapPer,
      note:
        gcPer !== null
          ? `heap = V8 used heap after forced GC (inspector Runtime.getHeapUsage, ${(gcBefore! / 2 ** 20).toFixed(1)} → ${(gcAfter! / 2 ** 20).toFixed(1)} MiB)${metricsPer === null ? "; /metrics exposes no nodejs_heap_size_used_bytes" : ""}`
          : metricsPer !== null
            ? "heap from broker /metrics nodejs_heap_size_used_bytes (no forced GC)"
            : "broker /metrics exposes no nodejs_heap_size_used_bytes and the inspector was unavailable: heap not measured",
    };
  } finally {
    if (frozen) store.server!.resume();
    client.close();
    await agent.child.stop();
    await broker.child.stop(2000);
  }
}

export interface EndedResult {
  kind: "ended";
  /** Tasks asked for and tasks whose result came back (the figures are per completed task). */
  tasks: number;
  completed: number;
  payload_bytes: number;
  /** Encoded output bytes of each task (the echoed input document). */
  output_bytes: number;
  heap_bytes_per_task: number | null;
  /** ArrayBuffer backing stores (outside the V8 heap): the output bytes and whatever buffers they pin. */
  array_buffer_bytes_per_task: number | null;
  rss_bytes_per_task: number;
  /** What the broker itself counts against --max-ended-bytes, per retained task (its /metrics). */
  accounted_bytes_per_task: number | null;
  note: string;
}

/** Ended tasks retained and the bytes accounted for them, from the broker's /metrics. */
async function retention(port: number): Promise<{ tasks: number; bytes: number } | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const tasks = /^agentwire_ended_tasks_retained (\d+)$/m.exec(text);
    const bytes = /^agentwire_ended_tasks_retained_bytes (\d+)$/m.exec(text);
    return tasks === null || bytes === null ? null : { tasks: Number(tasks[1]), bytes: Number(bytes[1]) };
  } catch {
    return null;
  }
}

/** Runs `n` calls of `submit` over `lanes` closed-loop lanes until done or `deadline`; returns the successes. */
async function complete(submit: () => Promise<unknown>, n: number, lanes: number, deadline: number): Promise<number> {
  let started = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (started < n && Date.now() < deadline) {
      started++;
      if (await submit().then(() => true, () => false)) done++;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(Array.from({ length: lanes }, lane)), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
  clearTimeout(timer);
  return done;
}

/**
 * Broker memory per retained ended task: a raw echo agent answers N tasks whose record the broker keeps
 * (TTL, --max-ended-tasks and --max-ended-bytes all above what N needs); after a 2,000-task warm-up,
 * heap and ArrayBuffer bytes after a forced GC before and after the N tasks.
 */
export async function measureEnded(tasks: number, payloadBytes: number, timeoutMs: number): Promise<EndedResult> {
  const warmup = 2_000;
  const keep = String(tasks + warmup);
  // The broker's own per-task state: no event store (bench/README gives the ring's size at capacity).
  const store = await openEventStore("off");
  const { broker, inspector } = await inspectedBroker(store, ["--result-ttl-ms", "3600000", "--max-ended-tasks", keep, "--max-ended-bytes", String(2 ** 40), "--max-in-flight", "1024"]);
  const agent = await startRole("raw-agent", [broker.url, "1024"]);
  const client = await rawClient(broker.url);
  try {
    const input = encodePayload(payloadOf(payloadBytes));
    const deadline = Date.now() + timeoutMs;
    await complete(() => client.submit("echo", input), warmup, 256, deadline);
    const rssBefore = procRssBytes(broker.child.pid);
    const before = inspector !== undefined ? await inspectorMemory(inspector) : null;
    const completed = await complete(() => client.submit("echo", input), tasks, 256, deadline);
    log(`ended: ${completed} of ${tasks} tasks completed`);
    const after = inspector !== undefined ? await inspectorMemory(inspector) : null;
    const rssAfter = procRssBytes(broker.child.pid);
    const kept = await retention(broker.port);
    const per = (a: number | null | undefined, b: number | null | undefined): number | null => (a != null && b != null && completed > 0 ? (a - b) / completed : null);
    return {
      kind: "ended",
      tasks,
      completed,
      payload_bytes: payloadBytes,
      output_bytes: input.byteLength,
      heap_bytes_per_task: per(after?.heap, before?.heap),
      array_buffer_bytes_per_task: per(after?.arrayBuffers, before?.arrayBuffers),
      rss_bytes_per_task: (rssAfter - rssBefore) / Math.max(1, completed),
      accounted_bytes_per_task: kept !== null && kept.tasks > 0 ? kept.bytes / kept.tasks : null,
      note:
        after !== null
          ? `heap = V8 used heap after forced GC, ${(before!.heap / 2 ** 20).toFixed(1)} → ${(after.heap / 2 ** 20).toFixed(1)} MiB; ArrayBuffers = process.memoryUsage().arrayBuffers after the same GC${kept === null ? "; /metrics has no ended-task retention figures" : `; ${kept.tasks} ended tasks retained`}`
          : "the inspector was unavailable: heap not measured",
    };
  } finally {
    client.close();
    await agent.child.stop();
    await broker.child.stop(2000);
    await store.close();
  }
}
