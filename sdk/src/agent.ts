/**
 * An agent: typed capability handlers on top of a Session. The builder collects handlers; start()
 * registers them, heartbeats with load, runs a health check, and reconnects (same agent id,
 * subscriptions restored) until drain() or close().
 */
import {
  AgentwireError,
  DEFAULTS,
  TimeoutError,
  decodePayload,
  encodePayload,
  errorFromCode,
  errorInfo,
  type AgentStatus,
  type Capability,
  type Request,
  type Result,
  type Task,
} from "@agentwire/wire";
import pino, { type Logger } from "pino";
import { z } from "zod";
import { Client, toIncoming, type IncomingMessage } from "./client.js";
import type { BackoffOptions } from "./connection.js";
import { requestContext, type RequestContext, type TaskInfo } from "./context.js";
import { ConnectionLostError } from "./errors.js";
import { Session } from "./session.js";
import type { Signer } from "./signer.js";
import { LazyAbort, runTask, type CapabilityEntry, type TaskHandler } from "./task.js";

export type { TaskHandler } from "./task.js";

export type Health = boolean | "healthy" | "unhealthy";

export interface AgentOptions {
  url: string;
  name: string;
  token?: string;
  /** Requested agent id; kept across reconnects. The broker assigns one when absent. */
  agentId?: string;
  capacity?: number;
  tier?: number;
  tags?: string[];
  heartbeatIntervalMs?: number;
  healthCheck?: () => Health | Promise<Health>;
  healthCheckIntervalMs?: number;
  /** The signer every task runs with (SignerContext.current()). */
  signer?: Signer;
  /** Chooses a signer per task; wins over `signer`. */
  signerFor?: (task: TaskInfo) => Signer | undefined;
  backoff?: BackoffOptions;
  logger?: Logger;
}

export interface CapabilitySpec<I extends z.ZodType, O extends z.ZodType> {
  input: I;
  output?: O;
  version?: string;
  description?: string;
  tags?: string[];
}

export type RequestHandler = (payload: unknown, ctx: RequestContext & { from: string | undefined }) => unknown;

/** What a `goaway` announced: the broker closes the connection `graceMs` after sending it. */
export type GoawayHandler = (info: { reason: string; graceMs: number }) => void | Promise<void>;


interface Running {
  key: string;
  taskId: string;
  controller: LazyAbort;
}

const ANY = "*";

export class Agent implements AsyncDisposable {
  readonly session: Session;
  readonly client: Client;
  readonly logger: Logger;
  private readonly capabilities = new Map<string, CapabilityEntry>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly topicHandlers: [string, (msg: IncomingMessage) => void | Promise<void>][] = [];
  private messageHandler: ((msg: IncomingMessage) => void | Promise<void>) | undefined;
  private goawayHandler: GoawayHandler | undefined;
  private readonly running = new Map<string, Running>();
  private readonly requestsOpen = new Set<AbortController>();
  private healthy = true;
  private draining = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private lastStatus: AgentStatus = "ready";

  constructor(readonly options: AgentOptions) {
    this.logger = options.logger ?? pino({ name: options.name, level: process.env.AGENTWIRE_LOG_LEVEL ?? "warn" });
    this.session = new Session({
      url: options.url,
      token: options.token,
      name: options.name,
      agentId: options.agentId,
      backoff: options.backoff,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      logger: this.logger,
      offer: () => ({
        capabilities: [...this.capabilities.values()].map((c) => c.wire),
        capacity: this.capacity,
        tier: options.tier,
        tags: options.tags,
      }),
      load: () => ({ in_flight: this.running.size, capacity: this.capacity, status: this.status }),
    });
    this.client = new Client(this.session);
    Object.assign(this.session.handlers, {
      task: (f: Task) => this.onTask(f),
      cancel: (f: { task_id: string; reason?: string }) => this.abortTask(f.task_id, f.reason),
      request: (f: Request) => void this.handleRequest(f),
      message: (f: Parameters<NonNullable<Session["handlers"]["message"]>>[0]) => this.onDirect(f),
      lost: () => this.onLost(),
      goaway: (f: { reason: string; grace_ms: number }) => this.onBrokerGoaway(f),
    });
  }

  get id(): string | undefined {
    return this.session.agentId;
  }
  get capacity(): number {
    return this.options.capacity ?? DEFAULTS.capacity;
  }
  get inFlight(): number {
    return this.running.size;
  }
  get status(): AgentStatus {
    if (this.draining) return "draining";
    if (!this.healthy) return "unhealthy";
    return this.running.size >= this.capacity ? "busy" : "ready";
  }

