/**
 * An agent: typed capability handlers on top of a Session. The builder collects handlers; start()
 * registers them, heartbeats with load, runs a health check, and reconnects (same agent id,
 * subscriptions restored) until drain() or close().
 */
import {
  AgentwireError,
  DEFAULTS,
  InvalidInputError,
  InvalidOutputError,
  TimeoutError,
  decodePayload,
  encodePayload,
  errorFromCode,
  errorInfo,
  type AgentStatus,
  type Capability,
  type ErrorInfo,
  type Request,
  type Result,
  type Task,
} from "@agentwire/wire";
import { z } from "zod";
import { Client, SKIP, incomingChecked, startOptions, type IncomingMessage } from "./client.js";
import type { BackoffOptions } from "./connection.js";
import { requestContext, type ProgressSink, type RequestContext, type TaskInfo } from "./context.js";
import type { CapabilityContract, RequestContract } from "./contract.js";
import { ConnectionLostError } from "./errors.js";
import { consoleLogger, unref, type Logger, type Timer } from "./log.js";
import { Session } from "./session.js";
import type { Signer } from "./signer.js";
import { consume, consumeAsync, traceOf, type TraceSpan, type Tracing } from "./trace.js";
import type { Transport } from "./transport.js";
import { LazyAbort, acceptsAnything, runTask, type CapabilityEntry, type RunDeps, type TaskHandler } from "./task.js";

export type { TaskHandler } from "./task.js";

export type Health = boolean | "healthy" | "unhealthy";

export interface AgentOptions {
  url: string;
  name: string;
  token?: string;
  /**
   * Requested agent id; kept across reconnects. The broker assigns one when absent. Default where the
   * environment names a pool (AGENTWIRE_POOL): AGENTWIRE_INSTANCE_ID, as a pool supervisor sets it.
   */
  agentId?: string;
  /** The pool this agent is a member of (`register.pool`) [POOL-1]; default: AGENTWIRE_POOL from the environment. */
  pool?: string;
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
  /** A pino logger, or anything with its methods; default: JSON lines on the console at AGENTWIRE_LOG_LEVEL (default warn). */
  logger?: Logger;
  /** `start()` fails with ConnectError when the broker has not registered the agent within this long, ms (default 5000). */
  connectTimeoutMs?: number;
  /** `start()` keeps trying until the broker answers, however long it takes. */
  waitForBroker?: boolean;
  /**
   * Whether a handler exception that is not an AgentwireError (a bug, a failed dependency) may be
   * retried on another attempt. Default false: it ends the task. Throw an AgentwireError with
   * `retryable` to decide per failure.
   */
  retryUnexpectedErrors?: boolean;
  /** The WebSocket implementation (default: the `ws` package on Node, the platform's in browsers). */
  transport?: Transport;
  /** Spans around each handler and what it sends, e.g. `openTelemetry()` from `@agentwire/sdk/otel`; without it trace context still flows. */
  tracing?: Tracing;
}

export interface CapabilitySpec<I extends z.ZodType, O extends z.ZodType> {
  input: I;
  output?: O;
  version?: string;
  description?: string;
  tags?: string[];
}

export type RequestHandler<I = unknown, O = unknown> = (payload: I, ctx: RequestContext & { from: string | undefined }) => O | Promise<O>;

/** What a `goaway` announced: the broker closes the connection `graceMs` after sending it. */
export type GoawayHandler = (info: { reason: string; graceMs: number }) => void | Promise<void>;


/** One attempt this agent runs: its cancellation, its deadline timer, and where its progress goes. */
class Running implements ProgressSink {
  readonly controller = new LazyAbort();
  timer: Timer | undefined;

  constructor(
    private readonly agent: Agent,
    readonly key: string,
    readonly taskId: string,
    /** The session generation it arrived on: results and progress for an older one are dropped. */
    readonly generation: number,
  ) {}

  progress(data: Uint8Array): void {
    this.agent.progressOf(this, data);
  }
}

const ANY = "*";

