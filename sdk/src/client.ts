/**
 * What any peer can do on the mesh: submit tasks, stream them, cancel, publish, subscribe, send,
 * request, query the registry. `connect()` gives a plain Client; an Agent uses the same class over
 * its own session (ctx.request, ctx.submit, the LLM planner).
 *
 * Reconnect: a task the broker accepted outlives the connection. Once registered again (within
 * `reattachMs`, default 5 s) the session attaches to it (ATT-3) and its result arrives as usual: on
 * a broker that kept it, or on any broker of a mesh. A task the broker no longer knows (a single
 * broker that was restarted), a submit not yet accepted, and other operations open when the
 * connection dropped fail with ConnectionLostError (retryable); pass `idempotencyKey` to submit again
 * safely (the broker answers with the first task instead of running it again).
 */
import {
  type AgentwireError,
  type Frame,
  DEFAULTS,
  decodePayload,
  encodePayload,
  errorFromCode,
  InvalidOutputError,
  type Accepted,
  type AgentInfo,
  type Agents,
  type AgentStatus,
  type Message,
  type Priority,
  type RecordedEvent,
  type Result,
  type Strategy,
} from "@agentwire/wire";
import { z } from "zod";
import type { BackoffOptions } from "./connection.js";
import { capabilityName, type CapabilityContract, type InputOf, type OutputOf, type ProgressOf, type RequestContract } from "./contract.js";
import { ClosedError } from "./errors.js";
import { followEvents, httpBase, replayEvents, type EventQuery, type EventReadOptions } from "./events.js";
import { TaskHandle } from "./handle.js";
import { consoleLogger, unref, type Logger } from "./log.js";
import { Session, type StartOptions, type Status } from "./session.js";
import { consumeAsync, produce, spanError, traceOf, type TraceContext, type TraceSpan, type Tracing } from "./trace.js";
import type { Transport } from "./transport.js";
import type { TypedWorkflow, WorkflowOutput } from "./workflow.js";
import { followRun, startRun, type RunHandle, type RunOptions } from "./workflow-run.js";
import { registerWorkflow } from "./workflow-http.js";

export interface SubmitOptions {
  timeoutMs?: number;
  priority?: Priority;
  strategy?: Strategy;
  idempotencyKey?: string;
  maxAttempts?: number;
  /** Version range of the capability, e.g. "^1.2". */
  version?: string;
  tags?: string[];
  /** Aborting cancels the task (or the submit before it was accepted). */
  signal?: AbortSignal;
  /** Called with the task id once the broker accepted the task (the handle's `id` resolves then too). */
  onAccepted?: (taskId: string, duplicate: boolean) => void;
  /** Check the output against the contract's output schema here too; a mismatch rejects with InvalidOutputError. */
  validate?: boolean;
  /** W3C trace context to carry (TRACE-3); default: the running handler's, if any. */
  trace?: TraceContext;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** With a contract: the agent id to ask, instead of any agent offering the contract's name. */
  to?: string;
  /** W3C trace context to carry (TRACE-3); default: the running handler's, if any. */
  trace?: TraceContext;
}

/** What `drain` reports: whether everything open settled in time, and the task ids it stopped waiting for. */
export interface DrainReport {
  /** True when every open operation settled before the timeout. */
  settled: boolean;
  /** Tasks still open at the timeout; the broker keeps running them (follow one again with `client.task(id)`). */
  abandoned: string[];
}

/** A request target: an agent id (string or {to}), or any agent offering a capability. */
export type RequestTarget = string | { to: string } | { capability: string };

export interface AgentQuery {
  capability?: string;
  status?: AgentStatus;
  tags?: string[];
}

export interface IncomingMessage<T = unknown> {
  from: string;
  topic: string | undefined;
  correlationId: string | undefined;
  payload: T;
}

export function toIncoming<T>(msg: Message): IncomingMessage<T> {
  return { from: msg.from, topic: msg.topic, correlationId: msg.correlation_id, payload: decodePayload<T>(msg.payload) };
}

/** The output of a result frame, or the typed error its code names (with the `retryable` the sender chose). */
export function resultValue<T>(frame: Result): T {
  if (frame.ok) return (frame.output === undefined ? undefined : decodePayload(frame.output)) as T;
  const e = frame.error ?? { code: "internal", message: "result without error" };
  throw errorFromCode(e.code, e.message, { details: e.details, ref: frame.task_id, retryable: e.retryable });
}

