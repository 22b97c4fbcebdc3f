/** Routes each decoded frame of a session to the part of the broker that owns it. */
import {
  PROTOCOL_VERSION,
  type Attach,
  type Cancel,
  type Frame,
  type Heartbeat,
  type Query,
  type Register,
  type Submit,
} from "@agentwire/wire";
import type { Logger } from "pino";
import { Auth } from "./auth.js";
import type { MeshPort } from "./backend.js";
import type { BrokerConfig } from "./config.js";
import type { Messaging } from "./messaging.js";
import type { Metrics } from "./metrics.js";
import type { Registry } from "./registry.js";
import type { FrameHandler, Session } from "./session.js";
import type { Submissions } from "./tasks/submissions.js";
import { isMeshRun, tokenScope, type TaskService } from "./tasks/task-service.js";

export interface BrokerState {
  readonly brokerId: string;
  /** Prefix of broker-made agent ids (with this process's incarnation). */
  readonly agentIdPrefix: string;
  shuttingDown: boolean;
}

export class Handlers implements FrameHandler {
  private agentSeq = 0;

  constructor(
    private readonly config: BrokerConfig,
    private readonly state: BrokerState,
    private readonly auth: Auth,
    private readonly registry: Registry,
    private readonly tasks: TaskService,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly sessions: Set<Session>,
    private readonly backend: MeshPort,
    private readonly submissions: Submissions,
  ) {}

  handle(s: Session, f: Frame): void {
    switch (f.type) {
      case "register":
        return this.register(s, f);
      case "heartbeat":
        return this.heartbeat(s, f);
      case "submit":
        return this.submit(s, f);
      case "progress":
        return this.tasks.progress(s, f);
      case "result":
        return this.tasks.result(s, f);
      case "cancel":
        return this.cancel(s, f);
      case "attach":
        return this.attach(s, f);
      case "send":
        if (!Auth.allows(s.acl, "send", f.to)) return s.error("forbidden", `token may not send to ${f.to}`, f.ref);
        return this.messaging.send(s, f);
      case "subscribe":
        if (!Auth.allowsTopic(s.acl, "subscribe", f.topic)) return s.error("forbidden", `token may not subscribe to ${f.topic}`, f.ref);
        if (s.subscriptions.size >= this.config.maxSubscriptions && !s.subscriptions.has(f.topic)) {
          return s.error("overloaded", `session holds ${s.subscriptions.size} subscriptions (max_subscriptions)`, f.ref);
        }
        this.messaging.subscribe(s, f.topic);
        return this.ack(s, f.ref);
      case "unsubscribe":
        this.messaging.unsubscribe(s, f.topic);
        return this.ack(s, f.ref);
      case "publish":
        if (!Auth.allowsTopic(s.acl, "publish", f.topic)) return s.error("forbidden", `token may not publish to ${f.topic}`, f.ref);
        void this.messaging.publishAll(s.agentId, f.topic, f.payload).remote.catch((err: unknown) => this.log.warn({ err }, "remote publish failed"));
        return this.ack(s, f.ref);
      case "request": {
        if (this.state.shuttingDown) return this.messaging.fail(s, f.id, "shutting_down", "broker is shutting down");
        // By id the `send` list applies, by capability the `submit` list, whether a target exists or not.
        const [list, target] = f.to !== undefined ? (["send", f.to] as const) : (["submit", f.capability!] as const);
        if (!Auth.allows(s.acl, list, target)) return this.messaging.fail(s, f.id, "forbidden", `token may not ${list} to ${target}`);
        return this.messaging.request(s, f);
      }
      case "response":
        return this.messaging.response(s, f);
      case "query":
        return this.query(s, f);
      case "drain":
        s.state = "draining";
        s.status = "draining";
        this.registry.changed(s);
        this.log.info({ agent_id: s.agentId, in_flight: s.tasks.size }, "draining");
        return this.ack(s, f.ref);
      default:
        // decode() only lets through frames a broker accepts, so this is a broker→peer type.
        return s.error("unknown_type", `${f.type} is not accepted by a broker`);
    }
  }

  gone(s: Session): void {
    this.sessions.delete(s);
    if (s.agentId !== "") {
      this.registry.remove(s);
      this.log.debug({ agent_id: s.agentId, session_id: s.id, tasks: s.tasks.size }, "session gone");
    }
    this.tasks.agentGone(s);
    this.messaging.gone(s);
  }

  errorSent(code: string): void {
    this.metrics.error(code);
  }

  private ack(s: Session, ref: string | undefined): void {
    if (ref !== undefined) s.send({ type: "ack", ref });
  }

