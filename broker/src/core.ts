/**
 * The broker's operations, each defined once and transport-agnostic: register, heartbeat, drain,
 * submit, attach, cancel, progress, result, subscribe, publish, send, request, respond, query. The
 * WebSocket handlers (handlers.ts), the HTTP API (http.ts) and the mesh's inbound side
 * (`meshInbound()`, which the mesh port's implementation calls with what other brokers send) translate
 * frames, JSON bodies and mesh entries into these calls. A refused operation
 * throws an `AgentwireError` with its registry code; each transport turns it into an error frame, an
 * HTTP status or a close code from one table (`ERROR_CODES`).
 */
import {
  PROTOCOL_VERSION,
  errorFromCode,
  errorInfo,
  type AgentwireError,
  type AgentInfo,
  type Attach,
  type Heartbeat,
  type Pool,
  type Progress,
  type Register,
  type Request,
  type Response,
  type Result,
  type Send,
  type TraceContext,
} from "@agentwire/wire";
import type { Logger } from "pino";
import { Auth } from "./auth.js";
import type { MeshHost, MeshPort, RemoteOutcome, RemoteTask } from "./backend.js";
import type { BrokerConfig, TokenAcl } from "./config.js";
import type { Messaging } from "./messaging.js";
import type { PoolService } from "./pools/pool-service.js";
import type { AgentFilter, Registry } from "./registry.js";
import type { Session } from "./session.js";
import type { SubmitReply, Submissions } from "./tasks/submissions.js";
import { isMeshRun, tokenScope, type TaskService, type TaskSpec } from "./tasks/task-service.js";
import type { TaskObserver, TaskRecord } from "./tasks/task-table.js";
import type { WorkflowEngine } from "./workflows/engine.js";

export interface BrokerState {
  readonly brokerId: string;
  /** Prefix of broker-made agent ids (with this process's incarnation). */
  readonly agentIdPrefix: string;
  shuttingDown: boolean;
}

/** The one answer for a task that is not known and for another token's task: nothing tells them apart [AUTH-8]. */
export function unknownTask(taskId: string): AgentwireError {
  return errorFromCode("unknown_task", `task ${taskId} is not yours or not known`);
}

export class BrokerCore {
  private agentSeq = 0;
  /** Workflow runs (broker/src/workflows): they submit their steps through `submit`; set by assembleBroker. */
  workflows!: WorkflowEngine;

  constructor(
    private readonly config: BrokerConfig,
    readonly state: BrokerState,
    private readonly auth: Auth,
    private readonly registry: Registry,
    readonly tasks: TaskService,
    readonly messaging: Messaging,
    private readonly submissions: Submissions,
    private readonly mesh: MeshPort,
    private readonly log: Logger,
    readonly pools: PoolService,
  ) {}

  // ---- agents

