/**
 * Bytes allocated per task, by function, on the in-memory path: `node bench/dist/src/alloc.js
 * [--tasks 20000] [--inflight 1] [--top 15]`. The broker bin runs in its own process with its V8
 * inspector open; the SDK client and the SDK echo agent run here. Each side is sampled with V8's
 * sampling heap profiler, counting objects already collected again (young and old generation), so
 * the figure is what the garbage collector has to deal with per task, not what stays alive. A task's
 * allocation is what GC time scales with (the broker and the agent spend a tenth of their time in GC
 * at 256 in flight); bench/README quotes the figures.
 */
import { Session } from "node:inspector/promises";
import { connect, createAgent, z } from "@agentwire/sdk";
import { startBroker } from "./harness.js";
import { INSPECT, inspectorSession, inspectorUrl } from "./heap.js";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const SAMPLING = { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} takes a positive integer`);
  return v;
}

/** Per-task bytes of each function (self), and the total, of one sampled profile. */
function summarize(head: ProfileNode, tasks: number, top: number): string {
  const byFn = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/") || "(native)"}:${f.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(head);
  const lines = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `  ${Math.round(v / tasks).toString().padStart(6)} B  ${k}`);
  return [`  ${Math.round(total / tasks)} B per task in all`, ...lines].join("\n");
}

async function main(): Promise<void> {
  const tasks = flag("tasks", 20_000);
  const inflight = flag("inflight", 1);
  const top = flag("top", 15);
  const broker = await startBroker(["--max-in-flight", String(Math.max(1024, inflight * 2))], [INSPECT]);
  const inspector = await inspectorUrl(broker.child);
  if (inspector === undefined) throw new Error("the broker announced no inspector");
  const remote = await inspectorSession(inspector);
  const local = new Session();
  local.connect();
  const agent = createAgent({ url: broker.url, name: "alloc-echo", capacity: Math.max(16, inflight) }).capability("echo", { input: z.unknown() }, (input) => input);
  await agent.start();
  const client = await connect({ url: broker.url, name: "alloc-client" });
  const payload = { data: "x".repeat(80) };
  const runTasks = async (n: number): Promise<void> => {
    let left = n;
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (left-- > 0) await client.submit("echo", payload);
    }));
  };
  try {
    await runTasks(Math.min(5_000, tasks)); // warm-up: JIT, buffers, pools
    await remote.call("HeapProfiler.startSampling", SAMPLING);
    await local.post("HeapProfiler.startSampling", SAMPLING);
    await runTasks(tasks);
    const here = (await local.post("HeapProfiler.stopSampling")).profile as unknown as { head: ProfileNode };
    const there = (await remote.call("HeapProfiler.stopSampling", undefined, 120_000))["profile"] as { head: ProfileNode };
    console.log(`allocation per task, ${tasks} tasks at ${inflight} in flight, 100-byte payload (V8 sampling heap profiler, collected objects included)`);
    console.log(`broker process:\n${summarize(there.head, tasks, top)}`);
    console.log(`SDK client and SDK agent (this process):\n${summarize(here.head, tasks, top)}`);
  } finally {
    remote.close();
    local.disconnect();
    await client.close();
    await agent.close();
    await broker.child.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
