/**
 * What the pools need from the other brokers of a mesh [POOL-15], as a port: the pools declared on
 * them, their queued tasks, the decider lease and the shared list of decisions. `LocalPools` is a
 * single broker (it always holds every lease); `RedisPools` (src/redis/pools.ts) shares them over Redis.
 */
import type { Autoscale } from "@agentwire/wire";
import type { PoolEvent } from "../events.js";

/** A pool as its supervisor's broker publishes it. */
export interface PoolRecord {
  name: string;
  capabilities: string[];
  min: number;
  max: number;
  /** The supervisor's agent id, or null while it has none [POOL-5]. */
  supervisor: string | null;
  /** The broker of that supervisor (the pool's decider while it holds the lease). */
  broker: string;
  /** The pool's evaluation interval: the other brokers publish their figures at this pace. */
  interval_ms: number;
  /** The autoscaler settings in force (after defaults and the operator's limits). */
  autoscale: Required<Autoscale>;
}

export interface PoolMesh {
  /** Whether there are other brokers to share with (a mesh). */
  readonly shared: boolean;
  /**
   * Once per pool tick: publishes this broker's queued tasks per capability (`queued`) and its pools'
   * records, and refreshes what the others published. Resolves when done; never rejects.
   */
  sync(queued: ReadonlyMap<string, number>, records: readonly PoolRecord[]): Promise<void>;
  /** Pools declared on other brokers, as of the last sync. */
  remoteRecords(): readonly PoolRecord[];
  /** Tasks queued on the other brokers for any of `capabilities`, as of the last sync. */
  remoteQueued(capabilities: readonly string[]): number;
  /**
   * Takes or renews this broker's lease on deciding for `pool` for `ttlMs`: its fence (a number that
   * grows with every new holder), or 0 when another broker holds it.
   */
  lease(pool: string, ttlMs: number): Promise<number>;
  /** Gives a held lease up (the supervisor left this broker). */
  release(pool: string): Promise<void>;
  /** Appends a decision made under `fence`; false when the lease was lost meanwhile (the decision must not be carried out). */
  decided(pool: string, fence: number, event: PoolEvent): Promise<boolean>;
  /** The last decisions of `pool`, oldest first (at most `DECISIONS_KEPT`), mesh-wide as of the last sync. */
  decisions(pool: string): readonly PoolEvent[];
}

/** Decisions kept per pool for GET /v1/pools. */
export const DECISIONS_KEPT = 20;

/** A single broker: nothing is remote, every lease is ours. */
export class LocalPools implements PoolMesh {
  readonly shared = false;
  private readonly kept = new Map<string, PoolEvent[]>();

  async sync(): Promise<void> {}
  remoteRecords(): readonly PoolRecord[] {
    return [];
  }
  remoteQueued(): number {
    return 0;
  }
  async lease(): Promise<number> {
    return 1;
  }
  async release(): Promise<void> {}
  async decided(pool: string, _fence: number, event: PoolEvent): Promise<boolean> {
    let list = this.kept.get(pool);
    if (list === undefined) this.kept.set(pool, (list = []));
    list.push(event);
    if (list.length > DECISIONS_KEPT) list.shift();
    return true;
  }
  decisions(pool: string): readonly PoolEvent[] {
    return this.kept.get(pool) ?? [];
  }
}