  /** Registers session `s` [REG-*]; throws what refuses it (the WebSocket adapter closes the session on most). */
  register(s: Session, f: Register): void {
    if (s.state !== "awaiting_register") throw errorFromCode("already_registered", "this session is registered");
    if (this.state.shuttingDown) throw errorFromCode("shutting_down", "broker is shutting down");
    if (f.protocol !== undefined && f.protocol !== PROTOCOL_VERSION) {
      throw errorFromCode("unsupported_version", `protocol ${f.protocol} is not supported; this broker speaks ${PROTOCOL_VERSION}`);
    }
    if (this.auth.enabled) {
      if (f.token !== undefined && s.upgradeToken !== undefined && f.token !== s.upgradeToken) {
        throw errorFromCode("unauthorized", "register.token and the upgrade's bearer token differ");
      }
      const acl = this.auth.lookup(f.token ?? s.upgradeToken);
      if (acl === undefined) throw errorFromCode("unauthorized", "missing or unknown token");
      // An id the broker made up would fall outside the token's list: such a token names its id.
      if (f.agent_id === undefined && acl.agent_ids !== undefined) {
        throw errorFromCode("forbidden", "this token requires an agent_id matching its agent_ids list");
      }
      if (f.agent_id !== undefined && !Auth.allows(acl, "agent_ids", f.agent_id)) {
        throw errorFromCode("forbidden", `token may not register agent id ${f.agent_id}`);
      }
      for (const c of f.capabilities ?? []) {
        if (!Auth.allows(acl, "capabilities", c.name)) throw errorFromCode("forbidden", `token may not register capability ${c.name}`);
      }
      s.acl = acl;
    }
    const names = new Set<string>();
    for (const c of f.capabilities ?? []) {
      if (names.has(c.name)) throw errorFromCode("bad_frame", `capability ${c.name} appears twice`, { details: { type: "register", path: "capabilities" } });
      names.add(c.name);
    }
    if (f.agent_id !== undefined) {
      const holder = this.registry.get(f.agent_id);
      if ((holder !== undefined && holder.state !== "closed") || this.mesh.brokerOfAgent(f.agent_id) !== undefined) {
        throw errorFromCode("duplicate_agent", `agent id ${f.agent_id} is held by a live session`);
      }
    }
    s.agentId = f.agent_id ?? this.freshAgentId();
    s.name = f.name ?? s.agentId;
    s.capacity = f.capacity ?? 16;
    s.tier = f.tier ?? 0;
    s.tags = f.tags ?? [];
    s.connectedAt = Date.now();
    // Only an agent is a member [POOL-1].
    s.pool = f.capabilities !== undefined && f.capabilities.length > 0 ? f.pool : undefined;
    s.state = "ready";
    this.registry.add(s, f.capabilities ?? []);
    s.send({
      type: "registered",
      protocol: PROTOCOL_VERSION,
      agent_id: s.agentId,
      session_id: s.id,
      broker_id: this.state.brokerId,
      heartbeat_interval_ms: this.config.heartbeatIntervalMs,
      heartbeat_timeout_ms: this.config.heartbeatTimeoutMs,
      max_frame_bytes: this.config.maxFrameBytes,
      max_in_flight: this.config.maxInFlight,
      max_subscriptions: this.config.maxSubscriptions,
      task_timeout_ms: this.config.taskTimeoutMs,
      request_timeout_ms: this.config.requestTimeoutMs,
      max_attempts: this.config.maxAttempts,
    });
    this.log.debug({ agent_id: s.agentId, capabilities: [...s.caps.keys()] }, "registered");
    this.pumpFor(s);
  }

  heartbeat(s: Session, f: Heartbeat): void {
    if (f.in_flight !== undefined) s.reportedInFlight = f.in_flight;
    const grew = f.capacity !== undefined && f.capacity > s.capacity;
    if (f.capacity !== undefined) s.capacity = f.capacity;
    const before = s.status;
    if (f.status !== undefined && s.state !== "draining") s.status = f.status;
    if (f.status === "draining" && s.state === "ready") s.state = "draining";
    if (before !== s.status) this.registry.changed(s);
    if (grew || (before !== s.status && (s.status === "ready" || s.status === "busy"))) this.pumpFor(s);
  }

  /** The agent takes no new work and finishes what it has [CONN-1]. */
  drain(s: Session): void {
    s.state = "draining";
    s.status = "draining";
    this.registry.changed(s);
    this.log.info({ agent_id: s.agentId, in_flight: s.tasks.size }, "draining");
  }

  /**
   * The broker puts agent `agentId` into DRAINING on its own and tells it with `drain` [DRAIN-7]: a
   * pool's scale-down, or an operator's HTTP drain. An agent of another broker of the mesh is drained
   * by its broker. False when no live session holds the id.
   */
  drainAgent(agentId: string, cause: string): boolean {
    if (this.drainLocal(agentId, cause)) return true;
    const broker = this.mesh.brokerOfAgent(agentId);
    if (broker === undefined) return false;
    this.mesh.drainAgent(broker, agentId, cause);
    return true;
  }

