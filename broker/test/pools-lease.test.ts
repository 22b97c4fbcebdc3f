/**
 * The decider lease of a pool over a private redis-server [POOL-15]: one holder at a time, a fence
 * that grows with every new holder, decisions recorded only under the fence that holds the lease, so
 * a broker whose lease lapsed (paused, cut off) cannot record (and so never carries out) a decision.
 */
import { Redis } from "ioredis";
import pino from "pino";
import { expect, it } from "vitest";
import { startRedis, waitFor } from "@agentwire/testkit";
import type { PoolEvent } from "../src/events.js";
import { RedisPools } from "../src/redis/pools.js";

const log = pino({ level: "silent" });
const AUTOSCALE = { up_threshold: 0.8, down_threshold: 0.2, step: 2, interval_ms: 100, window_ms: 300, stabilization_ms: 1000, cooldown_ms: 0 };
const decision = (broker: string, to: number): PoolEvent => ({
  type: "pool.scaled",
  at: Date.now(),
  broker_id: broker,
  pool: "p",
  from: 1,
  to,
  reason: "utilization_high",
  utilization: 1,
  in_flight: 2,
  capacity: 2,
  queued: 0,
});

/** Brokers "a" and "b" sharing pools over the Redis at `url`, each on its own connection. */
function pair(url: string): { a: RedisPools; b: RedisPools } & Disposable {
  const [ca, cb] = [new Redis(url), new Redis(url)];
  return {
    a: new RedisPools(ca, "a", () => ["b"], log),
    b: new RedisPools(cb, "b", () => ["a"], log),
    [Symbol.dispose]() {
      ca.disconnect();
      cb.disconnect();
    },
  };
}

it("gives the lease to one broker at a time, fences the next holder higher, and refuses a lapsed holder's decisions", async () => {
  await using redis = await startRedis();
  using brokers = pair(redis.url);
  const { a, b } = brokers;
  const fenceA = await a.lease("p", 300);
  expect(fenceA).toBeGreaterThan(0);
  expect(await b.lease("p", 300)).toBe(0); // held by a
  expect(await a.lease("p", 300)).toBe(fenceA); // a renews with the same fence
  expect(await a.decided("p", fenceA, decision("a", 2))).toBe(true);

  // a stops renewing (a pause): once its lease lapses b takes it, with a higher fence.
  const fenceB = await waitFor(async () => {
    const f = await b.lease("p", 5_000);
    return f > 0 ? f : undefined;
  }, 10_000, "b to take the lapsed lease");
  expect(fenceB).toBeGreaterThan(fenceA);
  // a wakes up and carries on with what it decided before: refused, and it cannot take the lease back.
  expect(await a.decided("p", fenceA, decision("a", 3))).toBe(false);
  expect(await a.lease("p", 300)).toBe(0);
  expect(await b.decided("p", fenceB, decision("b", 3))).toBe(true);

  // Both see the one list of the pool (b publishes its record): a's first decision, then b's; a's refused one is not in it.
  await b.sync(new Map(), [{ name: "p", capabilities: ["work"], min: 1, max: 3, supervisor: "sup-2", broker: "b", interval_ms: 100, autoscale: AUTOSCALE }]);
  await a.sync(new Map(), []);
  expect(a.decisions("p").map((d) => [d.broker_id, d.to])).toEqual([["a", 2], ["b", 3]]);

  // Releasing is only the holder's: a cannot release b's lease; b can, and a takes it next, fenced higher still.
  await a.release("p");
  expect(await a.lease("p", 300)).toBe(0);
  await b.release("p");
  expect(await a.lease("p", 300)).toBeGreaterThan(fenceB);
});

it("shares each broker's queued tasks and pool records through sync", async () => {
  await using redis = await startRedis();
  using brokers = pair(redis.url);
  const { a, b } = brokers;
  await a.sync(new Map([["work", 3], ["other", 1]]), [{ name: "p", capabilities: ["work"], min: 1, max: 3, supervisor: "sup-1", broker: "a", interval_ms: 100, autoscale: AUTOSCALE }]);
  await b.sync(new Map([["work", 2]]), []);
  expect(b.remoteRecords()).toEqual([{ name: "p", capabilities: ["work"], min: 1, max: 3, supervisor: "sup-1", broker: "a", interval_ms: 100, autoscale: AUTOSCALE }]);
  expect(b.remoteQueued(["work"])).toBe(3);
  expect(b.remoteQueued(["work", "other"])).toBe(4);
  await a.sync(new Map([["work", 0]]), []);
  expect(a.remoteQueued(["work"])).toBe(2);
  // a's own records are not remote to a.
  expect(a.remoteRecords()).toEqual([]);
});
