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

/**
 * What request and task handlers share: messaging whose timeouts are capped by the handler's deadline.
 * One object per handler call with its methods on the prototype (a context made of closures cost a
 * dozen allocations per task); the signal and the logger are made on first use only.
 */
class HandlerContext implements RequestContext {
  private signal_: AbortSignal | undefined;
  private logger_: Logger | undefined;

  constructor(
    readonly client: Client,
    readonly deadline: number,
    /** The signal, or what makes it on first use (LazyAbort). */
    private readonly signalSource: AbortSignal | { readonly signal: AbortSignal },
    protected readonly baseLogger: Logger,
  ) {}

  get signal(): AbortSignal {
    const s = this.signalSource;
    return (this.signal_ ??= s instanceof AbortSignal ? s : s.signal);
  }

  get logger(): Logger {
    return (this.logger_ ??= this.makeLogger());
  }

  protected makeLogger(): Logger {
    return this.baseLogger;
  }

  send(to: string, payload: unknown, options?: { correlationId?: string }): Promise<void> {
    return this.client.send(to, payload, options);
  }

  publish(topic: string, payload: unknown): Promise<void> {
    return this.client.publish(topic, payload);
  }

  request<C extends RequestContract>(contract: C, payload: InputOf<C>, options?: RequestOptions): Promise<OutputOf<C>>;
  request<T = unknown>(target: RequestTarget, payload: unknown, options?: RequestOptions): Promise<T>;
  request(target: RequestTarget, payload: unknown, options: RequestOptions = {}): Promise<unknown> {
    return this.client.request(target, payload, { ...options, timeoutMs: remaining(this.deadline, options.timeoutMs), signal: anySignal(this.signal, options.signal) });
  }

  submit<C extends CapabilityContract>(contract: C, input: InputOf<C>, options?: SubmitOptions): TaskHandle<OutputOf<C>, ProgressOf<C>>;
  submit<O = unknown, P = unknown>(capability: string, input: unknown, options?: SubmitOptions): TaskHandle<O, P>;
  submit(capability: string, input: unknown, options: SubmitOptions = {}): TaskHandle<unknown, unknown> {
    return this.client.submit(capability, input, { ...options, timeoutMs: remaining(this.deadline, options.timeoutMs), signal: anySignal(this.signal, options.signal) });
  }

  agents(query?: AgentQuery): Promise<AgentInfo[]> {
    return this.client.agents(query);
  }
}

/** Where a task's progress goes (the agent's record of the running attempt). */
export interface ProgressSink {
  progress(data: Uint8Array): void;
}

class TaskHandlerContext extends HandlerContext implements TaskContext<unknown> {
  constructor(
    client: Client,
    readonly task: TaskInfo,
    signal: AbortSignal | { readonly signal: AbortSignal },
    logger: Logger,
    private readonly sink: ProgressSink,
  ) {
    super(client, task.deadline, signal, logger);
  }

  // A pino child costs a bindings serialization per task: made only when the handler logs.
  protected override makeLogger(): Logger {
    return this.baseLogger.child({ task_id: this.task.id, attempt: this.task.attempt, capability: this.task.capability });
  }

  // An own property, so that `const { progress } = ctx` keeps working.
  readonly progress = (data: unknown): void => this.sink.progress(encodePayload(data));
}

export function requestContext(client: Client, signal: AbortSignal, deadline: number, logger: Logger): RequestContext {
  return new HandlerContext(client, deadline, signal, logger);
}

/** `signal` may be a LazyAbort, whose signal is made on first use; the logger is the agent's (a child per task on first use). */
export function taskContext(client: Client, task: TaskInfo, signal: AbortSignal | { readonly signal: AbortSignal }, logger: Logger, sink: ProgressSink): TaskContext<unknown> {
  return new TaskHandlerContext(client, task, signal, logger, sink);
}