  /** drainAgent for an agent of this broker; false when none holds the id here. */
  private drainLocal(agentId: string, cause: string): boolean {
    const s = this.registry.get(agentId);
    if (s === undefined || s.state === "closed" || s.state === "awaiting_register") return false;
    if (s.state === "ready") {
      this.drain(s);
      s.send({ type: "drain", reason: cause });
    }
    return true;
  }

  /** A session declares (or updates) a pool and becomes its supervisor [POOL-3..POOL-7]. */
  pool(s: Session, f: Pool): void {
    for (const c of f.capabilities) {
      if (!Auth.allows(s.acl, "capabilities", c)) throw errorFromCode("forbidden", `token may not register capability ${c} (POOL-7)`);
    }
    this.pools.declare(s, f);
  }

  /** A session ended (closed, evicted): its tasks are requeued, its subscriptions and requests dropped. */
  gone(s: Session): void {
    this.pools.sessionGone(s);
    if (s.agentId !== "") {
      this.registry.remove(s);
      this.log.debug({ agent_id: s.agentId, session_id: s.id, tasks: s.tasks.size }, "session gone");
    }
    this.tasks.agentGone(s);
    this.messaging.gone(s);
  }

  /** Local agents and the mesh's as last heard [QUERY-*, MESH-1]. */
  query(filter: AgentFilter): AgentInfo[] {
    return this.messaging.agents(filter);
  }

  // ---- tasks

  /**
   * Submits a task for the token `acl` (undefined: auth off) and answers through `reply` [TASK-2..4];
   * a promise when the mesh is asked first. The caller's own bound (LIMIT-2) is the transport's.
   */
  submit(acl: TokenAcl | undefined, spec: TaskSpec, reply: SubmitReply, ref: string): void | Promise<void> {
    if (this.state.shuttingDown) throw errorFromCode("shutting_down", "broker is shutting down", { ref });
    if (!Auth.allows(acl, "submit", spec.capability)) throw errorFromCode("forbidden", `token may not submit to ${spec.capability}`, { ref });
    return this.submissions.submit(spec, reply, ref, tokenScope(acl?.token), acl?.token ?? "");
  }

  /**
   * A task of this token that `by` follows (a session: its submitter or a watcher; null: any of the
   * token's tasks, the HTTP API), or unknown_task: another's task is not revealed [AUTH-8].
   */
  ownTask(acl: TokenAcl | undefined, by: TaskObserver | null, taskId: string): TaskRecord {
    const task = this.tasks.table.get(taskId);
    const follows = (t: TaskRecord): boolean => by === null || t.submitter === by || (t.watchers?.some((w) => w.observer === by) ?? false);
    // A record of another broker's task that runs here is not this broker's to answer for.
    if (task === undefined || isMeshRun(task) || !Auth.ownsTask(acl, task.owner) || !follows(task)) {
      throw unknownTask(taskId);
    }
    return task;
  }

  /** Cancels a task `by` follows [TASK-15]; a task that ended already stays as it ended. */
  cancel(acl: TokenAcl | undefined, by: TaskObserver | null, taskId: string, reason: string | undefined): TaskRecord {
    if (!Auth.mayAct(acl)) throw errorFromCode("forbidden", "a read-only token may not cancel tasks");
    const task = this.ownTask(acl, by, taskId);
    this.tasks.cancel(task, reason);
    return task;
  }

  /** Follows a task accepted earlier [ATT-1, ATT-2]: this broker's, or in a mesh any broker's. */
  attach(s: Session, f: Attach): void | Promise<void> {
    const task = this.tasks.table.get(f.task_id);
    if (task !== undefined && !isMeshRun(task)) {
      this.ownTask(s.acl, null, f.task_id);
      s.accepted(f.ref, task.id, true);
      if (task.submitter !== s || task.endedAt !== 0) this.tasks.watch(task, s, f.ref);
      return;
    }
    return this.attachOnMesh(s, f);
  }

