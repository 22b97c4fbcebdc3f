/**
 * The task lifecycle [TASK-*]: submit → accepted → queued → dispatched → running → one result;
 * requeue on agent loss or retryable failure, cancel, deadlines, idempotency keys.
 */
import {
  AgentLostError,
  NoAgentsError,
  OverloadedError,
  errorInfo,
  type ErrorInfo,
  type Priority,
  type Progress,
  type Result,
  type Strategy,
  type TaskState,
} from "@agentwire/wire";
import type { MeshPort, RemoteOutcome } from "../backend.js";
import type { BrokerConfig } from "../config.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import { END_EVENT, type EventBus, type TaskEventType } from "../events.js";
import type { Registry } from "../registry.js";
import type { Session } from "../session.js";
import type { RequestRecord } from "../requests.js";
import { remainingMs, type DeadlineHeap } from "./deadlines.js";
import { canMove } from "./lifecycle.js";
import { carried } from "../trace.js";
import { endState, type TaskObserver, type TaskRecord, type TaskTable } from "./task-table.js";

/** What a submit asks for, from a `submit` frame or POST /v1/tasks. */
export interface TaskSpec {
  capability: string;
  input: Uint8Array;
  version?: string | undefined;
  tags?: string[] | undefined;
  priority?: Priority | undefined;
  timeout_ms?: number | undefined;
  strategy?: Strategy | undefined;
  idempotency_key?: string | undefined;
  max_attempts?: number | undefined;
  /** The first dispatch's attempt number, default 1: a workflow step's attempt [WF-13]. */
  attempt?: number | undefined;
  /** Trace context to pass on to every attempt [TRACE-4]. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** Options of tasks created for the mesh (handed over by another broker). */
export interface CreateOptions {
  /** The origin's attempt number (1 on first handoff, + 1 per reclaim). */
  attempt?: number | undefined;
  /**
   * Handed over by another broker: only local agents run it, and with none (any more) it waits in the
   * queue for one (until its deadline) rather than failing `no_agents` [MESH-2]; the mesh hands it
   * on before that when another broker's agent offers it.
   */
  localOnly?: boolean | undefined;
  /**
   * The origin's task id, so the agent sees the id the submitter holds (TASK-4: one id across the
   * mesh). Ignored when this table already holds it: the task came back to its origin after a reclaim.
   */
  id?: string | undefined;
}


/** The event announcing a task's arrival in each state. */
const STATE_EVENT: Readonly<Record<TaskState, TaskEventType>> = {
  queued: "task.queued",
  dispatched: "task.dispatched",
  running: "task.running",
  requeued: "task.requeued",
  ...END_EVENT,
};

/** Pause before handing a task over (or recording it) again after the shared store refused it. */
const HANDOFF_RETRY_MS = 250;

/** How long a keyed submit in a mesh waits for the store to take its task's record. */
const RECORD_PATIENCE_MS = 5_000;

/** The idempotency scope of a token (TASK-27), apart from the mesh's `mesh:<origin>` scopes. */
export function tokenScope(token: string | undefined): string {
  return `t:${token ?? ""}`;
}

/** An idempotency key within its scope: what TASK-26 compares. */
export function scopedKey(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}

/** Whether a task runs here for another broker of the mesh (its idempotency scope is the origin's). */
export function isMeshRun(task: TaskRecord): boolean {
  return task.idemKey !== undefined && task.idemKey.startsWith("mesh:");
}

export interface Submitted {
  task: TaskRecord;
  duplicate: boolean;
}

export class TaskService {
  private seq = 0;
  /** Called whenever a dispatched task ends or is requeued (shutdown waits on it). */
  onRelease: (() => void) | undefined;
  /** Tasks handed to another broker of the mesh and not ended. */
  private handedOver = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly idPrefix: string,
    readonly table: TaskTable,
    private readonly deadlines: DeadlineHeap<TaskRecord | RequestRecord>,
    private readonly dispatcher: Dispatcher,
    private readonly registry: Registry,
    private readonly events: EventBus,
    private readonly mesh: MeshPort,
  ) {}