/** A value checked against a schema, or InvalidOutputError naming what is wrong. */
function checked(schema: z.ZodType | undefined, value: unknown, what: string): unknown {
  if (schema === undefined) return value;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidOutputError(`${what} does not match its schema: ${z.prettifyError(parsed.error)}`, { details: { issues: parsed.error.issues } });
}

export class Client implements AsyncDisposable {
  /** Operations open, for drain; tasks with their handle, so drain can name those it stopped waiting for. */
  private readonly open = new Map<Promise<unknown>, TaskHandle | undefined>();
  private closing = false;

  constructor(
    readonly session: Session,
    /** Spans around what this client sends and handles (`@agentwire/sdk/otel`); without it trace context still flows. */
    readonly tracing?: Tracing,
  ) {}

  /**
   * The broker's recorded events matching `query`, oldest first (a replay by time range and filters,
   * over the HTTP API on the broker's port; with auth on, an admin token) [HTTP-15].
   */
  events(query: EventQuery = {}, options: EventReadOptions = {}): AsyncIterable<RecordedEvent> {
    return replayEvents(httpBase(this.session.options.url), this.session.options.token, query, options);
  }

  /** The live tail: events as the broker records them, until `options.signal` aborts; reconnects resume after the last one. */
  follow(query: EventQuery = {}, options: EventReadOptions = {}): AsyncIterable<RecordedEvent> {
    return followEvents(httpBase(this.session.options.url), this.session.options.token, query, options);
  }

  /** This session's agent id, assigned by the broker unless requested. */
  get id(): string | undefined {
    return this.session.agentId;
  }

  /**
   * Submits a task and returns its handle: `await client.submit(...)` is its output (or the error class
   * of the result's code); the handle also has `id`, `progress()`, `cancel()`, and iterates as a stream.
   * With a contract (defineCapability) input, output and progress are typed.
   */
  submit<C extends CapabilityContract>(contract: C, input: InputOf<C>, options?: SubmitOptions): TaskHandle<OutputOf<C>, ProgressOf<C>>;
  submit<O = unknown, P = unknown>(capability: string, input: unknown, options?: SubmitOptions): TaskHandle<O, P>;
  submit(capability: string | CapabilityContract, input: unknown, options: SubmitOptions = {}): TaskHandle {
    const handle = this.startTask(capability, input, options);
    this.trackHandle(handle);
    return handle;
  }

  /** The same as `submit`, named for iteration: `for await (const e of client.stream(...))`. */
  stream<C extends CapabilityContract>(contract: C, input: InputOf<C>, options?: SubmitOptions): TaskHandle<OutputOf<C>, ProgressOf<C>>;
  stream<O = unknown, P = unknown>(capability: string, input: unknown, options?: SubmitOptions): TaskHandle<O, P>;
  stream(capability: string | CapabilityContract, input: unknown, options: SubmitOptions = {}): TaskHandle {
    return this.startTask(capability, input, options);
  }

  /**
   * Follows a task by id [ATT-1]: one submitted earlier by this or another process (with auth on, by
   * the same token or an admin one), after a reconnect or a restart. The handle ends with the task's
   * result, at once if it already ended; UnknownTaskError when the broker no longer keeps it.
   */
  task<C extends CapabilityContract>(id: string, contract: C): TaskHandle<OutputOf<C>, ProgressOf<C>>;
  task<O = unknown, P = unknown>(id: string): TaskHandle<O, P>;
  task(id: string, contract?: CapabilityContract): TaskHandle {
    const handle = new TaskHandle(this);
    if (this.closing) {
      handle.fail(new ClosedError());
      return handle;
    }
    const sub = new Submission(this, this.session, handle, contract, {});
    const send = (): void =>
      this.session.callback({ type: "attach", task_id: id, ref: this.session.nextId("t") }, () => sub.follow(id, false), (err) => handle.fail(err));
    if (this.session.isReady) send();
    else this.session.whenReady().then(send, (err: unknown) => handle.fail(err));
    this.trackHandle(handle);
    return handle;
  }

