/**
 * What the page keeps of the live stream: bounded whatever arrives. Events are counted into
 * per-second buckets and kept in capped lists (the newest); stats snapshots become per-second
 * series (tasks/s, p50/p99, queue depth) from the difference of two snapshots. Views read this and
 * render on a timer, never per event. No DOM here.
 */

import type { RecordedEvent as Recorded } from "@agentwire/wire";
import type { HistogramSnapshot, Stats } from "../../src/dashboard/stats.js";

export type { Stats };

/** A recorded event as the broker serves it (docs/events.md), its data read loosely: the page shows any type. */
export type RecordedEvent = Recorded<Record<string, unknown> & { task_id?: string; agent_id?: string; capability?: string; state?: string; attempt?: number; cause?: string }>;

/** One point of the overview's series, per stats snapshot. */
export interface Point {
  /** Unix seconds. */
  t: number;
  submitted: number;
  completed: number;
  failed: number;
  p50: number | null;
  p99: number | null;
  queued: number;
  queues: Record<string, number>;
}

export interface TaskRow {
  task_id: string;
  capability: string;
  state: string;
  attempt: number;
  agent_id: string | undefined;
  at: number;
  first: number;
}

export const LIMITS = { events: 500, tasks: 300, points: 300, seconds: 120 } as const;

/** Quantile `q` (0..1) in ms of the observations between two cumulative histograms, interpolated in its bucket. */
export function quantile(before: HistogramSnapshot | undefined, after: HistogramSnapshot, q: number): number | null {
  const counts = after.counts.map((c, i) => c - (before?.counts[i] ?? 0));
  const n = counts[counts.length - 1] ?? 0;
  if (n <= 0) return null;
  const rank = q * n;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i]! >= rank) {
      const lo = i === 0 ? 0 : (after.le[i - 1] ?? 0);
      const hi = after.le[i];
      if (hi === null || hi === undefined || !Number.isFinite(hi)) return lo * 1000;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const inBucket = counts[i]! - below;
      const frac = inBucket === 0 ? 1 : (rank - below) / inBucket;
      return (lo + (hi - lo) * frac) * 1000;
    }
  }
  return null;
}

const ENDED = (s: Stats): number => Object.values(s.tasks.ended_total).reduce((a, b) => a + b, 0);

export class Model {
  stats: Stats | undefined;
  readonly points: Point[] = [];
  /** Newest last, at most LIMITS.events. */
  readonly events: RecordedEvent[] = [];
  /** Latest known state per task seen on the stream, at most LIMITS.tasks (oldest dropped). */
  readonly tasks = new Map<string, TaskRow>();
  /** Events received per second and type, the last LIMITS.seconds seconds. */
  readonly perSecond = new Map<number, Map<string, number>>();
  received = 0;
  /** Events the broker skipped to hold the stream's rate (gap messages). */
  skipped = 0;
  /** Bumped by whatever changes what a view shows: a view renders when it moved. */
  version = 0;
  agentsChanged = 0;
  poolsChanged = 0;
  runsChanged = 0;
  private readonly taskListeners = new Map<string, () => void>();

  event(e: RecordedEvent): void {
    this.received++;
    this.version++;
    this.events.push(e);
    if (this.events.length > LIMITS.events * 2) this.events.splice(0, this.events.length - LIMITS.events);
    const second = Math.floor(e.at / 1000);
    let bucket = this.perSecond.get(second);
    if (bucket === undefined) {
      bucket = new Map();
      this.perSecond.set(second, bucket);
      for (const s of this.perSecond.keys()) if (s <= second - LIMITS.seconds) this.perSecond.delete(s);
    }
    bucket.set(e.type, (bucket.get(e.type) ?? 0) + 1);
    const d = e.data;
    if (e.type.startsWith("task.") && typeof d.task_id === "string") {
      const prev = this.tasks.get(d.task_id);
      if (prev !== undefined) this.tasks.delete(d.task_id); // re-inserted: Map order is recency
      this.tasks.set(d.task_id, {
        task_id: d.task_id,
        capability: String(d.capability ?? prev?.capability ?? ""),
        state: String(d.state ?? prev?.state ?? ""),
        attempt: Number(d.attempt ?? 0),
        agent_id: typeof d.agent_id === "string" ? d.agent_id : prev?.agent_id,
        at: e.at,
        first: prev?.first ?? e.at,
      });
      if (this.tasks.size > LIMITS.tasks) this.tasks.delete(this.tasks.keys().next().value!);
      this.taskListeners.get(d.task_id)?.();
    } else if (e.type.startsWith("agent.")) this.agentsChanged++;
    else if (e.type.startsWith("pool.")) this.poolsChanged++;
    else if (e.type.startsWith("workflow.")) this.runsChanged++;
  }

  gap(after: number, to: number): void {
    this.skipped += Math.max(0, to - after);
    this.version++;
  }

  snapshot(s: Stats): void {
    const prev = this.stats;
    this.stats = s;
    this.version++;
    if (prev === undefined || s.broker_id !== prev.broker_id || s.started_at !== prev.started_at) return; // rates need two of the same process
    const dt = Math.max(0.001, (s.at - prev.at) / 1000);
    const queues: Record<string, number> = {};
    for (const q of s.queues) queues[q.capability] = q.depth;
    this.points.push({
      t: s.at / 1000,
      submitted: Math.max(0, s.tasks.submitted_total - prev.tasks.submitted_total) / dt,
      completed: Math.max(0, (s.tasks.ended_total.succeeded ?? 0) - (prev.tasks.ended_total.succeeded ?? 0)) / dt,
      failed: Math.max(0, ENDED(s) - ENDED(prev) - ((s.tasks.ended_total.succeeded ?? 0) - (prev.tasks.ended_total.succeeded ?? 0))) / dt,
      p50: quantile(prev.latency, s.latency, 0.5),
      p99: quantile(prev.latency, s.latency, 0.99),
      queued: s.queues.reduce((a, q) => a + q.depth, 0),
      queues,
    });
    if (this.points.length > LIMITS.points) this.points.splice(0, this.points.length - LIMITS.points);
  }

  /** The newest events, newest first, at most `n`. */
  latest(n: number): RecordedEvent[] {
    return this.events.slice(-n).reverse();
  }

  /** Calls `f` whenever an event of task `id` arrives, until the returned function is called. */
  watchTask(id: string, f: () => void): () => void {
    this.taskListeners.set(id, f);
    return () => void this.taskListeners.delete(id);
  }
}
