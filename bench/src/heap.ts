/**
 * Broker memory per in-flight task: a raw agent holds every task unanswered while a raw client
 * submits N of them; the broker's growth is read from /metrics (nodejs_heap_size_used_bytes) when
 * exposed, and from its RSS (/proc/<pid>/status) always.
 */
import { WebSocket } from "ws";
import { encodePayload } from "@agentwire/wire";
import { log, payloadOf, procRssBytes, startBroker, startRole } from "./harness.js";
import { rawClient } from "./scenarios/agentwire-raw.js";

export interface HeapResult {
  kind: "heap";
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
  const ws = new WebSocket(wsUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    let next = 0;
    const call = (method: string): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const id = ++next;
        const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), 30_000);
        const onMessage = (data: Buffer): void => {
          const msg = JSON.parse(data.toString()) as { id?: number; result?: Record<string, unknown> };
          if (msg.id !== id) return;
          clearTimeout(timer);
          ws.off("message", onMessage);
          resolve(msg.result ?? {});
        };
        ws.on("message", onMessage);
        ws.send(JSON.stringify({ id, method }));
      });
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const usage = await call("Runtime.getHeapUsage");
    return typeof usage["usedSize"] === "number" ? usage["usedSize"] : null;
  } catch {
    return null;
  } finally {
    ws.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function measureHeap(tasks: number, payloadBytes: number, timeoutMs: number): Promise<HeapResult> {
  const limit = String(tasks * 2);
  const broker = await startBroker(["--max-in-flight", limit, "--max-queue-length", limit, "--task-timeout-ms", "3600000", "--send-buffer-bytes", String(1 << 30)], ["--inspect=127.0.0.1:0"]);
  const inspector = (await broker.child.waitForLine(/Debugger listening on (ws:\/\/\S+)/, 5000).catch(() => null))?.[1];
  const agent = await startRole("raw-agent", [broker.url, String(Math.min(1_000_000, tasks * 2)), "hold"]);
  const client = await rawClient(broker.url);
  try {
    await sleep(1000);
    const rssBefore = procRssBytes(broker.child.pid);
    const gcBefore = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const heapBefore = await heapUsed(broker.port);
    const input = encodePayload(payloadOf(payloadBytes));
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
    const rssAfter = procRssBytes(broker.child.pid);
    const heapAfter = await heapUsed(broker.port);
    const gcAfter = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const metricsPer = heapBefore !== null && heapAfter !== null ? (heapAfter - heapBefore) / tasks : null;
    const gcPer = gcBefore !== null && gcAfter !== null ? (gcAfter - gcBefore) / tasks : null;
    const heapPer = gcPer ?? metricsPer;
    return {
      kind: "heap",
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
    client.close();
    await agent.child.stop();
    await broker.child.stop(2000);
  }
}
