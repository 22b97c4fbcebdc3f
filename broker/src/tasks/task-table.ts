/**
 * Task records: lean plain objects, no Promise or timer per task. Ended tasks stay for `resultTtlMs`
 * (results for GET /v1/tasks/:id, idempotency keys) and are forgotten oldest first, earlier when more
 * than `maxEnded` of them, or more than `maxEndedBytes` of their estimated size, are kept at once.
 */
import { randomBytes } from "node:crypto";
import type { ErrorInfo, Priority, Strategy, TaskState, TraceContext } from "@agentwire/wire";
import type { Deadlined } from "./deadlines.js";
import { Deque } from "../dispatch/deque.js";

/** Whoever learns a task's progress and result: a session, or an HTTP waiter. */
export interface TaskObserver {
  onProgress(task: TaskRecord, data: Uint8Array): void;
  /** The task ended; `submitted`: this observer submitted it (its open item ends), rather than watched it. */
  onResult(task: TaskRecord, ref: string | undefined, submitted: boolean): void;
}

export interface Watcher {
  observer: TaskObserver;
  ref: string | undefined;
}

export interface TaskRecord extends Deadlined {
  readonly id: string;
  /** Acceptance order, for FIFO within a priority. */
  readonly seq: number;
  readonly capability: string;
  readonly version: string | undefined;
  /** Routing only: dropped once the task ended. */
  tags: readonly string[] | undefined;
  input: Uint8Array;
  readonly priority: Priority;
  readonly strategy: Strategy;
  attempt: number;
  readonly maxAttempts: number;
  state: TaskState;
  /**
   * The token that submitted it over WebSocket or HTTP (the ACL's own string, not a copy); "" when no
   * token did: auth off, or a task another broker of the mesh handed over [AUTH-8].
   */
  readonly owner: string;
  /** The submitting observer and the ref it used; null once gone (the task keeps running). */
  submitter: TaskObserver | null;
  readonly ref: string;
  /** More observers (idempotent duplicates with their own ref, HTTP ?wait), rare. */
  watchers: Watcher[] | undefined;
  /**
   * The agent holding the current attempt (an opaque session); once ended, the id of the last
   * attempt's session only (its late results are recognised by it; the session is not kept reachable).
   */
  agent: object | string | null;
  /** Agent ids of earlier attempts, so their late results are ignored rather than refused. */
  formerAgents: string[] | undefined;
  /**
   * The task's timeout, ms: it was created at `deadline - timeoutMs` (`createdAt`). A small integer,
   * where a Unix-ms creation time would cost every open task a boxed number on the heap.
   */
  readonly timeoutMs: number;
  endedAt: number;
  ok: boolean;
  output: Uint8Array | undefined;
  error: ErrorInfo | undefined;
  idemKey: string | undefined;
  /** Set when the task was handed to another broker of the mesh (no local agent offered it). */
  remoteBroker?: string | undefined;
  /** The submit's trace context, for every attempt's `task` [TRACE-4]; undefined when it carried none, and once ended. */
  trace: TraceContext | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * Heap bytes an ended task's record costs besides its output and error: the record, its id and ref
 * strings, its slots in the table's map and ended queue, the output's typed-array objects. Measured
 * with `pnpm bench` ("Broker memory per retained ended task", bench/README.md) and rounded up.
 */
const ENDED_RECORD_BYTES = 560;

/**
 * An output viewing a received buffer more than this larger than itself (a socket read holding other
 * frames) is copied when its task ends, so the ended record holds its own bytes and nothing else.
 */
const PIN_SLACK = 256;

/** The estimated bytes an ended task's record keeps (what `--max-ended-bytes` bounds). */
function retainedBytes(task: TaskRecord): number {
  let n = ENDED_RECORD_BYTES + (task.output?.byteLength ?? 0) + (task.idemKey?.length ?? 0);
  const e = task.error;
  if (e !== undefined) n += 64 + e.code.length + e.message.length + (e.details === undefined ? 0 : roughSize(e.details));
  return n;
}

/** A rough heap size of a decoded document (error details), walked without recursion. */
function roughSize(doc: unknown): number {
  let n = 0;
  const todo: unknown[] = [doc];
  while (todo.length > 0) {
    const v = todo.pop();
    if (typeof v === "string") n += 16 + v.length;
    else if (v instanceof Uint8Array) n += 64 + v.byteLength;
    else if (typeof v === "object" && v !== null) {
      n += 32;
      for (const [k, x] of Object.entries(v)) {
        n += 16 + k.length;
        todo.push(x);
      }
    } else n += 8;
  }
  return n;
}

/**
 * Ids a broker makes are `<broker id>.<kind><incarnation>-<seq>`: kind `t` task, `s` session, `r`
 * request, `a` agent. The incarnation is random per process, so a broker restarted with the same
 * `--broker-id` never hands out an id its earlier run used [TASK-4, REG-11] (the mesh remembers
 * tasks by id: a reused one would be answered with another task's stored result).
 */
export function idPrefix(brokerId: string, kind: "t" | "s" | "r" | "a" | "e", incarnation: string): string {
  return `${brokerId}.${kind}${incarnation}-`;
}

/** A new process's incarnation: 32 random bits, base 36 (no "." or "-"). */
export function newIncarnation(): string {
  return randomBytes(4).readUInt32BE(0).toString(36);
}

/** The broker that accepted a task, from its id: incarnation and sequence are base 36 and "-" (no "."), so the last ".t" splits them. */
export function originOfTask(taskId: string): string | undefined {
  const cut = taskId.lastIndexOf(".t");
  return cut > 0 ? taskId.slice(0, cut) : undefined;
}

/** The incarnation of the broker process that accepted a task, from its id (undefined for other shapes). */
export function incarnationOfTask(taskId: string): string | undefined {
  const cut = taskId.lastIndexOf(".t");
  const dash = taskId.indexOf("-", cut);
  return cut > 0 && dash > cut ? taskId.slice(cut + 2, dash) : undefined;
}

/** The state an ended task is in, from its outcome. */
export function endState(ok: boolean, error: ErrorInfo | undefined): TaskState {
  return ok ? "succeeded" : error?.code === "cancelled" ? "cancelled" : error?.code === "deadline_exceeded" ? "deadline_exceeded" : "failed";
}

/** Unix ms at which the task was created. */
export function createdAt(task: TaskRecord): number {
  return task.deadline - task.timeoutMs;
}

/** Whether the task was ever sent to an agent (the last attempt's session id stays set once ended). */
export function everDispatched(task: TaskRecord): boolean {
  return task.agent !== null || task.formerAgents !== undefined || task.remoteBroker !== undefined;
}

export class TaskTable {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly ended = new Deque<TaskRecord>();
  private readonly idempotency = new Map<string, TaskRecord>();
  /** Tasks not ended, by state bucket, for metrics and shutdown. */
  open = 0;
  /** Sum of `retainedBytes` over the ended tasks kept. */
  private endedBytes = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEnded: number,
    private readonly maxEndedBytes: number,
  ) {}