  private startTask(capability: string | CapabilityContract, input: unknown, options: SubmitOptions): TaskHandle {
    const handle = new TaskHandle(this);
    if (this.closing) {
      handle.fail(new ClosedError());
      return handle;
    }
    const sub = new Submission(this, this.session, handle, typeof capability === "string" ? undefined : capability, options);
    const { signal } = options;
    if (signal?.aborted === true) {
      sub.abort();
      return handle;
    }
    if (signal !== undefined) {
      const onAbort = (): void => sub.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      handle.onEnd = () => signal.removeEventListener("abort", onAbort);
    }
    let frame: Frame & { ref: string };
    try {
      const name = capabilityName(capability);
      const traced = produce(this.tracing, "submit", name, options.trace);
      sub.span = traced?.span;
      frame = {
        type: "submit",
        ref: "",
        capability: name,
        input: encodePayload(input),
        priority: options.priority,
        timeout_ms: options.timeoutMs,
        strategy: options.strategy,
        idempotency_key: options.idempotencyKey,
        max_attempts: options.maxAttempts,
        version: options.version,
        tags: options.tags,
        traceparent: traced?.trace?.traceparent,
        tracestate: traced?.trace?.tracestate,
      };
    } catch (err) {
      sub.span?.end(spanError(err));
      handle.fail(err); // an input MessagePack cannot carry: the handle rejects, submit does not throw
      return handle;
    }
    if (this.session.isReady) {
      // Hot path: no whenReady()/call() promises per submit.
      sub.send(frame);
    } else {
      this.session.whenReady().then(
        () => sub.send(frame),
        (err: unknown) => handle.fail(err),
      );
    }
    return handle;
  }

  /**
   * Starts a workflow run (SPEC §21): a definition (`workflow(...).build()`, or a document) or a
   * registered one by `{ name, version? }`. `await client.run(...)` is the run's output (typed from the
   * builder's last step where its contract is known) or the error class of its code; the handle also
   * has `id`, `events()` and `cancel()`. The broker runs it: it goes on if this client goes away.
   */
  run<W extends TypedWorkflow>(workflow: W, input: unknown, options?: RunOptions): RunHandle<WorkflowOutput<W>>;
  run<O = unknown>(workflow: { name: string; version?: string }, input: unknown, options?: RunOptions): RunHandle<O>;
  run(workflow: TypedWorkflow | { name: string; version?: string }, input: unknown, options: RunOptions = {}): RunHandle {
    const handle = startRun(this.session, workflow, input, options, this.closing);
    this.track(handle.result);
    return handle;
  }

  /**
   * Registers a definition with the broker under its name and version (HTTP `PUT /v1/workflows/{name}`,
   * with this client's token) so that runs start it by name: true when stored now, false when the same
   * document was already; WorkflowExistsError for another document under that name and version [WF-5].
   */
  registerWorkflow(definition: TypedWorkflow): Promise<boolean> {
    return registerWorkflow(httpBase(this.session.options.url), this.session.options.token, definition);
  }

  /** Follows a run started elsewhere (another client, the HTTP API, another language) by id: its events from now on and its result. */
  watchRun<O = unknown>(runId: string, options: Pick<RunOptions, "onEvent" | "signal"> = {}): RunHandle<O> {
    const handle = followRun<O>(this.session, runId, options, this.closing);
    this.track(handle.result);
    return handle;
  }

  /** Cancels a task this session submitted. Resolves when the broker acknowledged it. */
  async cancel(taskId: string, reason?: string): Promise<void> {
    await this.session.whenReady();
    await this.session.call({ type: "cancel", task_id: taskId, reason, ref: this.session.nextId("c") });
  }

  /** Broadcasts to every session subscribed to a matching pattern; resolves on the broker's ack. */
  async publish(topic: string, payload: unknown, options: { trace?: TraceContext } = {}): Promise<void> {
    await this.session.whenReady();
    const traced = produce(this.tracing, "publish", topic, options.trace);
    await ended(traced?.span, this.session.call({ type: "publish", topic, payload: encodePayload(payload), ref: this.session.nextId("p"), traceparent: traced?.trace?.traceparent, tracestate: traced?.trace?.tracestate }));
  }

