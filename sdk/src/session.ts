/**
 * The protocol state machine of one peer: register on every (re)connect, heartbeat with load, route
 * incoming frames, keep the maps of open refs, submitted tasks and requests. Reconnect lives here in
 * one place: when the transport drops, everything open fails with ConnectionLostError and a new
 * `register` (same agent id) follows the next open.
 */
import {
  PROTOCOL_VERSION,
  errorFromCode,
  topicMatches,
  type AgentStatus,
  type AgentwireError,
  type Cancel,
  type Drain,
  type ErrorFrame,
  type Frame,
  type Goaway,
  type Message,
  type Register,
  type Registered,
  type Request,
  type Response,
  type Result,
  type RunEvent,
  type RunResult,
  type Scale,
  type Task,
} from "@agentwire/wire";
import { Connection, type BackoffOptions } from "./connection.js";
import { ClosedError, ConnectError, ConnectionLostError, InvalidUrlError } from "./errors.js";
import { unref, type Logger, type Timer } from "./log.js";
import type { Transport } from "./transport.js";

export interface Load {
  in_flight: number;
  capacity: number;
  status: AgentStatus;
}

export interface SessionOptions {
  url: string;
  token?: string | undefined;
  name?: string | undefined;
  agentId?: string | undefined;
  backoff?: BackoffOptions | undefined;
  /** Overrides the broker's heartbeat_interval_ms when smaller. */
  heartbeatIntervalMs?: number | undefined;
  /**
   * How long tasks open when the connection dropped wait for the reconnect, ms (default 5000; 0: they
   * fail at once). Once registered again the session attaches to each (ATT-3); a task the broker no
   * longer knows (a single broker that restarted) fails with ConnectionLostError.
   */
  reattachMs?: number | undefined;
  logger: Logger;
  /** The WebSocket implementation (default: `ws` on Node, the platform's in browsers). */
  transport?: Transport | undefined;
  /** What `register` offers besides identity: capabilities, capacity, tier, tags. */
  offer?: () => Pick<Register, "capabilities" | "capacity" | "tier" | "tags" | "pool">;
  /** Load for heartbeats; absent for plain clients. */
  load?: () => Load;
}

/** Frames the session hands up instead of handling them itself. */
export interface SessionHandlers {
  task?(frame: Task): void;
  cancel?(frame: Cancel): void;
  request?(frame: Request): void;
  message?(frame: Message): void;
  /** After every `registered`, first connect included (`again` on reconnect). */
  ready?(frame: Registered, again: boolean): void;
  /** The socket dropped; everything open has been failed already. */
  lost?(): void;
  /** The broker announced its shutdown [SHUT-1]; it closes the connection after `grace_ms`. */
  goaway?(frame: Goaway): void;
  /** The broker put this agent into DRAINING (pool scale-down, an operator's drain) [DRAIN-7]. */
  drain?(frame: Drain): void;
  /** A scale request for the pool this session supervises [POOL-9]. */
  scale?(frame: Scale): void;
}