  /**
   * Where a task for `capability` waits when no agent anywhere offers it because a pool's members
   * offer it (scale from zero, POOL-17): "" for this broker, else the broker of the pool's supervisor;
   * undefined when no supervised pool offers it (the submit gets `no_agents`). Set by the pools.
   */
  poolHome: ((capability: string) => string | undefined) | undefined;

  /** The one place a task changes state [TASK-13], announced on the event bus. */
  private moveTo(task: TaskRecord, to: TaskState, cause?: string): void {
    if (!canMove(task.state, to)) throw new Error(`task ${task.id}: no transition ${task.state} -> ${to} [TASK-13]`);
    task.state = to;
    if (this.events.active) this.events.task(STATE_EVENT[to], task, cause);
  }

  /**
   * Creates (or, for a known idempotency key, finds) a task. Throws no_agents / overloaded. The caller
   * announces `accepted` and then calls `start` (so accepted precedes any progress or result).
   * `owner` is the submitting token (the ACL's own string), "" for none [AUTH-8].
   */
  create(spec: TaskSpec, submitter: TaskObserver | null, ref: string, scope: string, owner: string, options?: CreateOptions): Submitted {
    const idemKey = spec.idempotency_key === undefined ? undefined : scopedKey(scope, spec.idempotency_key);
    if (idemKey !== undefined) {
      const first = this.table.byIdempotencyKey(idemKey);
      if (first !== undefined) return { task: first, duplicate: true };
    }
    let remoteBroker: string | undefined;
    if (!this.registry.anyOffers(spec.capability, spec.version, spec.tags)) {
      // No local agent: another broker of the mesh whose agent offers it (round-robin over brokers).
      if (options?.localOnly !== true) remoteBroker = this.mesh.routeFor(spec.capability, spec.version, spec.tags, spec.strategy ?? this.config.defaultStrategy);
      if (remoteBroker === undefined && options?.localOnly !== true) {
        const home = this.poolHome?.(spec.capability);
        if (home === undefined) throw new NoAgentsError(`no agent offers ${spec.capability}${spec.version === undefined ? "" : ` ${spec.version}`}`, { ref });
        // A pool with no member yet: the task is its demand, queued where its members will register [POOL-17].
        if (home !== "") remoteBroker = home;
      }
    }
    if (remoteBroker === undefined && this.dispatcher.queueLength(spec.capability) >= this.config.maxQueueLength) {
      throw new OverloadedError(`queue for ${spec.capability} is full (${this.config.maxQueueLength})`, { ref });
    }
    const now = Date.now();
    const priority = spec.priority ?? "normal";
    const seq = ++this.seq;
    const task: TaskRecord = {
      id: options?.id !== undefined && this.table.get(options.id) === undefined ? options.id : `${this.idPrefix}${seq.toString(36)}`,
      seq,
      capability: this.registry.capabilityName(spec.capability),
      version: spec.version,
      tags: spec.tags,
      input: spec.input,
      priority,
      strategy: spec.strategy ?? this.config.defaultStrategy,
      attempt: options?.attempt ?? spec.attempt ?? 1,
      maxAttempts: Math.max(spec.max_attempts ?? this.config.maxAttempts, options?.attempt ?? spec.attempt ?? 1),
      state: "queued",
      owner,
      submitter,
      ref,
      watchers: undefined,
      agent: null,
      formerAgents: undefined,
      timeoutMs: spec.timeout_ms ?? this.config.taskTimeoutMs,
      endedAt: 0,
      ok: false,
      output: undefined,
      error: undefined,
      idemKey,
      deadline: now + (spec.timeout_ms ?? this.config.taskTimeoutMs),
      heapIndex: -1,
      remoteBroker,
      trace: carried(spec),
    };
    this.table.add(task);
    return { task, duplicate: false };
  }