export class Agent implements AsyncDisposable {
  readonly session: Session;
  readonly client: Client;
  readonly logger: Logger;
  private readonly capabilities = new Map<string, CapabilityEntry>();
  private readonly requestHandlers = new Map<string, { handler: RequestHandler; input: z.ZodType | undefined; output: z.ZodType | undefined }>();
  private readonly topicHandlers: [string, z.ZodType | ((msg: IncomingMessage) => void | Promise<void>), ((msg: IncomingMessage) => void | Promise<void>) | undefined][] = [];
  private messageHandler: ((msg: IncomingMessage) => void | Promise<void>) | undefined;
  private goawayHandler: GoawayHandler | undefined;
  private readonly running = new Map<string, Running>();
  private readonly requestsOpen = new Set<AbortController>();
  private healthy = true;
  private draining = false;
  private healthTimer: Timer | undefined;
  private idleWaiters: (() => void)[] = [];
  private lastStatus: AgentStatus = "ready";

  constructor(readonly options: AgentOptions) {
    options = this.options = withPoolEnv(options);
    this.logger = options.logger ?? consoleLogger(options.name);
    this.session = new Session({
      transport: options.transport,
      url: options.url,
      token: options.token,
      name: options.name,
      agentId: options.agentId,
      backoff: options.backoff,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      logger: this.logger,
      offer: () => ({
        capabilities: [
          ...[...this.capabilities.values()].map((c) => c.wire),
          ...[...this.requestOnly].filter((n) => !this.capabilities.has(n)).map((name) => ({ name })),
        ],
        capacity: this.capacity,
        tier: options.tier,
        tags: options.tags,
        pool: options.pool,
      }),
      load: () => ({ in_flight: this.running.size, capacity: this.capacity, status: this.status }),
    });
    this.client = new Client(this.session, options.tracing);
    Object.assign(this.session.handlers, {
      task: (f: Task) => this.onTask(f),
      cancel: (f: { task_id: string; reason?: string }) => this.abortTask(f.task_id, f.reason),
      request: (f: Request) => void this.handleRequest(f),
      message: (f: Parameters<NonNullable<Session["handlers"]["message"]>>[0]) => this.onDirect(f),
      lost: () => this.onLost(),
      goaway: (f: { reason: string; grace_ms: number }) => this.onBrokerGoaway(f),
      // The broker put this agent into DRAINING [DRAIN-7]: finish the tasks, close with 1000 [DRAIN-5].
      drain: () => void this.drain(),
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

  /**
   * Offers a capability: a contract from defineCapability (shared with the clients that call it), or a
   * name and its zod schemas. The schemas go to the broker as JSON Schema; input is validated before
   * the handler runs and output after it.
   */
  capability<I extends z.ZodType, O extends z.ZodType, P extends z.ZodType>(
    contract: CapabilityContract<I, O, P>,
    handler: TaskHandler<z.output<I>, z.input<O>, z.input<P>>,
  ): this;
  capability<I extends z.ZodType, O extends z.ZodType = z.ZodUnknown>(name: string, spec: CapabilitySpec<I, O>, handler: TaskHandler<z.output<I>, z.input<O>>): this;
  capability(
    nameOrContract: string | CapabilityContract,
    specOrHandler: CapabilitySpec<z.ZodType, z.ZodType> | TaskHandler<unknown, unknown>,
    maybeHandler?: TaskHandler<unknown, unknown>,
  ): this {
    const [name, spec, handler] =
      typeof nameOrContract === "string"
        ? [nameOrContract, specOrHandler as CapabilitySpec<z.ZodType, z.ZodType>, maybeHandler!]
        : [nameOrContract.name, { ...nameOrContract, tags: nameOrContract.tags === undefined ? undefined : [...nameOrContract.tags] }, specOrHandler as TaskHandler<unknown, unknown>];
    if (typeof handler !== "function") throw new TypeError(`capability ${name}: handler missing`);
    const wire: Capability = {
      name,
      version: spec.version,
      description: spec.description,
      tags: spec.tags,
      input_schema: z.toJSONSchema(spec.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
      output_schema: spec.output && (z.toJSONSchema(spec.output, { io: "output", unrepresentable: "any" }) as Record<string, unknown>),
    };
    this.capabilities.set(name, { wire, input: spec.input, output: spec.output, handler: handler as TaskHandler<unknown, unknown>, anyInput: acceptsAnything(spec.input) });
    return this;
  }

  /** Handles direct messages (`send`); with a schema, payloads that do not match it are logged and dropped. */
  onMessage<S extends z.ZodType>(schema: S, handler: (msg: IncomingMessage<z.output<S>>) => void | Promise<void>): this;
  onMessage<T = unknown>(handler: (msg: IncomingMessage<T>) => void | Promise<void>): this;
  onMessage(schemaOrHandler: z.ZodType | ((msg: IncomingMessage) => void | Promise<void>), maybeHandler?: (msg: IncomingMessage) => void | Promise<void>): this {
    this.messageSchema = typeof schemaOrHandler === "function" ? undefined : schemaOrHandler;
    this.messageHandler = typeof schemaOrHandler === "function" ? schemaOrHandler : maybeHandler;
    return this;
  }
  private messageSchema: z.ZodType | undefined;

  /**
   * Runs when the broker announces its shutdown (`goaway`). Without a handler the agent keeps its work
   * running and reconnects once the broker closed [SHUT-6]; `agent.onGoaway(() => agent.drain())`
   * finishes the work, then closes with 1000 and stays closed [DRAIN-5].
   */
  onGoaway(handler: GoawayHandler): this {
    this.goawayHandler = handler;
    return this;
  }

  /** Subscribes to a topic pattern once started (kept across reconnects); with a schema, payloads that do not match it are logged and dropped. */
  on<S extends z.ZodType>(pattern: string, schema: S, handler: (msg: IncomingMessage<z.output<S>>) => void | Promise<void>): this;
  on<T = unknown>(pattern: string, handler: (msg: IncomingMessage<T>) => void | Promise<void>): this;
  on(pattern: string, schemaOrHandler: z.ZodType | ((msg: IncomingMessage) => void | Promise<void>), maybeHandler?: (msg: IncomingMessage) => void | Promise<void>): this {
    this.topicHandlers.push([pattern, schemaOrHandler, maybeHandler]);
    return this;
  }

  /** Answers every request addressed to this agent. */
  onRequest(handler: RequestHandler): this {
    this.requestHandlers.set(ANY, { handler, input: undefined, output: undefined });
    return this;
  }

  /**
   * Answers requests for a capability: a contract from defineRequest (payload validated, answer
   * checked) or a name. The name is offered in `register` so that requests by capability reach this
   * agent; a task submitted to it fails with unknown_capability unless `capability()` serves it too.
   */
  respond<I extends z.ZodType, O extends z.ZodType>(contract: RequestContract<I, O>, handler: RequestHandler<z.output<I>, z.input<O>>): this;
  respond(capability: string, handler: RequestHandler): this;
  respond(handler: RequestHandler): this;
  respond(target: string | RequestContract | RequestHandler, handler?: RequestHandler<never, unknown>): this {
    if (typeof target === "function") return this.onRequest(target);
    if (handler === undefined) throw new TypeError("respond(capability, handler): handler missing");
    const name = typeof target === "string" ? target : target.name;
    const contract = typeof target === "string" ? undefined : target;
    this.requestHandlers.set(name, { handler: handler as RequestHandler, input: contract?.input, output: contract?.output });
    if (!this.capabilities.has(name)) this.requestOnly.add(name);
    return this;
  }
  /** Names offered for requests only: registered, but no task handler. */
  private readonly requestOnly = new Set<string>();

  /**
   * Connects, registers, subscribes, starts heartbeats and health checks. Rejects with ConnectError
   * when the broker has not registered the agent within `connectTimeoutMs` (unless `waitForBroker`)
   * or `signal` aborted, and with the broker's error when it refused the registration.
   */
  async start(options: { signal?: AbortSignal } = {}): Promise<this> {
    await this.checkHealth();
    if (this.options.healthCheck !== undefined) {
      this.healthTimer = unref(setInterval(() => void this.checkHealth(), this.options.healthCheckIntervalMs ?? 10_000));
    }
    try {
      await this.session.start(startOptions({ ...this.options, signal: options.signal }));
    } catch (err) {
      clearInterval(this.healthTimer);
      throw err;
    }
    for (const [pattern, a, b] of this.topicHandlers) {
      if (typeof a === "function") await this.client.subscribe(pattern, a);
      else await this.client.subscribe(pattern, a, b!);
    }
    return this;
  }

  /** Stops taking tasks (broker routes none; status draining) without waiting; every call resolves once the broker acknowledged. */
  shutdown(): Promise<void> {
    return (this.shutdownDone ??= this.sendDrain());
  }
  private shutdownDone: Promise<void> | undefined;

  private async sendDrain(): Promise<void> {
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

  /**
   * Graceful stop: the broker routes nothing new here, in-flight tasks and requests finish (at most
   * `timeoutMs`, default 30 s), then the agent closes, in every case. Tasks still running at the
   * timeout are aborted and released: closing the session makes the broker requeue them as for any
   * lost agent [TASK-*]; the report names them. What `await using` calls.
   */
  async drain(options: { timeoutMs?: number } | number = {}): Promise<AgentDrainReport> {
    const timeoutMs = typeof options === "number" ? options : (options.timeoutMs ?? 30_000);
    await this.shutdown();
    let settled = true;
    try {
      await this.waitForCompletion(timeoutMs);
    } catch {
      settled = false;
    }
    const released = [...new Set([...this.running.values()].map((r) => r.taskId))];
    if (!settled) this.logger.warn({ released, timeout_ms: timeoutMs }, "drain timed out; releasing the tasks still running to be requeued");
    await this.close();
    return { settled, released };
  }

  /** Resolves once the agent is closed for good: with the error that closed it, or undefined when closed on purpose. */
  closed(): Promise<Error | undefined> {
    return this.client.closed();
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
    const run = new Running(this, key, frame.task_id, this.session.currentGeneration);
    this.running.set(key, run);
    this.statusChanged();
    const deps = (this.runDeps ??= this.makeRunDeps());
    const entry = this.capabilities.get(frame.capability);
    // Untraced (no tracer, no traceparent): a plain call, nothing more per task.
    const result = frame.traceparent === undefined && this.options.tracing === undefined ? runTask(frame, entry, deps, run.controller, run) : this.runTraced(frame, entry, deps, run);
    // A handler that answered synchronously is settled at once: no promise and microtask hop per task.
    // No timer can fire during synchronous code, so the deadline timer is only armed for async work.
    if (result instanceof Promise) {
      run.timer = setTimeout(
        // Not retryable: a result that beats the broker's own deadline must not requeue the task [TASK-35].
        () => run.controller.abort(errorFromCode("deadline_exceeded", "task deadline passed", { ref: frame.task_id, retryable: false })),
        // Timed from the broker's remaining_ms, not our clock against its deadline [TASK-34].
        Math.max(0, frame.remaining_ms ?? frame.deadline - Date.now()),
      );
      void result.then((r) => this.settle(run, r));
    } else this.settle(run, result);
  }

  /** An attempt in its task's trace context [TRACE-8], in a consumer span when tracing (ended with the result). */
  private runTraced(frame: Task, entry: CapabilityEntry | undefined, deps: RunDeps, run: Running): Result | Promise<Result> {
    const { span, value } = consume(this.options.tracing, "task", frame.capability, traceOf(frame), frame.task_id, () => runTask(frame, entry, deps, run.controller, run));
    if (span === undefined) return value;
    if (!(value instanceof Promise)) {
      span.end(value.ok ? undefined : value.error);
      return value;
    }
    return value.then((r) => {
      span.end(r.ok ? undefined : r.error);
      return r;
    });
  }

  private runDeps: RunDeps | undefined;
  private makeRunDeps(): RunDeps {
    return { client: this.client, logger: this.logger, signer: this.options.signerFor, defaultSigner: this.options.signer, retryUnexpected: this.options.retryUnexpectedErrors === true };
  }

  /** An attempt ended with `result`: sent if its session is still the current one. */
  private settle(run: Running, result: Result): void {
    clearTimeout(run.timer);
    this.running.delete(run.key);
    // A result for a session that ended would name a task the broker already requeued.
    if (this.session.currentGeneration === run.generation && this.session.isReady) this.session.send(result);
    else this.logger.debug({ task_id: run.taskId }, "dropping result of a previous session");
    this.statusChanged();
    this.maybeIdle();
  }

  /** A running attempt's progress, sent while it is not aborted and its session is the current one. */
  progressOf(run: Running, data: Uint8Array): void {
    if (!run.controller.aborted && this.session.currentGeneration === run.generation) this.session.send({ type: "progress", task_id: run.taskId, data });
  }

  private abortTask(taskId: string, reason: string | undefined): void {
    const code = reason === "deadline_exceeded" ? "deadline_exceeded" : "cancelled";
    for (const r of this.running.values()) {
      if (r.taskId === taskId) r.controller.abort(errorFromCode(code, reason ?? "cancelled by the submitter", { ref: taskId }));
    }
  }

  private async handleRequest(frame: Request): Promise<void> {
    const entry =
      (frame.capability === undefined ? undefined : this.requestHandlers.get(frame.capability)) ??
      this.requestHandlers.get(ANY) ??
      (this.requestHandlers.size === 1 ? [...this.requestHandlers.values()][0] : undefined);
    const generation = this.session.currentGeneration;
    const deadline = frame.deadline ?? Date.now() + DEFAULTS.requestTimeoutMs;
    const controller = new AbortController();
    // [REQ-16] timed from the broker's remaining_ms when it sent one.
    const timer = setTimeout(() => controller.abort(errorFromCode("timeout", "request deadline passed")), Math.max(0, frame.remaining_ms ?? deadline - Date.now()));
    this.requestsOpen.add(controller);
    let answer: Parameters<Session["send"]>[0];
    // When tracing, the consumer span; its trace context goes on the response [TRACE-5].
    let span: TraceSpan | undefined;
    let failure: ErrorInfo | undefined;
    try {
      if (entry === undefined) throw new AgentwireError("no_handler", "this agent answers no requests");
      const logger = this.logger.child({ request_id: frame.id, from: frame.from });
      const ctx = Object.assign(requestContext(this.client, controller.signal, deadline, logger), { from: frame.from });
      let input = decodePayload(frame.payload);
      if (entry.input !== undefined) {
        const parsed = entry.input.safeParse(input);
        if (!parsed.success) throw new InvalidInputError(z.prettifyError(parsed.error), { details: { issues: parsed.error.issues } });
        input = parsed.data;
      }
      const run = consume(this.options.tracing, "request", frame.capability ?? frame.to ?? "", traceOf(frame), frame.id, async () => entry.handler(input, ctx));
      span = run.span;
      let payload = await run.value;
      if (entry.output !== undefined) {
        const parsed = entry.output.safeParse(payload);
        if (!parsed.success) throw new InvalidOutputError(z.prettifyError(parsed.error), { details: { issues: parsed.error.issues } });
        payload = parsed.data;
      }
      answer = { type: "response", id: frame.id, ok: true, payload: encodePayload(payload), traceparent: span?.context?.traceparent, tracestate: span?.context?.tracestate };
    } catch (err) {
      if (!(err instanceof AgentwireError)) this.logger.warn({ err, request_id: frame.id }, "request handler threw");
      failure = { ...errorInfo(err), ...(err instanceof AgentwireError ? {} : { retryable: this.options.retryUnexpectedErrors === true }) };
      answer = { type: "response", id: frame.id, ok: false, error: failure, traceparent: span?.context?.traceparent, tracestate: span?.context?.tracestate };
    }
    span?.end(failure);
    clearTimeout(timer);
    this.requestsOpen.delete(controller);
    // [REQ-15] the caller stopped waiting at the deadline: answering later only adds noise.
    if (this.session.currentGeneration === generation && Date.now() <= deadline) this.session.send(answer);
    this.maybeIdle();
  }

  private onDirect(frame: Parameters<NonNullable<Session["handlers"]["message"]>>[0]): void {
    const handler = this.messageHandler;
    if (handler === undefined) return;
    void consumeAsync(this.options.tracing, "message", frame.from, traceOf(frame), undefined, () => Promise.resolve().then(() => handler(incomingChecked(frame, this.messageSchema, this.logger))))
      .catch((err: unknown) => {
        if (err !== SKIP) this.logger.error({ err }, "message handler failed");
      });
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

/** What `agent.drain()` reports: whether all work finished in time, and the task ids released to be requeued. */
export interface AgentDrainReport {
  settled: boolean;
  released: string[];
}

/** A pool member started by a supervisor finds its pool and agent id in the environment (Node). */
function withPoolEnv(options: AgentOptions): AgentOptions {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const pool = env?.AGENTWIRE_POOL;
  if (pool === undefined || pool === "" || options.pool !== undefined) return options;
  return { ...options, pool, agentId: options.agentId ?? env?.AGENTWIRE_INSTANCE_ID };
}

/** Builds an agent; call `.capability(...)`, `.on(...)`, then `await agent.start()`. */
export function createAgent(options: AgentOptions): Agent {
  return new Agent(options);
}