  private register(s: Session, f: Register): void {
    if (s.state !== "awaiting_register") return s.error("already_registered", "this session is registered");
    if (this.state.shuttingDown) return s.close("shutting_down", "broker is shutting down");
    if (f.protocol !== undefined && f.protocol !== PROTOCOL_VERSION) {
      return s.close("unsupported_version", `protocol ${f.protocol} is not supported; this broker speaks ${PROTOCOL_VERSION}`);
    }
    if (this.auth.enabled) {
      if (f.token !== undefined && s.upgradeToken !== undefined && f.token !== s.upgradeToken) {
        return s.close("unauthorized", "register.token and the upgrade's bearer token differ");
      }
      const acl = this.auth.lookup(f.token ?? s.upgradeToken);
      if (acl === undefined) return s.close("unauthorized", "missing or unknown token");
      s.acl = acl;
      // An id the broker made up would fall outside the token's list: such a token names its id.
      if (f.agent_id === undefined && acl.agent_ids !== undefined) {
        return s.close("forbidden", "this token requires an agent_id matching its agent_ids list");
      }
      if (f.agent_id !== undefined && !Auth.allows(acl, "agent_ids", f.agent_id)) {
        return s.close("forbidden", `token may not register agent id ${f.agent_id}`);
      }
      for (const c of f.capabilities ?? []) {
        if (!Auth.allows(acl, "capabilities", c.name)) {
          return s.close("forbidden", `token may not register capability ${c.name}`);
        }
      }
    }
    const names = new Set<string>();
    for (const c of f.capabilities ?? []) {
      if (names.has(c.name)) return s.error("bad_frame", `capability ${c.name} appears twice`, undefined, { type: "register", path: "capabilities" });
      names.add(c.name);
    }
    if (f.agent_id !== undefined) {
      const holder = this.registry.get(f.agent_id);
      if ((holder !== undefined && holder.state !== "closed") || this.backend.brokerOfAgent(f.agent_id) !== undefined) {
        return s.close("duplicate_agent", `agent id ${f.agent_id} is held by a live session`);
      }
    }
    s.agentId = f.agent_id ?? this.freshAgentId();
    s.name = f.name ?? s.agentId;
    s.capacity = f.capacity ?? 16;
    s.tier = f.tier ?? 0;
    s.tags = f.tags ?? [];
    s.connectedAt = Date.now();
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
    });
    this.log.debug({ agent_id: s.agentId, capabilities: [...s.caps.keys()] }, "registered");
    this.pumpFor(s);
  }

  private heartbeat(s: Session, f: Heartbeat): void {
    if (f.in_flight !== undefined) s.reportedInFlight = f.in_flight;
    const grew = f.capacity !== undefined && f.capacity > s.capacity;
    if (f.capacity !== undefined) s.capacity = f.capacity;
    const before = s.status;
    if (f.status !== undefined && s.state !== "draining") s.status = f.status;
    if (f.status === "draining" && s.state === "ready") s.state = "draining";
    if (before !== s.status) this.registry.changed(s);
    if (grew || (before !== s.status && (s.status === "ready" || s.status === "busy"))) this.pumpFor(s);
  }

  private submit(s: Session, f: Submit): void {
    if (this.state.shuttingDown) return s.error("shutting_down", "broker is shutting down", f.ref);
    if (!Auth.allows(s.acl, "submit", f.capability)) return s.error("forbidden", `token may not submit to ${f.capability}`, f.ref);
    if (!s.hasRoom(this.config.maxInFlight)) {
      return s.error("overloaded", `session has ${s.openItems} tasks and requests open (max_in_flight)`, f.ref);
    }
    const pending = this.submissions.submit(f, s, f.ref, tokenScope(s.acl?.token), s.acl?.token ?? "");
    if (pending !== undefined) s.hold(pending, f.ref);
  }

  /** Follows a task accepted earlier [ATT-1, ATT-2]: this broker's, or in a mesh any broker's. */
  private attach(s: Session, f: Attach): void {
    const task = this.tasks.table.get(f.task_id);
    // A record of another broker's task that runs here is not this broker's to answer for.
    if (task !== undefined && !isMeshRun(task)) {
      if (!Auth.ownsTask(s.acl, task.owner)) return s.error("unknown_task", `task ${f.task_id} is not yours or not known`, f.ref);
      s.send({ type: "accepted", ref: f.ref, task_id: task.id, duplicate: true });
      if (task.submitter !== s || task.endedAt !== 0) this.tasks.watch(task, s, f.ref);
      return;
    }
    s.hold(this.attachOnMesh(s, f), f.ref);
  }

  private async attachOnMesh(s: Session, f: Attach): Promise<void> {
    const known = await this.backend.foreignTask(f.task_id);
    const owner = known.kind === "ended" ? known.outcome.owner : known.kind === "open" ? known.owner : undefined;
    if (known.kind === "unknown" || !Auth.ownsTagged(s.acl, owner)) return s.error("unknown_task", `task ${f.task_id} is not yours or not known`, f.ref);
    s.send({ type: "accepted", ref: f.ref, task_id: f.task_id, duplicate: true });
    if (known.kind === "ended") return s.foreignOutcome(f.ref, f.task_id, known.outcome);
    this.backend.watchForeign(f.task_id, known.deadline, (outcome) => s.foreignOutcome(f.ref, f.task_id, outcome));
  }

  private cancel(s: Session, f: Cancel): void {
    const task = this.tasks.cancel(s, f.task_id, f.reason);
    if (task === undefined) return s.error("unknown_task", `task ${f.task_id} is not yours or not known`, f.ref ?? f.task_id);
    this.ack(s, f.ref);
  }

  private query(s: Session, f: Query): void {
    // Local and cached remote agents, answered in order with the session's other frames [CONN-7].
    s.send({ type: "agents", ref: f.ref, agents: this.messaging.agents(f) });
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