  /** Whether `id` was made by this process (its broker id and incarnation). */
  isOwnId(id: string): boolean {
    return id.startsWith(this.idPrefix);
  }

  /** A task id for a task about to be created (`CreateOptions.id`), when it must be known first. */
  newId(): string {
    return `${this.idPrefix}${(++this.seq).toString(36)}`;
  }

  /** Announces `task.submitted` ahead of `start` (a durable event store writes it before `accepted`). */
  announce(task: TaskRecord): void {
    if (this.events.active) this.events.task("task.submitted", task);
  }

  /** Queues a new task for routing, or hands it to the mesh broker chosen by `create`. */
  start(task: TaskRecord, recorded = false, announced = false): void {
    this.deadlines.push(task);
    if (this.events.active) {
      if (!announced) this.events.task("task.submitted", task);
      this.events.task("task.queued", task); // its first state, from creation
    }
    // In a mesh the task is recorded in Redis, so it outlives this broker [MESH-7].
    if (!isMeshRun(task) && !recorded) this.mesh.recordTask(task);
    if (task.remoteBroker !== undefined) this.handOff(task, task.remoteBroker);
    else this.dispatcher.enqueue(task);
  }

  /**
   * Another broker's agents changed: a task queued here that no local agent can serve goes to a
   * broker of the mesh whose agent now offers it (a pool's first member registered there, POOL-17).
   * Tasks handed here by another broker stay (that broker's routing chose this one).
   */
  handQueuedToMesh(): void {
    for (const [capability, depth] of this.dispatcher.depths()) {
      if (depth === 0) continue;
      this.dispatcher.takeWhere(capability, (task) => {
        if (isMeshRun(task) || this.registry.anyOffers(task.capability, task.version, task.tags)) return false;
        const target = this.mesh.routeFor(task.capability, task.version, task.tags, task.strategy);
        if (target === undefined) return false;
        task.remoteBroker = target;
        this.handOff(task, target);
        return true;
      });
    }
  }

  /**
   * The origin's record stays here (state dispatched, its deadline in the heap); the executing broker
   * runs it under its own routing and answers through the mesh (`remoteResult`).
   */
  private handOff(task: TaskRecord, target: string): void {
    if (task.state !== "dispatched") this.moveTo(task, "dispatched", `handed to ${target}`);
    this.handedOver++;
    const attempt = task.attempt;
    this.mesh.handOff(task, target).then(() => {
      // The executing broker's queue holds it now: the record says so (a recovery leaves it there).
      if (task.endedAt === 0 && task.attempt === attempt && task.remoteBroker === target) this.mesh.recordTask(task, target);
    }, (err: unknown) => {
      if (task.endedAt !== 0 || task.attempt !== attempt) return;
      // The shared store refused it for now (a Cluster master restarting): try again until the
      // deadline; a duplicate entry joins the first run on the executing broker (its idempotency key).
      if (Date.now() + HANDOFF_RETRY_MS < task.deadline) {
        setTimeout(() => {
          if (task.endedAt === 0 && task.attempt === attempt) {
            this.handedOver--;
            this.handOff(task, target);
          }
        }, HANDOFF_RETRY_MS);
        return;
      }
      this.finish(task, false, undefined, { ...errorInfo(err), retryable: true });
    });
  }

  /**
   * A task handed to another broker ended there. Ends the local record once: an outcome for an ended
   * task (a rerun after a reclaim, a redelivered ready entry) or for an older attempt is dropped.
   * Returns whether it ended the task.
   */
  remoteResult(taskId: string, outcome: RemoteOutcome): boolean {
    const task = this.table.get(taskId);
    if (task === undefined || task.endedAt !== 0 || task.remoteBroker === undefined) return false;
    if (outcome.attempt !== undefined) {
      if (outcome.attempt < task.attempt) return false;
      task.attempt = outcome.attempt; // a reclaiming broker ran it as a later attempt
    }
    const error = outcome.ok ? undefined : (outcome.error ?? { code: "internal", message: "remote task failed without an error" });
    this.finish(task, outcome.ok, outcome.ok ? outcome.output : undefined, error, true);
    return true;
  }