  /** Offers a capability: input and output are zod schemas, sent to the broker as JSON Schema. */
  capability<I extends z.ZodType, O extends z.ZodType = z.ZodUnknown>(
    name: string,
    spec: CapabilitySpec<I, O>,
    handler: TaskHandler<z.output<I>, z.input<O>>,
  ): this {
    const wire: Capability = {
      name,
      version: spec.version,
      description: spec.description,
      tags: spec.tags,
      input_schema: z.toJSONSchema(spec.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
      output_schema: spec.output && (z.toJSONSchema(spec.output, { io: "output", unrepresentable: "any" }) as Record<string, unknown>),
    };
    this.capabilities.set(name, { wire, input: spec.input, output: spec.output, handler: handler as TaskHandler<unknown, unknown> });
    return this;
  }

  /** Handles direct messages (`send`). */
  onMessage<T = unknown>(handler: (msg: IncomingMessage<T>) => void | Promise<void>): this {
    this.messageHandler = handler as (msg: IncomingMessage) => void;
    return this;
  }

  /**
   * Runs when the broker announces its shutdown (`goaway`). Without a handler the agent keeps its work
   * running and reconnects once the broker closed [SHUT-6]; `agent.onGoaway(() => agent.drain())`
   * finishes the work, then closes with 1000 and stays closed [DRAIN-5].
   */
  onGoaway(handler: GoawayHandler): this {
    this.goawayHandler = handler;
    return this;
  }

  /** Subscribes to a topic pattern once started (kept across reconnects). */
  on<T = unknown>(pattern: string, handler: (msg: IncomingMessage<T>) => void | Promise<void>): this {
    this.topicHandlers.push([pattern, handler as (msg: IncomingMessage) => void]);
    return this;
  }

  /** Answers every request addressed to this agent. */
  onRequest(handler: RequestHandler): this {
    this.requestHandlers.set(ANY, handler);
    return this;
  }

  /** Answers requests for a capability (registering it, so requests by capability reach this agent). */
  respond(capability: string | RequestHandler, handler?: RequestHandler): this {
    if (typeof capability !== "string") return this.onRequest(capability);
    if (handler === undefined) throw new TypeError("respond(capability, handler): handler missing");
    this.requestHandlers.set(capability, handler);
    if (!this.capabilities.has(capability)) this.capability(capability, { input: z.unknown() }, (input, ctx) => handler(input, { ...ctx, from: undefined }));
    return this;
  }

  /** Connects, registers, subscribes, starts heartbeats and health checks. */
  async start(): Promise<this> {
    await this.checkHealth();
    if (this.options.healthCheck !== undefined) {
      this.healthTimer = setInterval(() => void this.checkHealth(), this.options.healthCheckIntervalMs ?? 10_000);
      this.healthTimer.unref();
    }
    await this.session.start();
    for (const [pattern, handler] of this.topicHandlers) await this.client.subscribe(pattern, handler);
    return this;
  }

  /** Stops taking tasks (broker routes none; status draining) without waiting. */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.statusChanged();
    if (this.session.isReady) {
      await this.session.call({ type: "drain", ref: this.session.nextId("d") }).catch((err: unknown) => this.logger.warn({ err }, "drain not acknowledged"));
    }
  }

