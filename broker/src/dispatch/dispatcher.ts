/**
 * Per-capability task queues (one FIFO per priority level, highest first) and the routing step:
 * a task goes to an agent as soon as one with free capacity qualifies; otherwise it waits at its
 * place in the queue until capacity frees up [ROUTE-2].
 */
import { PRIORITIES, PRIORITY_RANK, type Strategy as StrategyName } from "@agentwire/wire";
import type { Registry } from "../registry.js";
import { hasRoomNow } from "../serving.js";
import type { Session } from "../session.js";
import type { TaskRecord } from "../tasks/task-table.js";
import { capabilityMatch } from "./capability.js";
import { Deque } from "./deque.js";
import { leastLoaded } from "./least-loaded.js";
import { priorityTiers } from "./priority.js";
import { roundRobin } from "./round-robin.js";
import type { Pool, Strategy } from "./strategy.js";

export const STRATEGY_IMPLS: Readonly<Record<StrategyName, Strategy>> = {
  round_robin: roundRobin,
  capability: capabilityMatch,
  least_loaded: leastLoaded,
  priority: priorityTiers,
};

interface CapabilityQueue extends Pool {
  /** Index = PRIORITY_RANK; dispatch scans from the highest. */
  readonly levels: Deque<TaskRecord>[];
  /** Live queued tasks (cancelled/expired ones are removed lazily from the deques). */
  size: number;
}

export class Dispatcher {
  private readonly queues = new Map<string, CapabilityQueue>();
  private readonly scratch: Session[] = [];

  constructor(
    private readonly registry: Registry,
    /** Sends the task to the agent; called for every dispatch. */
    private readonly dispatch: (task: TaskRecord, agent: Session) => void,
  ) {}

  queueLength(capability: string): number {
    return this.queues.get(capability)?.size ?? 0;
  }

  /** Queued tasks of every capability, for metrics. */
  *depths(): IterableIterator<[string, number]> {
    for (const [name, q] of this.queues) yield [name, q.size];
  }

  /** Routes a (queued) task now if possible, else queues it; a retry goes back to its FIFO place [TASK-16]. */
  enqueue(task: TaskRecord, retry = false): void {
    const q = this.queue(task.capability);
    if (q.size === 0) {
      const agent = this.select(task, q);
      if (agent !== undefined) {
        this.dispatch(task, agent);
        return;
      }
    }
    const level = q.levels[PRIORITY_RANK[task.priority]]!;
    if (retry) level.insertBefore(task, (other) => other.seq > task.seq);
    else level.push(task);
    q.size++;
    if (q.size > 1) this.pump(task.capability);
  }

  /** A queued task ended (cancel, deadline): it no longer counts; its slot is skipped later. */
  dequeued(task: TaskRecord): void {
    const q = this.queues.get(task.capability);
    if (q !== undefined) q.size--;
  }

  /** Removes, in queue order, every queued task of `capability` that `take` accepts (it takes the task elsewhere). */
  takeWhere(capability: string, take: (task: TaskRecord) => boolean): void {
    const q = this.queues.get(capability);
    if (q === undefined || q.size === 0) return;
    for (let rank = q.levels.length - 1; rank >= 0 && q.size > 0; rank--) {
      const level = q.levels[rank]!;
      for (let i = 0; i < level.span; i++) {
        const task = level.at(i);
        if (task === undefined || task.state !== "queued" || !take(task)) continue;
        level.clearAt(i);
        q.size--;
      }
      level.trimHead();
    }
  }

  /**
   * Dispatches queued tasks in queue order; a task without a candidate is skipped and does not block
   * those behind it [ROUTE-4]. Stops as soon as no agent of the capability has room at all.
   */
  pump(capability: string): void {
    const q = this.queues.get(capability);
    if (q === undefined || q.size === 0) return;
    const now = Date.now();
    for (let rank = q.levels.length - 1; rank >= 0 && q.size > 0; rank--) {
      const level = q.levels[rank]!;
      const span = level.span;
      for (let i = 0; i < span; i++) {
        const task = level.at(i);
        if (task === undefined) continue;
        if (task.state !== "queued") {
          level.clearAt(i); // ended while queued
          continue;
        }
        // Past its deadline, its timer not yet run (timers fire late): that timer ends it, it is never dispatched [TASK-33, ROUTE-3].
        if (task.deadline <= now) continue;
        const agent = this.select(task, q);
        if (agent === undefined) {
          if (!this.anyRoom(capability)) {
            level.trimHead();
            return;
          }
          continue;
        }
        level.clearAt(i);
        q.size--;
        this.dispatch(task, agent);
      }
      level.trimHead();
    }
  }

  private anyRoom(capability: string): boolean {
    for (const s of this.registry.offering(capability)) if (hasRoomNow(s)) return true;
    return false;
  }

  private queue(capability: string): CapabilityQueue {
    let q = this.queues.get(capability);
    if (q === undefined) {
      q = { levels: PRIORITIES.map(() => new Deque<TaskRecord>()), size: 0, lastSeq: 0 };
      this.queues.set(capability, q);
    }
    return q;
  }

  private select(task: TaskRecord, q: CapabilityQueue): Session | undefined {
    const candidates = this.scratch;
    candidates.length = 0;
    for (const s of this.registry.offering(task.capability)) {
      if (!hasRoomNow(s)) continue;
      if ((task.version !== undefined || task.tags !== undefined) && !this.registry.matches(s, task.capability, task.version, task.tags)) continue;
      candidates.push(s);
    }
    if (candidates.length === 0) return undefined;
    const picked = (STRATEGY_IMPLS[task.strategy] ?? roundRobin).pick(candidates, task, q);
    candidates.length = 0;
    return picked;
  }
}