  /**
   * A broker reclaimed a task this broker handed over (its executing broker died) and handed it to
   * `broker` as `attempt`: a later cancel goes there. Older news (a lower attempt) is ignored.
   */
  remoteMoved(taskId: string, broker: string, attempt: number): void {
    const task = this.table.get(taskId);
    if (task === undefined || task.endedAt !== 0 || task.remoteBroker === undefined || attempt < task.attempt) return;
    task.remoteBroker = broker;
    task.attempt = attempt;
    this.mesh.recordTask(task, broker);
  }

  /** Progress of a task handed to another broker; progress of an older attempt or an ended task is dropped. */
  remoteProgress(taskId: string, attempt: number, data: Uint8Array): void {
    const task = this.table.get(taskId);
    if (task === undefined || task.endedAt !== 0 || task.remoteBroker === undefined || attempt < task.attempt) return;
    if (task.state === "dispatched") this.moveTo(task, "running");
    if (this.events.active) this.events.task("task.progress", task);
    task.submitter?.onProgress(task, data);
    if (task.watchers !== undefined) for (const w of task.watchers) w.observer.onProgress(task, data);
  }

  /**
   * The origin broker ended a task it handed here (cancel, deadline): stop the local run (a `cancel`
   * frame to its agent) and end it; the agent's late result is then dropped, and the outcome sent back
   * to the origin is dropped there too. Unknown or ended: a no-op.
   */
  cancelFromMesh(origin: string, taskId: string, reason: string): void {
    const task = this.table.byIdempotencyKey(`mesh:${origin}\u0000${taskId}`);
    if (task === undefined || task.endedAt !== 0) return;
    this.stop(task, reason);
    this.finish(task, false, undefined, { code: "cancelled", message: `cancelled by the origin broker (${reason})`, retryable: false });
  }

  /** Adds an observer to a known task (idempotent duplicate, HTTP wait); an ended task answers at once. */
  watch(task: TaskRecord, observer: TaskObserver, ref: string | undefined): void {
    if (task.endedAt !== 0) observer.onResult(task, ref, false);
    else (task.watchers ??= []).push({ observer, ref });
  }

  unwatch(task: TaskRecord, observer: TaskObserver): void {
    if (task.watchers !== undefined) task.watchers = task.watchers.filter((w) => w.observer !== observer);
  }

  /** The dispatcher chose `agent` for `task`. */
  readonly dispatch = (task: TaskRecord, agent: Session): void => {
    task.agent = agent;
    this.moveTo(task, "dispatched");
    agent.tasks.add(task);
    const go = isMeshRun(task) ? this.mesh.beforeRun(task.id, task.attempt) : true;
    if (go === true) this.sendTask(task, agent);
    else {
      // The agent's capacity stays reserved while the mesh confirms; taken over means cancelled here.
      const attempt = task.attempt;
      void go.then((ok) => {
        if (ok && task.agent === agent && task.attempt === attempt && task.state === "dispatched" && task.endedAt === 0) this.sendTask(task, agent);
      });
    }
  };

  private sendTask(task: TaskRecord, agent: Session): void {
    agent.send({
      type: "task",
      task_id: task.id,
      capability: task.capability,
      input: task.input,
      priority: task.priority,
      deadline: task.deadline,
      attempt: task.attempt,
      max_attempts: task.maxAttempts,
      remaining_ms: remainingMs(task.deadline),
      traceparent: task.trace?.traceparent,
      tracestate: task.trace?.tracestate,
    });
  }

