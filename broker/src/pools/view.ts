/** GET /v1/pools [§19]: every pool known here or on the mesh, with its figures, members and last decisions. */
import { utilizationOf } from "./autoscaler.js";
import type { PoolService } from "./pool-service.js";

export function poolsView(pools: PoolService): { pools: Record<string, unknown>[] } {
  const out: Record<string, unknown>[] = [];
  for (const [name, { record, local }] of pools.known()) {
    const f = pools.figures(name, record.capabilities);
    const supervised = local?.supervisor !== undefined || record.supervisor !== null;
    out.push({
      name,
      capabilities: record.capabilities,
      min: record.min,
      max: record.max,
      autoscale: record.autoscale,
      size: f.size,
      desired: pools.desired(name, f.size),
      utilization: utilizationOf(f),
      in_flight: f.inFlight,
      capacity: f.capacity,
      queued: f.queued,
      supervisor: record.supervisor,
      decider: supervised ? record.broker : null,
      members: pools.members(name).map(({ agent_id, broker_id, status, in_flight, capacity }) => ({ agent_id, broker_id, status, in_flight, capacity })),
      decisions: pools.decisions(name),
    });
  }
  return { pools: out };
}