/** How the first connect may end: within `timeoutMs` unless `waitForBroker`, or when `signal` aborts. */
export interface StartOptions {
  /** Fail with ConnectError when the broker has not registered this peer within this long, ms (default 5000). */
  timeoutMs?: number | undefined;
  /** Keep trying until the broker answers, however long (a timeout is not applied; `signal` still is). */
  waitForBroker?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** One change of the connection's state, as `status()` yields it. */
export type Status =
  | { type: "connecting"; attempt: number }
  | { type: "connected"; agentId: string; sessionId: string; again: boolean }
  | { type: "disconnected"; code: number; reason: string; error?: string | undefined }
  | { type: "reconnecting"; attempt: number; inMs: number }
  | { type: "closed"; error?: AgentwireError | undefined };

export type RefWaiter = { resolve(frame: Frame): void; reject(err: AgentwireError): void };
export type TaskWatcher = { progress(data: Uint8Array): void; result(frame: Result): void; fail(err: AgentwireError): void };
/** Follows a workflow run (SPEC §21): its events and its result. */
export type RunWatcher = { event(frame: RunEvent): void; finish(frame: RunResult): void; fail(err: AgentwireError): void };
type RequestWaiter = { resolve(frame: Response): void; reject(err: AgentwireError): void };
export type TopicHandler = (msg: Message) => void;

/** Codes that make a `register` fail for good: retrying with the same settings cannot help. */
const FATAL_REGISTER = new Set(["unauthorized", "unsupported_version", "forbidden", "bad_frame"]);

export class Session {
  readonly handlers: SessionHandlers = {};
  readonly subscriptions = new Map<string, Set<TopicHandler>>();
  private readonly conn: Connection;
  private state: "idle" | "registering" | "ready" | "closed" = "idle";
  private info: Registered | undefined;
  private generation = 0;
  private seq = 0;
  private heartbeat: Timer | undefined;
  private readonly refs = new Map<string, RefWaiter>();
  private readonly tasks = new Map<string, TaskWatcher>();
  /** Workflow runs followed, kept across reconnects like tasks (`run_watch` again). */
  private readonly runs = new Map<string, RunWatcher>();
  private readonly requests = new Map<string, RequestWaiter>();
  private readyWaiters: { resolve(): void; reject(err: unknown): void }[] = [];
  private fatal: AgentwireError | undefined;
  /** Fails the tasks kept across a reconnect if it takes longer than `reattachMs`. */
  private detached: Timer | undefined;
  private readonly watchers = new Set<(s: Status) => void>();
  private readonly closedPromise: Promise<AgentwireError | undefined>;
  private resolveClosed!: (err: AgentwireError | undefined) => void;
  /** Why the last attempt failed, for the ConnectError of a first connect that never succeeds. */
  private lastFailure: string | undefined;

  constructor(readonly options: SessionOptions) {
    const url = parseBrokerUrl(options.url);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.conn = new Connection(
      { url, token: options.token, backoff: options.backoff, transport: options.transport },
      {
        open: () => this.onOpen(),
        frame: (frame) => this.onFrame(frame),
        badFrame: (err) => options.logger.warn({ err }, "undecodable frame from broker"),
        close: (code, reason, retryInMs, error) => this.onClose(code, reason, retryInMs, error),
      },
    );
  }

  /** Every later change of the connection's state. */
  watch(listener: (s: Status) => void): () => void {
    this.watchers.add(listener);
    return () => void this.watchers.delete(listener);
  }

  /** Resolves once the session closed for good: with the error that closed it, or undefined for a close asked for. */
  closed(): Promise<AgentwireError | undefined> {
    return this.closedPromise;
  }

  private hasEnded = false;
  /** Tells status watchers and `closed()` once that the session is over. */
  private ended(): void {
    if (this.hasEnded) return;
    this.hasEnded = true;
    this.emit({ type: "closed", error: this.fatal });
    this.resolveClosed(this.fatal);
  }

  private emit(status: Status): void {
    for (const w of this.watchers) w(status);
  }

  get agentId(): string | undefined {
    return this.info?.agent_id ?? this.options.agentId;
  }
  get registered(): Registered | undefined {
    return this.info;
  }
  get isReady(): boolean {
    return this.state === "ready";
  }
  get isClosed(): boolean {
    return this.state === "closed";
  }
  /** Increments on every `registered`: work started under an older generation belongs to a dead session. */
  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * Connects and resolves on the first `registered`, retrying with backoff until then; rejects with
   * ConnectError after `timeoutMs` (unless `waitForBroker`) or when `signal` aborts, and closes.
   */
  start(options: StartOptions = {}): Promise<void> {
    if (this.state === "idle") {
      this.state = "registering";
      this.emit({ type: "connecting", attempt: 1 });
      this.conn.start();
      const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const giveUp = (why: string, cause?: unknown): void => {
        if (this.state === "ready" || this.state === "closed") return;
        const attempts = this.conn.failedAttempts;
        const last = this.lastFailure === undefined ? "" : `; last failure: ${this.lastFailure}`;
        this.fatal = new ConnectError(`could not connect to ${this.options.url}: ${why} (${attempts} attempt${attempts === 1 ? "" : "s"}${last})`, {
          details: { url: this.options.url, attempts, last_failure: this.lastFailure },
          cause,
        });
        void this.close(1000, "connect failed");
      };
      const timer = options.waitForBroker === true ? undefined : unref(setTimeout(() => giveUp(`no session within ${timeoutMs} ms`), timeoutMs));
      const signal = options.signal;
      const onAbort = (): void => giveUp("aborted", signal?.reason);
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      const settled = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      this.whenReady().then(settled, settled);
    }
    return this.whenReady();
  }