  /**
   * Subscribes to a topic pattern (`a.*`, `a.>`); kept across reconnects. Resolves once the broker
   * acknowledged it, with a function that unsubscribes.
   */
  subscribe<S extends z.ZodType>(pattern: string, schema: S, handler: (msg: IncomingMessage<z.output<S>>) => void | Promise<void>): Promise<() => Promise<void>>;
  subscribe<T = unknown>(pattern: string, handler: (msg: IncomingMessage<T>) => void | Promise<void>): Promise<() => Promise<void>>;
  async subscribe(
    pattern: string,
    schemaOrHandler: z.ZodType | ((msg: IncomingMessage) => void | Promise<void>),
    maybeHandler?: (msg: IncomingMessage) => void | Promise<void>,
  ): Promise<() => Promise<void>> {
    const [schema, handler] = typeof schemaOrHandler === "function" ? [undefined, schemaOrHandler] : [schemaOrHandler, maybeHandler!];
    const logger = this.session.options.logger;
    const h = (msg: Message): void => {
      void consumeAsync(this.tracing, "message", msg.topic ?? msg.from, traceOf(msg), undefined, () => Promise.resolve().then(() => handler(incomingChecked(msg, schema, logger))))
        .catch((err: unknown) => {
          if (err !== SKIP) logger.error({ err, topic: msg.topic }, "topic handler failed");
        });
    };
    let set = this.session.subscriptions.get(pattern);
    const first = set === undefined;
    if (set === undefined) this.session.subscriptions.set(pattern, (set = new Set()));
    set.add(h);
    await this.session.whenReady();
    if (first) await this.session.call({ type: "subscribe", topic: pattern, ref: this.session.nextId("u") });
    return async () => {
      const current = this.session.subscriptions.get(pattern);
      current?.delete(h);
      if (current === undefined || current.size > 0) return;
      this.session.subscriptions.delete(pattern);
      if (this.session.isReady) await this.session.call({ type: "unsubscribe", topic: pattern, ref: this.session.nextId("u") });
    };
  }

  /** Sends a direct message; rejects with NoRespondersError when the target is not connected. */
  async send(to: string, payload: unknown, options: { correlationId?: string; trace?: TraceContext } = {}): Promise<void> {
    await this.session.whenReady();
    const traced = produce(this.tracing, "send", to, options.trace);
    const sent = this.session.call({
      type: "send",
      to,
      payload: encodePayload(payload),
      correlation_id: options.correlationId,
      ref: this.session.nextId("m"),
      traceparent: traced?.trace?.traceparent,
      tracestate: traced?.trace?.tracestate,
    });
    await ended(traced?.span, sent);
  }

  /**
   * Request/response with one agent; rejects with NoRespondersError, TimeoutError or the responder's
   * error. With a contract (defineRequest) the payload and answer are typed, and the answer is checked
   * against the contract's output schema.
   */
  request<C extends RequestContract>(contract: C, payload: InputOf<C>, options?: RequestOptions): Promise<OutputOf<C>>;
  request<T = unknown>(target: RequestTarget, payload: unknown, options?: RequestOptions): Promise<T>;
  request(target: RequestTarget | RequestContract, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (typeof target === "object" && "kind" in target) {
      const contract = target;
      const to: RequestTarget = options.to === undefined ? { capability: contract.name } : { to: options.to };
      return this.track(this.doRequest(to, payload, options).then((answer) => checked(contract.output, answer, `the answer to ${contract.name}`)));
    }
    return this.track(this.doRequest(target, payload, options));
  }

