/** HTTP: autocannon POST /v1/tasks?wait=5000 against the broker bin, SDK echo agent in a child. */
import autocannon from "autocannon";
import { cpuWindow, pidMeter, selfMeter, startBroker, startRole, payloadOf, type LoadOptions, type LoadResult } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const http: Scenario = {
  name: "http",
  describe: "autocannon POST /v1/tasks?wait=5000 (one connection per in-flight task) → broker → SDK agent",
  async setup(ctx) {
    const broker = await startBroker(["--max-in-flight", String(Math.max(1024, ctx.maxInflight * 2))]);
    const agent = await startRole("sdk-agent", [broker.url, String(Math.max(1024, ctx.maxInflight * 2))]);
    const body = JSON.stringify({ capability: "echo", input: payloadOf(ctx.payloadBytes) });
    const meters = [selfMeter("client"), pidMeter("broker", broker.child.pid), pidMeter("agent", agent.child.pid)];
    const cannon = (connections: number, seconds: number, amount: number): Promise<autocannon.Result> =>
      autocannon({
        url: `http://127.0.0.1:${broker.port}/v1/tasks?wait=5000`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        connections,
        pipelining: 1,
        duration: seconds,
        // Bounded by time and count: `amount` would override `duration`, maxOverallRequests does not.
        maxOverallRequests: amount,
        timeout: 10,
      });
    return {
      task: () => Promise.reject(new Error("http drives its own load")),
      meters,
      async drive(o: LoadOptions): Promise<LoadResult> {
        await cannon(o.inflight, Math.max(1, Math.round(o.warmupMs / 1000)), Math.max(o.inflight, o.warmupTasks));
        const cpu = cpuWindow(meters);
        const t0 = performance.now();
        const r = await cannon(o.inflight, Math.max(1, Math.round(o.durationMs / 1000)), Math.max(o.inflight, o.maxTasks));
        const elapsedMs = performance.now() - t0;
        const ok = r["2xx"];
        const { cpuUsPerTask, otherCpuPercent } = cpu.end(ok, elapsedMs);
        const errors = r.non2xx + r.errors + r.timeouts;
        return {
          tasks: ok,
          errors,
          elapsedMs,
          tasksPerSec: (ok * 1000) / elapsedMs,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          p999Ms: (r.latency as unknown as Record<string, number>)["p99_9"] ?? NaN,
          maxMs: r.latency.max,
          cpuUsPerTask,
          otherCpuPercent,
          stalled: false,
          ...(errors > 0 ? { firstError: `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts` } : {}),
        };
      },
      async close() {
        await agent.child.stop();
        await broker.child.stop();
      },
    };
  },
};