  whenReady(): Promise<void> {
    if (this.state === "ready") return Promise.resolve();
    if (this.state === "closed") return Promise.reject(this.fatal ?? new ClosedError());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  nextId(prefix: string): string {
    return `${prefix}${(++this.seq).toString(36)}`;
  }

  /** Sends a frame on the current session; false when there is none. */
  send(frame: Frame): boolean {
    return this.state === "ready" && this.conn.send(frame);
  }

  /** Sends a frame carrying `ref` and resolves with the broker's answer to it (ack, accepted, agents). */
  call<F extends Frame>(frame: Frame & { ref: string }, onAnswer?: (answer: Frame) => void): Promise<F> {
    return new Promise<F>((resolve, reject) => {
      this.refs.set(frame.ref, {
        resolve: (answer) => {
          onAnswer?.(answer); // synchronous: e.g. a task watcher must exist before the next frame arrives
          resolve(answer as F);
        },
        reject,
      });
      if (!this.send(frame)) {
        this.refs.delete(frame.ref);
        reject(this.state === "closed" ? new ClosedError() : new ConnectionLostError("not connected to the broker"));
      }
    });
  }

  /**
   * `call` without a promise, for hot paths: `onAnswer` gets the broker's answer (synchronously, from
   * the frame handler), `onError` its error frame or the lost/closed connection.
   */
  callback(frame: Frame & { ref: string }, onAnswer: (answer: Frame) => void, onError: (err: AgentwireError) => void): void {
    this.callbackTo(frame, { resolve: onAnswer, reject: onError });
  }

  /** `callback` with the waiter as one object (its `resolve` and `reject` called as methods). */
  callbackTo(frame: Frame & { ref: string }, waiter: RefWaiter): void {
    this.refs.set(frame.ref, waiter);
    if (!this.send(frame)) {
      this.refs.delete(frame.ref);
      waiter.reject(this.state === "closed" ? new ClosedError() : new ConnectionLostError("not connected to the broker"));
    }
  }

  watchTask(taskId: string, watcher: TaskWatcher): void {
    this.tasks.set(taskId, watcher);
  }
  unwatchTask(taskId: string): void {
    this.tasks.delete(taskId);
  }
  watchRun(runId: string, watcher: RunWatcher): void {
    this.runs.set(runId, watcher);
  }
  unwatchRun(runId: string): void {
    this.runs.delete(runId);
  }

  /** Sends a request and resolves with its response frame (ok or not). */
  request(frame: Request, guardMs: number): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      // The broker answers `timeout` itself; this guard only covers a broker that never answers.
      const timer = setTimeout(() => {
        this.requests.delete(frame.id);
        reject(errorFromCode("timeout", `no response to request ${frame.id}`, { ref: frame.id }));
      }, guardMs);
      unref(timer);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        this.requests.delete(frame.id);
        f(v);
      };
      this.requests.set(frame.id, { resolve: done(resolve), reject: done(reject) });
      if (!this.send(frame)) this.requests.get(frame.id)?.reject(new ConnectionLostError("not connected to the broker"));
    });
  }

  /** Sends a heartbeat now (e.g. when the status changed). */
  beat(): void {
    this.send({ type: "heartbeat", ...this.options.load?.() });
  }

  /** Closes for good: open operations fail with ClosedError. */
  async close(code = 1000, reason = "closing"): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    clearInterval(this.heartbeat);
    this.failAll(new ClosedError());
    this.rejectReady(this.fatal ?? new ClosedError());
    this.ended();
    await this.conn.stop(code, reason);
  }

  private onOpen(): void {
    if (this.state === "closed") return;
    this.state = "registering";
    const register: Register = {
      type: "register",
      protocol: PROTOCOL_VERSION,
      name: this.options.name,
      agent_id: this.agentId,
      token: this.options.token,
      ...this.options.offer?.(),
    };
    this.conn.send(register);
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "registered":
        return this.onRegistered(frame);
      case "error":
        return this.onError(frame);
      case "accepted":
      case "ack":
      case "agents":
      case "run_accepted": {
        const waiter = this.refs.get(frame.ref);
        this.refs.delete(frame.ref);
        return waiter?.resolve(frame);
      }
      case "progress":
        return this.tasks.get(frame.task_id)?.progress(frame.data);
      case "result": {
        const watcher = this.tasks.get(frame.task_id);
        this.tasks.delete(frame.task_id);
        return watcher?.result(frame);
      }
      case "response":
        return this.requests.get(frame.id)?.resolve(frame);
      case "run_event":
        return this.runs.get(frame.run_id)?.event(frame);
      case "run_result": {
        const watcher = this.runs.get(frame.run_id);
        this.runs.delete(frame.run_id);
        return watcher?.finish(frame);
      }
      case "task":
        return this.handlers.task?.(frame);
      case "cancel":
        return this.handlers.cancel?.(frame);
      case "request":
        return this.handlers.request?.(frame);
      case "message":
        return frame.topic === undefined ? this.handlers.message?.(frame) : this.deliver(frame.topic, frame);
      case "goaway":
        // Unless a handler acts on it, the broker closes after its grace period and the reconnect logic takes it from there.
        this.options.logger.info({ reason: frame.reason, grace_ms: frame.grace_ms }, "broker going away");
        return this.handlers.goaway?.(frame);
      case "drain":
        this.options.logger.info({ reason: frame.reason }, "the broker is draining this agent");
        return this.handlers.drain?.(frame);
      case "scale":
        return this.handlers.scale?.(frame);
      default:
        this.options.logger.debug({ type: frame.type }, "ignoring frame");
    }
  }

  private deliver(topic: string, msg: Message): void {
    for (const [pattern, handlers] of this.subscriptions) {
      if (!topicMatches(pattern, topic)) continue;
      for (const h of handlers) h(msg);
    }
  }

  private onRegistered(frame: Registered): void {
    const again = this.generation > 0;
    this.info = frame;
    this.generation++;
    this.state = "ready";
    this.conn.resetBackoff();
    clearInterval(this.heartbeat);
    const every = Math.min(frame.heartbeat_interval_ms, this.options.heartbeatIntervalMs ?? Infinity);
    this.heartbeat = unref(setInterval(() => this.beat(), every));
    this.lastFailure = undefined;
    if (again) this.options.logger.info({ agent_id: frame.agent_id, session_id: frame.session_id }, "reconnected to the broker");
    else this.options.logger.debug({ agent_id: frame.agent_id, session_id: frame.session_id }, "registered");
    this.emit({ type: "connected", agentId: frame.agent_id, sessionId: frame.session_id, again });
    this.beat();
    if (again) {
      this.resubscribe();
      this.reattach();
    }
    this.handlers.ready?.(frame, again);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Tasks outlive connections: follow each open one on the new session [ATT-3]. */
  private reattach(): void {
    clearTimeout(this.detached);
    this.detached = undefined;
    for (const [taskId, watcher] of this.tasks) {
      this.callback(
        { type: "attach", task_id: taskId, ref: this.nextId("t") },
        () => undefined,
        (err) => {
          if (this.tasks.get(taskId) !== watcher) return;
          this.tasks.delete(taskId);
          watcher.fail(new ConnectionLostError(`task ${taskId} could not be followed after the reconnect (${err.code}: ${err.message})`));
        },
      );
    }
    // Runs too (the broker owns them): events from now on, and the result [WF-21].
    for (const [runId, watcher] of this.runs) {
      this.callback(
        { type: "run_watch", run_id: runId, ref: this.nextId("w") },
        () => undefined,
        (err) => {
          if (this.runs.get(runId) !== watcher) return;
          this.runs.delete(runId);
          watcher.fail(new ConnectionLostError(`run ${runId} could not be followed after the reconnect (${err.code}: ${err.message})`));
        },
      );
    }
  }

  /** Subscriptions outlive sessions: the broker forgot them with the old one. */
  private resubscribe(): void {
    for (const pattern of this.subscriptions.keys()) {
      this.call({ type: "subscribe", topic: pattern, ref: this.nextId("u") }).catch((err: unknown) =>
        this.options.logger.warn({ err, pattern }, "resubscribe failed"),
      );
    }
  }

  private onError(frame: ErrorFrame): void {
    const err = errorFromCode(frame.code, frame.message, { details: frame.details, ref: frame.ref });
    if (this.state === "registering") {
      this.options.logger.warn({ code: frame.code, message: frame.message }, "register failed");
      if (FATAL_REGISTER.has(frame.code)) {
        this.fatal = err;
        void this.close(1000, "register failed");
      }
      return; // otherwise (duplicate_agent, shutting_down) the broker closes and we retry
    }
    const ref = frame.ref;
    if (ref !== undefined) {
      const waiter = this.refs.get(ref);
      if (waiter !== undefined) {
        this.refs.delete(ref);
        return waiter.reject(err);
      }
      const request = this.requests.get(ref);
      if (request !== undefined) return request.reject(err);
    }
    this.options.logger.warn({ code: frame.code, message: frame.message, ref }, "error from broker");
  }

  private onClose(code: number, reason: string, retryInMs: number | undefined, error: Error | undefined): void {
    clearInterval(this.heartbeat);
    const again = retryInMs !== undefined;
    const wasReady = this.state === "ready";
    if (this.state !== "closed") this.state = again ? "registering" : "closed";
    this.lastFailure = error?.message ?? `closed with ${code}${reason === "" ? "" : ` ${reason}`}`;
    const attempt = this.conn.failedAttempts;
    if (wasReady) this.options.logger.warn({ code, reason, err: error, retry_in_ms: retryInMs }, "connection to the broker lost; reconnecting");
    else if (again) this.options.logger.info({ attempt, failure: this.lastFailure, retry_in_ms: retryInMs }, "could not connect to the broker; trying again");
    this.emit({ type: "disconnected", code, reason, error: error?.message });
    if (again && this.state !== "closed") this.emit({ type: "reconnecting", attempt: attempt + 1, inMs: retryInMs });
    const err = new ConnectionLostError(`connection to the broker closed (${code}${reason === "" ? "" : ` ${reason}`})`);
    const keep = this.state !== "closed" && (this.options.reattachMs ?? 5_000) > 0;
    this.failAll(err, keep);
    if (keep && this.tasks.size + this.runs.size > 0 && this.detached === undefined) {
      this.detached = setTimeout(() => {
        this.detached = undefined;
        this.failFollowed(err);
      }, this.options.reattachMs ?? 5_000);
      unref(this.detached);
    }
    if (this.state === "closed") {
      this.rejectReady(this.fatal ?? new ClosedError());
      this.ended();
    }
    this.handlers.lost?.();
  }

  /** Fails every open operation; `keepTasks`: accepted tasks wait to be attached again after a reconnect. */
  private failAll(err: AgentwireError, keepTasks = false): void {
    const refs = [...this.refs.values()];
    const requests = [...this.requests.values()];
    this.refs.clear();
    if (!keepTasks) {
      clearTimeout(this.detached);
      this.detached = undefined;
    }
    for (const w of refs) w.reject(err);
    if (!keepTasks) this.failFollowed(err);
    for (const w of requests) w.reject(err);
  }

  /** Fails the accepted tasks and the runs followed. */
  private failFollowed(err: AgentwireError): void {
    const tasks = [...this.tasks.values()];
    const runs = [...this.runs.values()];
    this.tasks.clear();
    this.runs.clear();
    for (const w of tasks) w.fail(err);
    for (const w of runs) w.fail(err);
  }

  private rejectReady(err: unknown): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }
}

/** How long a first connect may take before it fails with ConnectError, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** The broker URL, checked: ws:// or wss:// only (an http:// URL is the HTTP API, not the WebSocket). */
export function parseBrokerUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidUrlError(`not a URL: ${JSON.stringify(url)} (expected ws://host:port or wss://host:port)`);
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    const hint = parsed.protocol === "http:" || parsed.protocol === "https:" ? ` (did you mean ${url.replace(/^http/, "ws")}?)` : "";
    throw new InvalidUrlError(`a broker URL must use ws:// or wss://, not ${parsed.protocol}//${hint}`);
  }
  return url;
}