  /** Resolves once no task or request is running; rejects with TimeoutError after `timeoutMs`. */
  waitForCompletion(timeoutMs?: number): Promise<void> {
    if (this.running.size === 0 && this.requestsOpen.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => reject(new TimeoutError(`tasks still running after ${timeoutMs} ms`)), timeoutMs);
      this.idleWaiters.push(() => (clearTimeout(timer), resolve()));
    });
  }

  /** Graceful stop: drain, finish in-flight work, then close. What `await using` calls. */
  async drain(timeoutMs?: number): Promise<void> {
    await this.shutdown();
    await this.waitForCompletion(timeoutMs);
    await this.close();
  }

  /** Immediate stop: running handlers are aborted, the connection closes. */
  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    for (const r of this.running.values()) r.controller.abort(new ConnectionLostError("agent closed"));
    await this.client.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  private async checkHealth(): Promise<void> {
    const check = this.options.healthCheck;
    if (check === undefined) return;
    let health: Health;
    try {
      health = await check();
    } catch (err) {
      this.logger.warn({ err }, "health check threw");
      health = false;
    }
    this.healthy = health === true || health === "healthy";
    this.statusChanged();
  }

  /** Heartbeat at once when the status changes, so the broker routes by it without waiting a period. */
  private statusChanged(): void {
    const status = this.status;
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.session.beat();
  }

  private onTask(frame: Task): void {
    const key = `${frame.task_id}#${frame.attempt}`;
    if (this.running.has(key)) {
      this.logger.warn({ task_id: frame.task_id, attempt: frame.attempt }, "duplicate task frame ignored");
      return;
    }
    const controller = new LazyAbort();
    const run: Running = { key, taskId: frame.task_id, controller };
    this.running.set(key, run);
    this.statusChanged();
    const generation = this.session.currentGeneration;
    let timer: NodeJS.Timeout | undefined;
    const settle = (result: Result): void => {
      clearTimeout(timer);
      this.running.delete(key);
      // A result for a session that ended would name a task the broker already requeued.
      if (this.session.currentGeneration === generation && this.session.isReady) this.session.send(result);
      else this.logger.debug({ task_id: frame.task_id }, "dropping result of a previous session");
      this.statusChanged();
      this.maybeIdle();
    };
    const result = runTask(frame, this.capabilities.get(frame.capability), {
      abort: controller,
      client: this.client,
      logger: this.logger,
      signer: this.options.signerFor,
      defaultSigner: this.options.signer,
      progress: (data) => {
        if (!controller.aborted && this.session.currentGeneration === generation) this.session.send({ type: "progress", task_id: frame.task_id, data });
      },
    });
    // A handler that answered synchronously is settled at once: no promise and microtask hop per task.
    // No timer can fire during synchronous code, so the deadline timer is only armed for async work.
    if (result instanceof Promise) {
      timer = setTimeout(
        () => controller.abort(errorFromCode("deadline_exceeded", "task deadline passed", { ref: frame.task_id })),
        Math.max(0, frame.deadline - Date.now()),
      );
      void result.then(settle);
    } else settle(result);
  }

  private abortTask(taskId: string, reason: string | undefined): void {
    const code = reason === "deadline_exceeded" ? "deadline_exceeded" : "cancelled";
    for (const r of this.running.values()) {
      if (r.taskId === taskId) r.controller.abort(errorFromCode(code, reason ?? "cancelled by the submitter", { ref: taskId }));
    }
  }

  private async handleRequest(frame: Request): Promise<void> {
    const handler =
      (frame.capability === undefined ? undefined : this.requestHandlers.get(frame.capability)) ??
      this.requestHandlers.get(ANY) ??
      (this.requestHandlers.size === 1 ? [...this.requestHandlers.values()][0] : undefined);
    const generation = this.session.currentGeneration;
    const deadline = frame.deadline ?? Date.now() + DEFAULTS.requestTimeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(errorFromCode("timeout", "request deadline passed")), Math.max(0, deadline - Date.now()));
    this.requestsOpen.add(controller);
    let answer: Parameters<Session["send"]>[0];
    try {
      if (handler === undefined) throw new AgentwireError("no_handler", "this agent answers no requests");
      const logger = this.logger.child({ request_id: frame.id, from: frame.from });
      const ctx = { ...requestContext(this.client, controller.signal, deadline, logger), from: frame.from };
      const payload = await handler(decodePayload(frame.payload), ctx);
      answer = { type: "response", id: frame.id, ok: true, payload: encodePayload(payload) };
    } catch (err) {
      answer = { type: "response", id: frame.id, ok: false, error: errorInfo(err) };
    }
    clearTimeout(timer);
    this.requestsOpen.delete(controller);
    // [REQ-15] the caller stopped waiting at the deadline: answering later only adds noise.
    if (this.session.currentGeneration === generation && Date.now() <= deadline) this.session.send(answer);
    this.maybeIdle();
  }

  private onDirect(frame: Parameters<NonNullable<Session["handlers"]["message"]>>[0]): void {
    const handler = this.messageHandler;
    if (handler === undefined) return;
    void Promise.resolve()
      .then(() => handler(toIncoming(frame)))
      .catch((err: unknown) => this.logger.error({ err }, "message handler failed"));
  }

  private onBrokerGoaway(frame: { reason: string; grace_ms: number }): void {
    const handler = this.goawayHandler;
    if (handler === undefined) return;
    void Promise.resolve()
      .then(() => handler({ reason: frame.reason, graceMs: frame.grace_ms }))
      .catch((err: unknown) => this.logger.error({ err }, "goaway handler failed"));
  }

  /** The broker requeues what this session held; the handlers' work can no longer be delivered. */
  private onLost(): void {
    for (const r of this.running.values()) r.controller.abort(new ConnectionLostError());
    for (const c of this.requestsOpen) c.abort(new ConnectionLostError());
  }

  private maybeIdle(): void {
    if (this.running.size > 0 || this.requestsOpen.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** Builds an agent; call `.capability(...)`, `.on(...)`, then `await agent.start()`. */
export function createAgent(options: AgentOptions): Agent {
  return new Agent(options);
}