  progress(agent: Session, f: Progress): void {
    const task = this.ownTask(agent, f.task_id);
    if (task === undefined) return;
    if (task.state === "dispatched") this.moveTo(task, "running");
    if (this.events.active) this.events.task("task.progress", task);
    task.submitter?.onProgress(task, f.data);
    if (task.watchers !== undefined) for (const w of task.watchers) w.observer.onProgress(task, f.data);
  }

  result(agent: Session, f: Result): void {
    const task = this.ownTask(agent, f.task_id);
    if (task === undefined) return;
    if (f.attempt !== undefined && f.attempt !== task.attempt) return; // a stale attempt
    if (!f.ok && f.error?.retryable === true && task.attempt < task.maxAttempts) {
      agent.tasks.delete(task);
      this.retry(task, agent, `retryable failure: ${f.error.code}`);
      this.releaseCapacity(agent);
      return;
    }
    this.finish(task, f.ok, f.output, f.ok ? undefined : f.error);
  }

  /** Cancels `task` (found by BrokerCore.cancel, which checks who may); one that ended stays as it ended. */
  cancel(task: TaskRecord, reason: string | undefined): void {
    if (task.endedAt !== 0) return;
    this.stop(task, reason ?? "cancelled");
    this.finish(task, false, undefined, { code: "cancelled", message: reason ?? "cancelled by the submitter", retryable: false });
  }

  /** The deadline passed. */
  expire(task: TaskRecord): void {
    if (task.endedAt !== 0) return;
    this.stop(task, "deadline_exceeded");
    this.finish(task, false, undefined, { code: "deadline_exceeded", message: "the task's deadline passed", retryable: true });
  }

  /** An agent session ended: its tasks are requeued or, out of attempts, fail with agent_lost. */
  agentGone(agent: Session): void {
    if (agent.tasks.size === 0) return;
    const tasks = [...agent.tasks];
    agent.tasks.clear();
    for (const task of tasks) {
      if (task.attempt < task.maxAttempts) this.retry(task, agent, "agent_lost");
      else this.finish(task, false, undefined, errorInfo(new AgentLostError(`agent ${agent.agentId} went away`)));
    }
  }

  /** Routes queued tasks of a capability (an agent arrived or has room again). */
  pump(capability: string): void {
    this.dispatcher.pump(capability);
  }

  /**
   * Ends every task not ended yet with `shutting_down` (broker closing) [SHUT-5]; a task run here for
   * another broker of the mesh is handed back to the mesh instead (its local record ends unseen).
   */
  endAll(): void {
    const open = [...this.table.values()].filter((t) => t.endedAt === 0);
    // Queued ones first, so that capacity freed by ending dispatched ones routes nothing.
    open.sort((a, b) => Number(b.agent === null) - Number(a.agent === null));
    for (const task of open) {
      if (task.endedAt !== 0) continue;
      const ran = task.state === "dispatched" || task.state === "running";
      if (isMeshRun(task)) this.mesh.release(task.id, ran, true);
      else if (task.remoteBroker !== undefined || this.mesh.handOver(task, ran)) {
        // Another broker runs it (handed over before, or now): it outlives this broker in the mesh;
        // its submitters collect the result elsewhere (idempotency key, GET /v1/tasks/:id) [SHUT-5].
        if (task.remoteBroker === undefined) this.stop(task, "shutting_down");
        continue;
      }
      this.stop(task, "shutting_down");
      this.finish(task, false, undefined, { code: "shutting_down", message: "the broker shut down before the task ended", retryable: true });
    }
  }

  /** Sum of tasks dispatched and not ended, handed-over ones included, for shutdown. */
  inFlight(): number {
    let n = this.handedOver;
    for (const s of this.registry.all()) n += s.tasks.size;
    return n;
  }

  private ownTask(agent: Session, taskId: string): TaskRecord | undefined {
    const task = this.table.get(taskId);
    if (task !== undefined && task.agent === agent && task.endedAt === 0) return task;
    if (task !== undefined && (task.agent === agent.id || (task.formerAgents?.includes(agent.agentId) ?? false))) return undefined; // late
    agent.error("unknown_task", `task ${taskId} is not dispatched to this session`, taskId);
    return undefined;
  }