  /** Ended tasks kept and their estimated bytes, for /metrics. */
  retention(): { tasks: number; bytes: number } {
    return { tasks: this.ended.span, bytes: this.endedBytes };
  }

  get size(): number {
    return this.tasks.size;
  }

  get(id: string): TaskRecord | undefined {
    return this.tasks.get(id);
  }

  byIdempotencyKey(key: string): TaskRecord | undefined {
    return this.idempotency.get(key);
  }

  add(task: TaskRecord): void {
    this.tasks.set(task.id, task);
    if (task.idemKey !== undefined) this.idempotency.set(task.idemKey, task);
    this.open++;
  }

  /**
   * Marks a task ended (its outcome set): it is kept for the TTL, then forgotten; the oldest ended
   * tasks go first while more than the count or bytes cap are kept. What only a running task needs
   * (input, routing tags) is dropped.
   */
  markEnded(task: TaskRecord, now: number): void {
    task.endedAt = now;
    task.input = EMPTY;
    task.tags = undefined;
    task.trace = undefined;
    const out = task.output;
    if (out !== undefined && out.buffer.byteLength > out.byteLength + PIN_SLACK) task.output = Uint8Array.prototype.slice.call(out);
    this.open--;
    this.ended.push(task);
    this.endedBytes += retainedBytes(task);
    while (this.ended.span > this.maxEnded || (this.endedBytes > this.maxEndedBytes && this.ended.span > 0)) this.forgetOldest();
  }

  /** Forgets ended tasks older than the TTL; called from the broker's periodic tick. */
  sweep(now: number): void {
    for (let t = this.ended.peek(); t !== undefined && now - t.endedAt >= this.ttlMs; t = this.ended.peek()) this.forgetOldest();
  }

  values(): IterableIterator<TaskRecord> {
    return this.tasks.values();
  }

  /** Removes a task that was created but never announced (its `accepted` could not be sent). */
  discard(task: TaskRecord): void {
    if (this.tasks.get(task.id) !== task) return;
    this.tasks.delete(task.id);
    if (task.idemKey !== undefined && this.idempotency.get(task.idemKey) === task) this.idempotency.delete(task.idemKey);
    this.open--;
  }

  private forgetOldest(): void {
    const task = this.ended.shift()!;
    this.endedBytes -= retainedBytes(task);
    this.tasks.delete(task.id);
    if (task.idemKey !== undefined && this.idempotency.get(task.idemKey) === task) this.idempotency.delete(task.idemKey);
  }
}
