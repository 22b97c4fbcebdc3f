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
import { followEvents, httpBase, replayEvents, type EventQuery, type EventReadOptions } from "./events.js";
import {
  DEFAULTS,
  decodePayload,
  encodePayload,
  errorFromCode,
  type Accepted,
  type RecordedEvent,
  type AgentInfo,
  type Agents,
  type AgentStatus,
  type Message,
  type Priority,
  type Result,
  type Strategy,
} from "@agentwire/wire";
import pino, { type Logger } from "pino";
import type { BackoffOptions } from "./connection.js";
import { ClosedError } from "./errors.js";
import { Session } from "./session.js";
import { TaskStream, type StreamEvent } from "./stream.js";

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
  /** Called with the task id once the broker accepted the task. */
  onAccepted?: (taskId: string, duplicate: boolean) => void;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
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

/** The output of a result frame, or the typed error its code names. */
export function resultValue<T>(frame: Result): T {
  if (frame.ok) return (frame.output === undefined ? undefined : decodePayload(frame.output)) as T;
  const e = frame.error ?? { code: "internal", message: "result without error" };
  throw errorFromCode(e.code, e.message, { details: e.details, ref: frame.task_id });
}

export class Client implements AsyncDisposable {
  private readonly open = new Set<Promise<unknown>>();
  private closing = false;

  constructor(readonly session: Session) {}

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

  /** Runs a task and resolves with its output; rejects with the error class of the result's code. */
  submit<O = unknown>(capability: string, input: unknown, options: SubmitOptions = {}): Promise<O> {
    return this.track(this.streamTask(capability, input, options).output as Promise<O>);
  }

  /** Runs a task and yields its progress in order, then its result. */
  stream<O = unknown, P = unknown>(capability: string, input: unknown, options: SubmitOptions = {}): AsyncIterable<StreamEvent<O, P>> {
    return this.streamTask<O, P>(capability, input, options);
  }

