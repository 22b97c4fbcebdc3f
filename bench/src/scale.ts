/**
 * Broker cost per connected agent: N raw-wire agents (spread over a few `scale-agents.js` children)
 * register one capability each and heartbeat at a short announced interval. Reports the broker's RSS
 * and heap (forced GC, over the inspector) per connection, and its CPU over a fixed window of
 * heartbeating, per heartbeat; checks that all N stay registered and none is evicted.
 */
import { join } from "node:path";
import { waitFor, run, type Child } from "@agentwire/testkit";
import { BENCH_DIST, log, procCpuUs, procRssBytes, startBroker, track } from "./harness.js";
import { INSPECT, inspectorHeap, inspectorUrl } from "./heap.js";

export interface ScaleResult {
  kind: "scale";
  agents: number;
  processes: number;
  heartbeat_interval_ms: number;
  heartbeat_timeout_ms: number;
  window_ms: number;
  connect_ms: number;
  /** Registered agents per the broker's /metrics, after connecting and after the window. */
  registered: number;
  registered_after: number;
  evicted: number;
  closed: number;
  /** Idle after a forced GC; at the end of the window (garbage included); after a forced GC. */
  rss_idle: number;
  rss_after: number;
  rss_after_gc: number | null;
  rss_bytes_per_agent: number;
  rss_bytes_per_agent_gc: number | null;
  heap_idle: number | null;
  heap_after: number | null;
  heap_bytes_per_agent: number | null;
  broker_cpu_percent: number;
  heartbeats_per_sec: number;
  broker_cpu_us_per_heartbeat: number;
  agents_cpu_percent: number;
  note: string;
}

interface Stats {
  registered: number;
  failed: number;
  closed: number;
  sent: number;
  first_failure?: string;
}

/** Asks an agents child for its counters over IPC. */
function stats(child: Child): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("scale-agents: no stats answer")), 5_000);
    child.proc.once("message", (m: Stats) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.proc.send("stats");
  });
}

const sum = (all: Stats[], key: "registered" | "failed" | "closed" | "sent"): number => all.reduce((n, s) => n + s[key], 0);

/** Registered agents and open connections per the broker's /metrics gauges. */
async function gauges(port: number): Promise<{ agents: number; connections: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let agents = 0;
  for (const m of text.matchAll(/^agentwire_agents\{[^}]*\} (\d+)$/gm)) agents += Number(m[1]);
  const conn = /^agentwire_connections (\d+)$/m.exec(text);
  return { agents, connections: conn === null ? NaN : Number(conn[1]) };
}

export async function measureScale(agents: number, windowMs = 10_000, intervalMs = 1_000, processes = 4): Promise<ScaleResult> {
  const timeoutMs = 5 * intervalMs;
  const broker = await startBroker(["--heartbeat-interval-ms", String(intervalMs), "--heartbeat-timeout-ms", String(timeoutMs)], [INSPECT]);
  const inspector = await inspectorUrl(broker.child);
  const kids: Child[] = [];
  try {
    const heapIdle = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const rssIdle = procRssBytes(broker.child.pid);
    const per = Math.ceil(agents / processes);
    for (let i = 0; i * per < agents; i++) {
      const n = Math.min(per, agents - i * per);
      kids.push(track(run(process.execPath, [join(BENCH_DIST, "scale-agents.js"), broker.url, String(n)], { label: "scale-agents", stdio: ["ignore", "pipe", "pipe", "ipc"] })));
    }
    const ready = await Promise.all(kids.map(async (k) => JSON.parse((await k.waitForLine(/^ready (.*)$/, 120_000))[1] ?? "{}") as Stats & { connect_ms: number }));
    const connectMs = Math.max(...ready.map((r) => r.connect_ms));
    const failed = sum(ready, "failed");
    if (failed > 0) log(`scale: ${failed} sessions failed to register (${ready.find((r) => r.first_failure !== undefined)?.first_failure ?? "?"})`);
    const registered = (await gauges(broker.port)).agents;
    log(`scale: ${registered} agents registered in ${(connectMs / 1000).toFixed(1)} s; waiting for every agent's first heartbeat`);
    // Measure in steady state: each agent has started its heartbeat cycle.
    await waitFor(async () => ((sum(await Promise.all(kids.map(stats)), "sent") >= sum(ready, "registered")) ? true : undefined), 5 * intervalMs, "first heartbeats");

    const evictions = (): number => broker.child.lines.filter((l) => l.includes("evicting silent session")).length;
    const evictedBefore = evictions();
    const before = await Promise.all(kids.map(stats));
    const cpu0 = procCpuUs(broker.child.pid);
    const agentsCpu0 = kids.reduce((n, k) => n + procCpuUs(k.pid), 0);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const cpu1 = procCpuUs(broker.child.pid);
    const agentsCpu1 = kids.reduce((n, k) => n + procCpuUs(k.pid), 0);
    const elapsedUs = (performance.now() - t0) * 1000;
    const after = await Promise.all(kids.map(stats));
    const rssAfter = procRssBytes(broker.child.pid);
    const heartbeats = sum(after, "sent") - sum(before, "sent");
    const registeredAfter = (await gauges(broker.port)).agents;
    const heapAfter = inspector !== undefined ? await inspectorHeap(inspector) : null;
    const rssGc = heapAfter !== null ? procRssBytes(broker.child.pid) : null;
    return {
      kind: "scale",
      agents,
      processes: kids.length,
      heartbeat_interval_ms: intervalMs,
      heartbeat_timeout_ms: timeoutMs,
      window_ms: elapsedUs / 1000,
      connect_ms: connectMs,
      registered,
      registered_after: registeredAfter,
      evicted: evictions() - evictedBefore,
      closed: sum(after, "closed"),
      rss_idle: rssIdle,
      rss_after: rssAfter,
      rss_after_gc: rssGc,
      rss_bytes_per_agent: (rssAfter - rssIdle) / agents,
      rss_bytes_per_agent_gc: rssGc !== null ? (rssGc - rssIdle) / agents : null,
      heap_idle: heapIdle,
      heap_after: heapAfter,
      heap_bytes_per_agent: heapIdle !== null && heapAfter !== null ? (heapAfter - heapIdle) / agents : null,
      broker_cpu_percent: ((cpu1 - cpu0) / elapsedUs) * 100,
      heartbeats_per_sec: (heartbeats * 1e6) / elapsedUs,
      broker_cpu_us_per_heartbeat: heartbeats > 0 ? (cpu1 - cpu0) / heartbeats : NaN,
      agents_cpu_percent: ((agentsCpu1 - agentsCpu0) / elapsedUs) * 100,
      note:
        heapAfter !== null
          ? "idle figures after a forced GC (inspector); RSS at the window's end still holds heartbeat garbage, the GC'd RSS and heap what the sessions keep; broker CPU includes its eviction sweep over all sessions"
          : "inspector unavailable: heap and GC'd RSS not measured",
    };
  } finally {
    await Promise.all(kids.map((k) => k.stop(2000)));
    await broker.child.stop(5000);
  }
}
