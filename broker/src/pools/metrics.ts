/** The pools' gauges in /metrics, read when scraped: what an external autoscaler (KEDA, HPA) needs too. */
import { Gauge, type Registry as PromRegistry } from "prom-client";
import { utilizationOf } from "./autoscaler.js";
import type { PoolService } from "./pool-service.js";

export function registerPoolMetrics(registry: PromRegistry, pools: PoolService): void {
  const registers = [registry];
  const gauge = (name: string, help: string, pick: (figures: ReturnType<PoolService["figures"]>, pool: string) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ["pool"],
      registers,
      collect() {
        this.reset();
        for (const [name, { record }] of pools.known()) this.set({ pool: name }, pick(pools.figures(name, record.capabilities), name));
      },
    });
  };
  gauge("agentwire_pool_size", "Live members of the pool not draining, on every broker of the mesh.", (f) => f.size);
  gauge("agentwire_pool_desired_size", "Members the pool's last autoscaler decision asked for (its size before any).", (f, pool) => pools.desired(pool, f.size));
  gauge("agentwire_pool_utilization", "(in-flight + queued) / capacity over the pool's members, now.", (f) => utilizationOf(f));
  gauge("agentwire_pool_queue_depth", "Tasks queued for the pool's capabilities, on every broker of the mesh.", (f) => f.queued);
}