  private async attachOnMesh(s: Session, f: Attach): Promise<void> {
    const known = await this.mesh.foreignTask(f.task_id);
    const owner = known.kind === "ended" ? known.outcome.owner : known.kind === "open" ? known.owner : undefined;
    if (known.kind === "unknown" || !Auth.ownsTagged(s.acl, owner)) throw unknownTask(f.task_id);
    s.accepted(f.ref, f.task_id, true);
    if (known.kind === "ended") return s.foreignOutcome(f.ref, f.task_id, known.outcome);
    this.mesh.watchForeign(f.task_id, known.deadline, (outcome) => s.foreignOutcome(f.ref, f.task_id, outcome));
  }

  progress(agent: Session, f: Progress): void {
    this.tasks.progress(agent, f);
  }

  result(agent: Session, f: Result): void {
    this.tasks.result(agent, f);
  }

  // ---- messaging

  subscribe(s: Session, topic: string): void {
    if (!Auth.allowsTopic(s.acl, "subscribe", topic)) throw errorFromCode("forbidden", `token may not subscribe to ${topic}`);
    if (!s.hasSubscription(topic) && s.subscriptionCount >= this.config.maxSubscriptions) {
      throw errorFromCode("overloaded", `session holds ${s.subscriptionCount} subscriptions (max_subscriptions)`);
    }
    this.messaging.subscribe(s, topic);
  }

  unsubscribe(s: Session, topic: string): void {
    this.messaging.unsubscribe(s, topic);
  }

  /**
   * Publishes for token `acl` as `from` (an agent id, or the broker's id over HTTP): this broker's
   * subscribers now (their count), the other brokers' through the mesh (`remote`) [PUB-*, MESH-6].
   * `fromBroker`: the HTTP API publishes as the broker itself, `from` its broker id [MSG-7].
   */
  publish(acl: TokenAcl | undefined, from: string, topic: string, payload: Uint8Array, fromBroker = false, trace?: TraceContext): { local: number; remote: Promise<number> } {
    if (!Auth.allowsTopic(acl, "publish", topic)) throw errorFromCode("forbidden", `token may not publish to ${topic}`);
    return this.messaging.publishAll(from, topic, payload, fromBroker, trace);
  }

  send(s: Session, f: Send): void {
    if (!Auth.allows(s.acl, "send", f.to)) throw errorFromCode("forbidden", `token may not send to ${f.to}`);
    this.messaging.send(s, f);
  }

  /** A request by id (the `send` list applies) or by capability (the `submit` list), whether a target exists or not [REQ-*]. */
  request(s: Session, f: Request): void {
    if (this.state.shuttingDown) throw errorFromCode("shutting_down", "broker is shutting down");
    const [list, target] = f.to !== undefined ? (["send", f.to] as const) : (["submit", f.capability!] as const);
    if (!Auth.allows(s.acl, list, target)) throw errorFromCode("forbidden", `token may not ${list} to ${target}`);
    this.messaging.request(s, f);
  }

  respond(s: Session, f: Response): void {
    this.messaging.response(s, f);
  }

  // ---- the mesh's inbound side

  /** What the other brokers ask of this one, through the mesh port's implementation [MESH-*]. */
  meshInbound(): MeshHost {
    const { registry, tasks, messaging, log } = this;
    return {
      brokerId: this.state.brokerId,
      localAgents: () => registry.directory(),
      offers: (t) => registry.anyOffers(t.capability, t.version, t.tags),
      publishLocal: (topic, from, payload, fromBroker, trace) => messaging.publish(from, { topic, payload }, fromBroker, trace),
      runTask: (remote, done) => this.runHandedOver(remote, done),
      remoteAgentsChanged: () => tasks.handQueuedToMesh(),
      cancelRun: (origin, taskId, reason) => tasks.cancelFromMesh(origin, taskId, reason),
      taskMoved: (taskId, to, attempt) => tasks.remoteMoved(taskId, to, attempt),
      remoteProgress: (taskId, attempt, data) => tasks.remoteProgress(taskId, attempt, data),
      deliverMessage: (to, from, payload, correlationId, trace) => messaging.deliverRemoteMessage(to, from, payload, correlationId, trace),
      serveRequest: (request) => messaging.serveRemoteRequest(request),
      requestAnswered: (id, answer) => messaging.remoteResponse(id, answer),
      drainAgent: (agentId, cause) => void this.drainLocal(agentId, cause),
      onRemoteResult(taskId, outcome) {
        if (!tasks.remoteResult(taskId, outcome)) log.debug({ task_id: taskId, attempt: outcome.attempt }, "dropped a remote result (task ended or older attempt)");
      },
    };
  }