  private async doRequest<T>(target: RequestTarget, payload: unknown, options: RequestOptions): Promise<T> {
    if (this.closing) throw new ClosedError();
    options.signal?.throwIfAborted();
    await this.session.whenReady();
    const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs ?? DEFAULTS.requestTimeoutMs));
    const to = typeof target === "string" ? target : "to" in target ? target.to : undefined;
    const capability = typeof target === "object" && "capability" in target ? target.capability : undefined;
    const traced = produce(this.tracing, "request", capability ?? to!, options.trace);
    const frame = await ended(
      traced?.span,
      this.session.request(
        { type: "request", id: this.session.nextId("q"), to, capability, payload: encodePayload(payload), timeout_ms: timeoutMs, traceparent: traced?.trace?.traceparent, tracestate: traced?.trace?.tracestate },
        timeoutMs + 2_000,
      ),
      (r) => (r.ok === false ? r.error : undefined),
    );
    if (frame.ok !== false) return (frame.payload === undefined ? undefined : decodePayload(frame.payload)) as T;
    const e = frame.error ?? { code: "internal", message: "response without error" };
    throw errorFromCode(e.code, e.message, { details: e.details, ref: frame.id, retryable: e.retryable });
  }

  /** Asks the registry which agents there are. */
  async agents(query: AgentQuery = {}): Promise<AgentInfo[]> {
    await this.session.whenReady();
    const answer = await this.session.call<Agents>({ type: "query", ref: this.session.nextId("a"), ...query });
    return answer.agents;
  }

  /**
   * Graceful: takes no new submit or request, waits for those open to settle (at most `timeoutMs`,
   * default 30 s), then closes. Operations still open at the timeout fail with ClosedError; the report
   * names the tasks among them (the broker keeps running them; `client.task(id)` follows one again).
   */
  async drain(options: { timeoutMs?: number } = {}): Promise<DrainReport> {
    this.closing = true;
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settled = await Promise.race([
      Promise.allSettled([...this.open.keys()]).then(() => true),
      new Promise<false>((resolve) => (timer = unref(setTimeout(() => resolve(false), timeoutMs)))),
    ]);
    clearTimeout(timer);
    const abandoned = [...this.open.values()].flatMap((h) => (h?.taskId === undefined ? [] : [h.taskId]));
    await this.session.close();
    return { settled, abandoned };
  }

  /** Every later change of the connection's state (connecting, connected, disconnected, reconnecting, closed), until it closes. */
  async *status(): AsyncGenerator<Status> {
    const queue: Status[] = [];
    let wake: (() => void) | undefined;
    const stop = this.session.watch((s) => {
      queue.push(s);
      wake?.();
    });
    try {
      if (this.session.isClosed) return;
      for (;;) {
        const next = queue.shift();
        if (next === undefined) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        yield next;
        if (next.type === "closed") return;
      }
    } finally {
      stop();
    }
  }

  /** Resolves once the client is closed for good: with the error that closed it, or undefined when closed on purpose. */
  closed(): Promise<Error | undefined> {
    return this.session.closed();
  }

  /** Closes at once; open operations fail with ClosedError. */
  async close(): Promise<void> {
    this.closing = true;
    await this.session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  /** A handle counts as open (drain waits for it) until it ends; no promise or closure per task. */
  private trackHandle(handle: TaskHandle): void {
    if (handle.done) return;
    this.open.set(handle.result, handle);
    handle.owner = this;
  }

  /** @internal a tracked handle ended. */
  ended(handle: TaskHandle): void {
    this.open.delete(handle.result);
  }

  private track<T>(p: Promise<T>, handle?: TaskHandle): Promise<T> {
    this.open.set(p, handle);
    const forget = (): void => void this.open.delete(p);
    p.then(forget, forget);
    return p;
  }
}

export interface ConnectOptions {
  /** The broker's WebSocket URL: ws://host:port or wss://host:port. */
  url: string;
  token?: string;
  name?: string;
  backoff?: BackoffOptions;
  heartbeatIntervalMs?: number;
  /** How long open tasks wait for a reconnect to follow them again, ms (default 5000; 0 = fail at once). */
  reattachMs?: number;
  /** The first connect fails with ConnectError after this long, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Keep trying until the broker answers, however long it takes (no connect timeout). */
  waitForBroker?: boolean;
  /** Aborting gives up the first connect (ConnectError). */
  signal?: AbortSignal;
  /** A pino logger, or anything with its methods; default: JSON lines on the console at AGENTWIRE_LOG_LEVEL (default warn). */
  logger?: Logger;
  /** The WebSocket implementation (default: the `ws` package on Node, the platform's in browsers). */
  transport?: Transport;
  /** Spans around what the client sends and handles, e.g. `openTelemetry()` from `@agentwire/sdk/otel`. */
  tracing?: Tracing;
}

/**
 * Connects a plain client (no capabilities) and resolves once the broker registered it. Rejects with
 * InvalidUrlError for a URL that is not ws:// or wss://, with ConnectError when no session was
 * reached within `connectTimeoutMs` (unless `waitForBroker`) or `signal` aborted, and with the
 * broker's error when it refused the registration (UnauthorizedError, ...).
 */
