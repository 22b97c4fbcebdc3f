/**
 * The dashboard page's model (broker/dashboard/src/model.ts, as tsc compiled it for the browser): what
 * it keeps stays bounded whatever arrives, and its p50/p99 and rates come from two stats snapshots.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { Stats } from "../src/dashboard/stats.js";

interface ModelModule {
  LIMITS: { events: number; tasks: number; points: number; seconds: number };
  quantile(before: Stats["latency"] | undefined, after: Stats["latency"], q: number): number | null;
  Model: new () => {
    events: unknown[];
    tasks: Map<string, { state: string; attempt: number }>;
    perSecond: Map<number, Map<string, number>>;
    points: { submitted: number; completed: number; failed: number; p50: number | null; p99: number | null; queued: number }[];
    received: number;
    event(e: unknown): void;
    snapshot(s: Stats): void;
    latest(n: number): { position: number }[];
  };
}

// The compiled page module (the dashboard project builds after the broker's, so it is imported by path).
const load = (): Promise<ModelModule> => import(pathToFileURL(join(import.meta.dirname, "..", "dist", "dashboard", "model.js")).href) as Promise<ModelModule>;

const histogram = (counts: number[]): Stats["latency"] => ({ le: [0.001, 0.01, 0.1, null], counts, count: counts.at(-1)!, sum: 0 });

function stats(at: number, submitted: number, succeeded: number, failed: number, latency: Stats["latency"]): Stats {
  return {
    broker_id: "b1",
    at,
    started_at: 1,
    brokers: [],
    agents: { total: 0, by_status: {} },
    connections: 0,
    tasks: { submitted_total: submitted, ended_total: { succeeded, failed }, by_state: {} },
    latency,
    dispatch_latency: histogram([0, 0, 0, 0]),
    queues: [{ capability: "a", depth: 3 }, { capability: "b", depth: 4 }],
    events: null,
    last_seen: {},
  };
}

describe("the dashboard's model", () => {
  it("interpolates quantiles within a bucket of the difference of two histograms", async () => {
    const { quantile } = await load();
    const before = histogram([0, 10, 10, 10]);
    const after = histogram([0, 60, 110, 110]); // 50 new in (1, 10] ms, 50 in (10, 100] ms
    expect(quantile(before, after, 0.5)).toBeCloseTo(10, 6);
    expect(quantile(before, after, 0.99)).toBeCloseTo(10 + 90 * 0.98, 6);
    expect(quantile(before, before, 0.5)).toBeNull(); // nothing new
    expect(quantile(undefined, histogram([0, 0, 0, 5]), 0.5)).toBe(100); // past the last bound: its lower edge
  });

  it("turns two snapshots into rates per second", async () => {
    const { Model } = await load();
    const m = new Model();
    m.snapshot(stats(10_000, 100, 90, 5, histogram([0, 0, 0, 0])));
    m.snapshot(stats(12_000, 300, 280, 9, histogram([0, 100, 200, 200])));
    expect(m.points).toHaveLength(1);
    expect(m.points[0]).toMatchObject({ submitted: 100, completed: 95, failed: 2, queued: 7 });
    expect(m.points[0]!.p50).toBeCloseTo(10, 6);
  });

  it("keeps bounded lists and per-second counts however many events arrive", async () => {
    const { Model, LIMITS } = await load();
    const m = new Model();
    const start = 1_800_000_000_000;
    for (let i = 1; i <= 100_000; i++) {
      m.event({ position: i, event_id: `e${i}`, stream: `task-t${i}`, stream_position: 1, type: i % 2 === 0 ? "task.succeeded" : "task.submitted", at: start + i, broker_id: "b1", data: { task_id: `t${Math.ceil(i / 2)}`, capability: "echo", state: i % 2 === 0 ? "succeeded" : "queued", attempt: 1 } });
    }
    expect(m.received).toBe(100_000);
    expect(m.events.length).toBeLessThanOrEqual(2 * LIMITS.events);
    expect(m.tasks.size).toBe(LIMITS.tasks);
    expect(m.latest(3).map((e) => e.position)).toEqual([100_000, 99_999, 99_998]);
    // One task's two events make one entry holding its latest state.
    expect(m.tasks.get("t50000")).toMatchObject({ state: "succeeded", attempt: 1 });
    // 100,000 events over 100 s, counted per second: the last LIMITS.seconds seconds kept.
    expect(m.perSecond.size).toBeLessThanOrEqual(LIMITS.seconds);
    const total = [...m.perSecond.values()].reduce((a, b) => a + [...b.values()].reduce((x, y) => x + y, 0), 0);
    expect(total).toBe(100_000);
  });
});