  private streamTask<O, P>(capability: string, input: unknown, options: SubmitOptions): TaskStream<O, P> {
    const stream = new TaskStream<O, P>();
    if (this.closing) {
      stream.fail(new ClosedError());
      return stream;
    }
    const { signal } = options;
    let taskId: string | undefined;
    let abortedEarly = false;
    const onAbort = (): void => {
      if (taskId !== undefined) void this.cancel(taskId, "aborted by submitter").catch(() => undefined);
      else {
        // The submit may already be on its way: cancel the task once the broker names it (`watch`).
        abortedEarly = true;
        stream.fail(errorFromCode("cancelled", "submit aborted before acceptance"));
      }
    };
    if (signal?.aborted === true) {
      onAbort();
      return stream;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    stream.onEnd = () => signal?.removeEventListener("abort", onAbort);
    const ref = this.session.nextId("s");
    const watch = (answer: unknown): void => {
      const accepted = answer as Accepted;
      taskId = accepted.task_id;
      if (abortedEarly) {
        void this.cancel(taskId, "aborted by submitter").catch(() => undefined);
        return;
      }
      options.onAccepted?.(taskId, accepted.duplicate === true);
      this.session.watchTask(taskId, {
        progress: (data) => stream.push({ type: "progress", data: decodePayload<P>(data) }),
        result: (frame) => {
          try {
            stream.finish(resultValue<O>(frame));
          } catch (err) {
            stream.fail(err);
          }
        },
        fail: (err) => stream.fail(err),
      });
    };
    const fail = (err: unknown): void => stream.fail(err);
    const send = (): void => {
      if (abortedEarly) return; // aborted while waiting for the session: nothing to cancel
      this.session.callback(
        {
          type: "submit",
          ref,
          capability,
          input: encodePayload(input),
          priority: options.priority,
          timeout_ms: options.timeoutMs,
          strategy: options.strategy,
          idempotency_key: options.idempotencyKey,
          max_attempts: options.maxAttempts,
          version: options.version,
          tags: options.tags,
        },
        watch,
        fail,
      );
    };
    if (this.session.isReady) {
      // Hot path: no whenReady()/call() promises per submit.
      try {
        send();
      } catch (err) {
        fail(err);
      }
    } else {
      this.session.whenReady().then(send).catch(fail);
    }
    return stream;
  }

  /** Cancels a task this session submitted. Resolves when the broker acknowledged it. */
  async cancel(taskId: string, reason?: string): Promise<void> {
    await this.session.whenReady();
    await this.session.call({ type: "cancel", task_id: taskId, reason, ref: this.session.nextId("c") });
  }

  /** Broadcasts to every session subscribed to a matching pattern; resolves on the broker's ack. */
  async publish(topic: string, payload: unknown): Promise<void> {
    await this.session.whenReady();
    await this.session.call({ type: "publish", topic, payload: encodePayload(payload), ref: this.session.nextId("p") });
  }

  /**
   * Subscribes to a topic pattern (`a.*`, `a.>`); kept across reconnects. Resolves once the broker
   * acknowledged it, with a function that unsubscribes.
   */
  async subscribe<T = unknown>(pattern: string, handler: (msg: IncomingMessage<T>) => void | Promise<void>): Promise<() => Promise<void>> {
    const h = (msg: Message): void => {
      void Promise.resolve()
        .then(() => handler(toIncoming<T>(msg)))
        .catch((err: unknown) => this.session.options.logger.error({ err, topic: msg.topic }, "topic handler failed"));
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
  async send(to: string, payload: unknown, options: { correlationId?: string } = {}): Promise<void> {
    await this.session.whenReady();
    await this.session.call({
      type: "send",
      to,
      payload: encodePayload(payload),
      correlation_id: options.correlationId,
      ref: this.session.nextId("m"),
    });
  }

  /** Request/response with one agent; rejects with NoRespondersError, TimeoutError or the responder's error. */
  request<T = unknown>(target: RequestTarget, payload: unknown, options: RequestOptions = {}): Promise<T> {
    return this.track(this.doRequest<T>(target, payload, options));
  }

  private async doRequest<T>(target: RequestTarget, payload: unknown, options: RequestOptions): Promise<T> {
    if (this.closing) throw new ClosedError();
    options.signal?.throwIfAborted();
    await this.session.whenReady();
    const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs ?? DEFAULTS.requestTimeoutMs));
    const to = typeof target === "string" ? target : "to" in target ? target.to : undefined;
    const capability = typeof target === "object" && "capability" in target ? target.capability : undefined;
    const frame = await this.session.request(
      { type: "request", id: this.session.nextId("q"), to, capability, payload: encodePayload(payload), timeout_ms: timeoutMs },
      timeoutMs + 2_000,
    );
    if (frame.ok !== false) return (frame.payload === undefined ? undefined : decodePayload(frame.payload)) as T;
    const e = frame.error ?? { code: "internal", message: "response without error" };
    throw errorFromCode(e.code, e.message, { details: e.details, ref: frame.id });
  }

  /** Asks the registry which agents there are. */
  async agents(query: AgentQuery = {}): Promise<AgentInfo[]> {
    await this.session.whenReady();
    const answer = await this.session.call<Agents>({ type: "query", ref: this.session.nextId("a"), ...query });
    return answer.agents;
  }

  /** Graceful: takes no new submit or request, waits for those open to settle, then closes. */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.open]);
    await this.session.close();
  }

  /** Closes at once; open operations fail with ClosedError. */
  async close(): Promise<void> {
    this.closing = true;
    await this.session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.open.add(p);
    const forget = (): void => void this.open.delete(p);
    p.then(forget, forget);
    return p;
  }
}

export interface ConnectOptions {
  url: string;
  token?: string;
  name?: string;
  backoff?: BackoffOptions;
  heartbeatIntervalMs?: number;
  /** How long open tasks wait for a reconnect to follow them again, ms (default 5000; 0 = fail at once). */
  reattachMs?: number;
  logger?: Logger;
}

/** Connects a plain client (no capabilities) and resolves once the broker registered it. */
export async function connect(options: ConnectOptions): Promise<Client> {
  const logger = options.logger ?? pino({ name: "agentwire-client", level: process.env.AGENTWIRE_LOG_LEVEL ?? "warn" });
  const session = new Session({ ...options, logger });
  await session.start();
  return new Client(session);
}