  /**
   * Runs a task another broker handed here on a local agent; `done` exactly once with its outcome.
   * The origin's task id is its idempotency identity (the origin folded the client's key into it):
   * scoped to the origin, a redelivery of the same task joins the first run here instead of running again.
   */
  runHandedOver(remote: RemoteTask, done: (outcome: RemoteOutcome) => void): void {
    const observer = meshSubmitter(this.mesh, remote.origin_broker, remote.task_id, remote.attempt, done);
    try {
      const spec = {
        capability: remote.capability,
        input: remote.input,
        timeout_ms: handedTimeout(remote),
        idempotency_key: remote.task_id,
        version: remote.version,
        tags: remote.tags === undefined ? undefined : [...remote.tags],
        priority: remote.priority,
        strategy: remote.strategy,
        max_attempts: remote.max_attempts,
        traceparent: remote.traceparent,
        tracestate: remote.tracestate,
      };
      // No token owns it here: its submitter's token stayed with the origin broker.
      const { task, duplicate } = this.tasks.create(spec, observer, "mesh", `mesh:${remote.origin_broker}`, "", { attempt: remote.attempt, localOnly: true, id: remote.task_id });
      if (duplicate) this.tasks.watch(task, observer, undefined);
      else this.tasks.start(task);
    } catch (err) {
      done({ ok: false, error: errorInfo(err) });
    }
  }

  /** An id no live session holds [REG-6] (a peer may have asked for one that looks like ours). */
  private freshAgentId(): string {
    for (;;) {
      const id = `${this.state.agentIdPrefix}${(++this.agentSeq).toString(36)}`;
      if (this.registry.get(id) === undefined) return id;
    }
  }

  private pumpFor(s: Session): void {
    for (const name of s.caps.keys()) this.tasks.pump(name);
  }
}

/**
 * The submitter of a task another broker handed here: its progress and its one result go back to the
 * origin. The ended record keeps it, so it holds only the origin, task id and attempt (not the handed
 * over task and its input) and lets go of `done` (the backend's hold on that task) once called.
 */
function meshSubmitter(mesh: MeshPort, origin: string, taskId: string, attempt: number, done: (outcome: RemoteOutcome) => void): TaskObserver {
  let answer: typeof done | undefined = done;
  return {
    // Progress goes back to the origin ahead of the result (same connection, same ready list).
    onProgress: (_t, data) => mesh.forwardProgress(origin, taskId, attempt, data),
    onResult: (t) => {
      const send = answer;
      answer = undefined;
      send?.({ ok: t.ok, output: t.output, error: t.error, attempt: t.attempt });
    },
  };
}

/** How far two brokers' clocks may differ for the receiver to take the origin's deadline as its own. */
const CLOCKS_AGREE_MS = 1_000;

/**
 * The timeout of a task handed here: the time left when the origin sent it, or, where this broker's
 * clock agrees with the origin's deadline (within CLOCKS_AGREE_MS), the time to that deadline, so that
 * the task ends here no later than at its origin (the hand-off's transit is not added to it) [TASK-33].
 */
function handedTimeout(remote: RemoteTask): number {
  if (remote.deadline === undefined) return remote.timeout_ms;
  const now = Date.now();
  const left = remote.deadline - now;
  return Math.abs(left - remote.timeout_ms) <= CLOCKS_AGREE_MS ? Math.max(1, Math.min(remote.timeout_ms, left)) : remote.timeout_ms;
}