export async function connect(options: ConnectOptions): Promise<Client> {
  const logger = options.logger ?? consoleLogger(options.name ?? "agentwire-client");
  const session = new Session({ ...options, logger });
  await session.start(startOptions(options));
  return new Client(session, options.tracing);
}

export function startOptions(o: { connectTimeoutMs?: number | undefined; waitForBroker?: boolean | undefined; signal?: AbortSignal | undefined }): StartOptions {
  return { timeoutMs: o.connectTimeoutMs, waitForBroker: o.waitForBroker, signal: o.signal };
}

/** Ends a producer span (if any) when `p` settles: failed when it rejects, or when `failure` finds an error in its value. */
function ended<T>(span: TraceSpan | undefined, p: Promise<T>, failure?: (value: T) => { code: string; message: string } | undefined): Promise<T> {
  if (span === undefined) return p;
  return p.then(
    (v) => {
      span.end(failure?.(v));
      return v;
    },
    (err: unknown) => {
      span.end(spanError(err));
      throw err;
    },
  );
}

/** Thrown inside a topic delivery whose payload failed its schema: logged once, not as a handler failure. */
export const SKIP = Symbol("skip");

export function incomingChecked(msg: Message, schema: z.ZodType | undefined, logger: Logger): IncomingMessage {
  const incoming = toIncoming(msg);
  if (schema === undefined) return incoming;
  const parsed = schema.safeParse(incoming.payload);
  if (parsed.success) return { ...incoming, payload: parsed.data };
  logger.warn({ topic: msg.topic, from: msg.from, issues: parsed.error.issues }, "message payload does not match its schema; dropped");
  throw SKIP;
}

/**
 * One submit on its way and then its task: the session's waiter for the answer (`accepted` or an
 * error) and, once accepted, the watcher of the task's progress and result. One object per submit
 * where closures cost half a dozen.
 */
class Submission {
  private taskId: string | undefined;
  private abortedEarly = false;
  /** The submit's producer span when tracing: it ends with the broker's answer. */
  span: TraceSpan | undefined = undefined;

  constructor(
    private readonly client: Client,
    private readonly session: Session,
    private readonly handle: TaskHandle,
    private readonly contract: CapabilityContract | undefined,
    private readonly options: SubmitOptions,
  ) {}

  send(frame: Frame & { ref: string }): void {
    if (this.abortedEarly) return; // aborted while waiting for the session: nothing to cancel
    try {
      frame.ref = this.session.nextId("s");
      this.session.callbackTo(frame, this);
    } catch (err) {
      this.handle.fail(err);
    }
  }

  abort(): void {
    if (this.taskId !== undefined) void this.client.cancel(this.taskId, "aborted by submitter").catch(() => undefined);
    else {
      // The submit may already be on its way: cancel the task once the broker names it (`resolve`).
      this.abortedEarly = true;
      this.handle.fail(errorFromCode("cancelled", "submit aborted before acceptance"));
    }
  }

  /** The broker accepted the submit (the session's waiter). */
  resolve(answer: Frame): void {
    const accepted = answer as Accepted;
    const taskId = (this.taskId = accepted.task_id);
    this.span?.end();
    if (this.abortedEarly) {
      void this.client.cancel(taskId, "aborted by submitter").catch(() => undefined);
      return;
    }
    const duplicate = accepted.duplicate === true;
    this.options.onAccepted?.(taskId, duplicate);
    this.follow(taskId, duplicate);
  }

  /** Watches the accepted task `taskId` (a submit's, or one `client.task(id)` attached to): progress and result go to the handle. */
  follow(taskId: string, duplicate: boolean): void {
    this.taskId = taskId;
    this.handle.accept(taskId, duplicate);
    this.session.watchTask(taskId, this);
  }

  /** The submit was refused, or the connection went before the answer (the session's waiter). */
  reject(err: AgentwireError): void {
    this.span?.end(err);
    this.handle.fail(err);
  }

  progress(data: Uint8Array): void {
    this.handle.push(decodePayload(data));
  }

  result(frame: Result): void {
    try {
      const out = resultValue<unknown>(frame);
      this.handle.finish(this.options.validate === true ? checked(this.contract?.output, out, `the output of task ${this.taskId ?? "?"}`) : out);
    } catch (err) {
      this.handle.fail(err);
    }
  }

  fail(err: AgentwireError): void {
    this.handle.fail(err);
  }
}
