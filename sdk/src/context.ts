/** What a handler gets besides its input: cancellation, progress, and the mesh, with deadlines propagated. */
import { DeadlineExceededError, encodePayload, type AgentInfo, type Priority } from "@agentwire/wire";
import type { AgentQuery, Client, RequestOptions, RequestTarget, SubmitOptions } from "./client.js";
import type { CapabilityContract, InputOf, OutputOf, ProgressOf, RequestContract } from "./contract.js";
import type { TaskHandle } from "./handle.js";
import type { Logger } from "./log.js";

export interface TaskInfo {
  id: string;
  capability: string;
  attempt: number;
  maxAttempts: number;
  /** Unix ms after which the result no longer counts. */
  deadline: number;
  priority: Priority;
}

export interface RequestContext {
  /** Aborts on cancel, deadline, or loss of the connection; `signal.reason` is the typed error. */
  signal: AbortSignal;
  /** Unix ms by which the caller stops waiting. */
  deadline: number;
  logger: Logger;
  /** The agent's own connection, for anything not wrapped below. */
  client: Client;
  send(to: string, payload: unknown, options?: { correlationId?: string }): Promise<void>;
  publish(topic: string, payload: unknown): Promise<void>;
  /** Nested request; its timeout is capped by this handler's remaining time. */
  request<C extends RequestContract>(contract: C, payload: InputOf<C>, options?: RequestOptions): Promise<OutputOf<C>>;
  request<T = unknown>(target: RequestTarget, payload: unknown, options?: RequestOptions): Promise<T>;
  /** Nested task; its timeout is capped by this handler's remaining time, and it is cancelled with this one. */
  submit<C extends CapabilityContract>(contract: C, input: InputOf<C>, options?: SubmitOptions): TaskHandle<OutputOf<C>, ProgressOf<C>>;
  submit<O = unknown, P = unknown>(capability: string, input: unknown, options?: SubmitOptions): TaskHandle<O, P>;
  agents(query?: AgentQuery): Promise<AgentInfo[]>;
}

export interface TaskContext<P = unknown> extends RequestContext {
  task: TaskInfo;
  /** Streams intermediate data to the submitter, in order, before the result. */
  progress(data: P): void;
}

/** The time left before `deadline`, or a DeadlineExceededError when none is. */
export function remaining(deadline: number, wanted: number | undefined): number {
  const left = deadline - Date.now();
  if (left <= 0) throw new DeadlineExceededError("the handler's deadline has passed");
  return wanted === undefined ? left : Math.min(wanted, left);
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b === undefined ? a : AbortSignal.any([a, b]);
}

/** What request and task handlers share: messaging whose timeouts are capped by the handler's deadline. */
function handlerContext(client: Client, deadline: number, getSignal: () => AbortSignal, getLogger: () => Logger): RequestContext {
  return {
    get signal(): AbortSignal {
      return getSignal();
    },
    deadline,
    get logger(): Logger {
      return getLogger();
    },
    client,
    send: (to, payload, options) => client.send(to, payload, options),
    publish: (topic, payload) => client.publish(topic, payload),
    request: ((target: RequestTarget, payload: unknown, options: RequestOptions = {}) =>
      client.request(target, payload, {
        ...options,
        timeoutMs: remaining(deadline, options.timeoutMs),
        signal: anySignal(getSignal(), options.signal),
      })) as RequestContext["request"],
    submit: ((capability: string, input: unknown, options: SubmitOptions = {}) =>
      client.submit(capability, input, {
        ...options,
        timeoutMs: remaining(deadline, options.timeoutMs),
        signal: anySignal(getSignal(), options.signal),
      })) as RequestContext["submit"],
    agents: (query) => client.agents(query),
  };
}

export function requestContext(client: Client, signal: AbortSignal, deadline: number, logger: Logger): RequestContext {
  return handlerContext(client, deadline, () => signal, () => logger);
}

export function taskContext(
  client: Client,
  task: TaskInfo,
  signal: AbortSignal | (() => AbortSignal),
  logger: Logger | (() => Logger),
  progress: (data: Uint8Array) => void,
): TaskContext<unknown> {
  // `logger` may be a factory: a pino child costs a bindings serialization per task, so it is made on
  // first use only. `signal` may be a factory too (see LazyAbort).
  let log = typeof logger === "function" ? undefined : logger;
  let sig = typeof signal === "function" ? undefined : signal;
  const ctx = handlerContext(
    client,
    task.deadline,
    () => (sig ??= (signal as () => AbortSignal)()),
    () => (log ??= (logger as () => Logger)()),
  );
  return Object.assign(ctx, { task, progress: (data: unknown) => progress(encodePayload(data)) });
}
