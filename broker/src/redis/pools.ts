/**
 * The pools' share of the mesh over Redis [POOL-15], on the broker's `cmd` connection (no connection
 * of its own): pool declarations in one mesh hash, each broker's queued tasks per capability under its
 * hash tag (refreshed every pool tick, expiring with it), and per pool (hash tag `{pool:<name>}`, so
 * the scripts work on Cluster) the decider lease with its fence and the list of the last decisions.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { PoolEvent } from "../events.js";
import { DECISIONS_KEPT, type PoolMesh, type PoolRecord } from "../pools/pool-mesh.js";
import { defineScripts } from "./scripts.js";

export const poolKeys = {
  /** Hash pool name -> PoolRecord JSON, written by the supervisor's broker. */
  records: "aw:{mesh}:pools",
  /** Hash capability -> tasks queued on broker `id`, PX a few pool ticks. */
  queued: (brokerId: string) => `aw:{b:${brokerId}}:pool-queued`,
  /** String "<broker>|<fence>" PX the lease time: who decides for the pool. */
  lease: (pool: string) => `aw:{pool:${pool}}:lease`,
  /** Counter: the last fence given for the pool. */
  fence: (pool: string) => `aw:{pool:${pool}}:fence`,
  /** List of the last decisions (pool.scaled JSON), oldest first. */
  decisions: (pool: string) => `aw:{pool:${pool}}:decisions`,
} as const;

interface PoolCommands {
  poolLease(lease: string, fence: string, brokerId: string, ttlMs: number): Promise<number>;
  poolDecided(lease: string, decisions: string, brokerId: string, fence: number, event: string, keep: number): Promise<number>;
  poolRelease(lease: string, brokerId: string): Promise<number>;
}

/** How long a broker's published queue figures live without a refresh. */
const QUEUED_TTL_MS = 5_000;

export class RedisPools implements PoolMesh {
  readonly shared = true;
  private readonly cmd: Redis & PoolCommands;
  private records: PoolRecord[] = [];
  private readonly queuedByBroker = new Map<string, Record<string, string>>();
  private readonly kept = new Map<string, PoolEvent[]>();
  /** Whether the last sync left this broker's queue figures in Redis. */
  private queuedWritten = false;

  constructor(
    cmd: Redis,
    private readonly brokerId: string,
    /** The other live brokers (the registry cache's). */
    private readonly otherBrokers: () => Iterable<string>,
    private readonly log: Logger,
  ) {
    this.cmd = defineScripts<PoolCommands>(cmd, { poolLease: "pool-lease-2", poolDecided: "pool-decided-2", poolRelease: "pool-release-1" });
  }

  async sync(queued: ReadonlyMap<string, number>, records: readonly PoolRecord[]): Promise<void> {
    try {
      const mine = poolKeys.queued(this.brokerId);
      // The figures of the last sync are replaced (or, with none now, removed once: nothing to delete after that).
      const writes: Promise<unknown>[] = this.queuedWritten || queued.size > 0 ? [this.cmd.del(mine)] : [];
      if (queued.size > 0) writes.push(this.cmd.hset(mine, Object.fromEntries(queued)), this.cmd.pexpire(mine, QUEUED_TTL_MS));
      this.queuedWritten = queued.size > 0;
      for (const r of records) writes.push(this.cmd.hset(poolKeys.records, r.name, JSON.stringify(r)));
      await Promise.all(writes);
      const all = await this.cmd.hgetall(poolKeys.records);
      this.records = Object.values(all)
        .map((json) => JSON.parse(json) as PoolRecord)
        .filter((r) => r.broker !== this.brokerId);
      // No pool record anywhere (this broker's own were written above): the others' queue figures would count toward nothing.
      const others = Object.keys(all).length === 0 ? [] : [...this.otherBrokers()];
      const figures = await Promise.all(others.map((b) => this.cmd.hgetall(poolKeys.queued(b))));
      this.queuedByBroker.clear();
      others.forEach((b, i) => this.queuedByBroker.set(b, figures[i]!));
      const names = new Set([...Object.keys(all), ...records.map((r) => r.name)]);
      await Promise.all(
        [...names].map(async (name) => {
          const list = await this.cmd.lrange(poolKeys.decisions(name), 0, -1);
          this.kept.set(name, list.map((json) => JSON.parse(json) as PoolEvent));
        }),
      );
    } catch (err) {
      this.log.warn({ err }, "pool mesh sync failed");
    }
  }

  remoteRecords(): readonly PoolRecord[] {
    return this.records;
  }

  remoteQueued(capabilities: readonly string[]): number {
    let n = 0;
    for (const figures of this.queuedByBroker.values()) for (const c of capabilities) n += Number(figures[c] ?? 0);
    return n;
  }

  async lease(pool: string, ttlMs: number): Promise<number> {
    try {
      return await this.cmd.poolLease(poolKeys.lease(pool), poolKeys.fence(pool), this.brokerId, ttlMs);
    } catch (err) {
      this.log.warn({ err, pool }, "pool lease failed");
      return 0;
    }
  }

  async release(pool: string): Promise<void> {
    await this.cmd.poolRelease(poolKeys.lease(pool), this.brokerId).catch((err: unknown) => this.log.warn({ err, pool }, "pool lease release failed"));
  }

  async decided(pool: string, fence: number, event: PoolEvent): Promise<boolean> {
    try {
      const ok = (await this.cmd.poolDecided(poolKeys.lease(pool), poolKeys.decisions(pool), this.brokerId, fence, JSON.stringify(event), DECISIONS_KEPT)) === 1;
      if (ok) {
        const list = this.kept.get(pool) ?? [];
        this.kept.set(pool, [...list, event].slice(-DECISIONS_KEPT));
      }
      return ok;
    } catch (err) {
      this.log.warn({ err, pool }, "pool decision not recorded");
      return false;
    }
  }

  decisions(pool: string): readonly PoolEvent[] {
    return this.kept.get(pool) ?? [];
  }
}