  /** Takes a task away from wherever it is (queue or agent) before it ends early. */
  private stop(task: TaskRecord, reason: string): void {
    if (task.remoteBroker !== undefined) {
      // Handed to another broker: tell it to stop (it ends its run; its outcome is dropped here).
      this.mesh.cancelRemote(task.remoteBroker, task.id, reason);
      return;
    }
    if (task.state === "queued" || task.state === "requeued") {
      this.dispatcher.dequeued(task);
      return;
    }
    const agent = task.agent as Session | null;
    if (agent !== null && (task.state === "dispatched" || task.state === "running")) {
      agent.send({ type: "cancel", task_id: task.id, reason });
    }
  }

  private retry(task: TaskRecord, from: Session, cause: string): void {
    (task.formerAgents ??= []).push(from.agentId);
    task.agent = null;
    // A task of the mesh that no local agent offers any more goes back to the mesh (another broker's agent).
    if (isMeshRun(task) && !this.registry.anyOffers(task.capability, task.version, task.tags) && this.mesh.release(task.id, true, false)) {
      this.finish(task, false, undefined, { code: "agent_lost", message: "handed back to the mesh", retryable: true });
      return;
    }
    this.moveTo(task, "requeued", cause);
    task.attempt++;
    this.moveTo(task, "queued", cause);
    if (!isMeshRun(task)) this.mesh.recordTask(task);
    this.onRelease?.();
    this.dispatcher.enqueue(task, true);
  }

  /**
   * Records a new task in the mesh now (before `start(task, true)`); resolves once it is stored. A
   * store that refuses it for longer than RECORD_PATIENCE_MS (a Cluster master restarting) rejects.
   */
  async record(task: TaskRecord): Promise<void> {
    const until = Date.now() + RECORD_PATIENCE_MS;
    for (;;) {
      try {
        await this.mesh.recordTaskNow(task);
        return;
      } catch (err) {
        if (Date.now() + HANDOFF_RETRY_MS > until) throw err;
        await new Promise((resolve) => setTimeout(resolve, HANDOFF_RETRY_MS));
      }
    }
  }

  /** Forgets a task created but never announced (`record` failed): its submit failed as a whole. */
  discard(task: TaskRecord): void {
    this.table.discard(task);
  }

  /** Ends a task once; `storedByMesh`: its outcome is already in the mesh (the executing broker's result). */
  private finish(task: TaskRecord, ok: boolean, output: Uint8Array | undefined, error: ErrorInfo | undefined, storedByMesh = false): void {
    const now = Date.now();
    task.ok = ok;
    task.output = output;
    task.error = error;
    if (!isMeshRun(task)) this.mesh.taskEnded(task, storedByMesh);
    this.moveTo(task, endState(ok, error), error?.code);
    this.deadlines.remove(task);
    this.table.markEnded(task, now);
    if (task.submitter !== null) task.submitter.onResult(task, task.ref, true);
    if (task.watchers !== undefined) {
      for (const w of task.watchers) w.observer.onResult(task, w.ref, false);
      task.watchers = undefined;
    }
    const agent = task.agent as Session | null;
    // An ended task keeps its last agent's session id (late results), not the session itself.
    if (agent !== null) task.agent = agent.id;
    if (agent !== null && agent.tasks.delete(task)) {
      this.releaseCapacity(agent);
      this.onRelease?.();
    } else if (task.remoteBroker !== undefined) {
      this.handedOver--;
      this.onRelease?.();
    }
  }

  /** Capacity freed on `agent`: route queued work for its capabilities. */
  private releaseCapacity(agent: Session): void {
    if (agent.state !== "ready") return;
    for (const name of agent.caps.keys()) this.dispatcher.pump(name);
  }
}
