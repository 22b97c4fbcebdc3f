/** One task attempt: decode and validate input, run the handler in its signer scope, validate output. */
import { AgentwireError, InvalidOutputError, decodePayload, encodePayload, errorFromCode, errorInfo, type Capability, type Result, type Task } from "@agentwire/wire";
import { z } from "zod";
import type { Client } from "./client.js";
import { taskContext, type ProgressSink, type TaskContext, type TaskInfo } from "./context.js";
import type { Logger } from "./log.js";
import { SignerContext, type Signer } from "./signer.js";

export type TaskHandler<I, O, P = unknown> = (input: I, ctx: TaskContext<P>) => O | Promise<O>;

export interface CapabilityEntry {
  wire: Capability;
  input: z.ZodType;
  output: z.ZodType | undefined;
  handler: TaskHandler<unknown, unknown>;
  /** `input` takes any value (acceptsAnything): it is not run per task. */
  anyInput: boolean;
}

/**
 * A task's cancellation, with the AbortController made only when someone looks at `signal`: creating
 * an AbortSignal (an EventTarget) per task is a large share of the per-task cost, and most handlers
 * never read it. Aborting before the signal exists records the reason; the signal is then born aborted.
 */
export class LazyAbort {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private isAborted = false;

  get aborted(): boolean {
    return this.isAborted;
  }
  get reason(): unknown {
    return this.abortReason;
  }
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** What every attempt of one agent shares: made once per agent, not per task. */
export interface RunDeps {
  client: Client;
  logger: Logger;
  signer: ((task: TaskInfo) => Signer | undefined) | undefined;
  defaultSigner: Signer | undefined;
  /** Whether a handler's exception that is not an AgentwireError may be retried (default false). */
  retryUnexpected: boolean;
}

/** Whether a schema takes any value as it is (z.unknown(), z.any()): no validation to run per task. */
export function acceptsAnything(schema: z.ZodType): boolean {
  const type = (schema as { def?: { type?: string } }).def?.type;
  return type === "unknown" || type === "any";
}

function fail(frame: Task, err: unknown, code?: string): Result {
  return { type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: false, error: errorInfo(err, code) };
}

/**
 * One attempt's handler call, with what its result needs once the handler returns: a class rather
 * than closures, so that an attempt costs a few objects, not a dozen.
 */
class Attempt {
  constructor(
    readonly frame: Task,
    readonly entry: CapabilityEntry,
    readonly deps: RunDeps,
    readonly abort: LazyAbort,
    readonly ctx: TaskContext<unknown>,
  ) {}

  finish(out: unknown): Result {
    const { frame, entry } = this;
    if (this.abort.aborted) return fail(frame, this.abort.reason);
    if (entry.output === undefined) return { type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: true, output: encodePayload(out) };
    const checked = entry.output.safeParse(out);
    if (!checked.success) return fail(frame, new InvalidOutputError(z.prettifyError(checked.error), { details: { issues: checked.error.issues } }));
    return { type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: true, output: encodePayload(checked.data) };
  }

  failed(err: unknown): Result {
    if (this.abort.aborted) return fail(this.frame, this.abort.reason);
    if (err instanceof AgentwireError) {
      this.ctx.logger.debug({ err }, "handler failed");
      return fail(this.frame, err);
    }
    // Not an error the handler chose to send: a bug or an unexpected failure. Logged where it happened;
    // sent as `internal`, not retryable unless the agent says its failures are transient.
    this.ctx.logger.warn({ err }, "handler threw");
    const r = fail(this.frame, err) as Result & { error: ReturnType<typeof errorInfo> };
    return { ...r, error: { ...r.error, retryable: this.deps.retryUnexpected } };
  }
}

/**
 * Runs one attempt and returns the `result` frame that ends it; never throws (nor rejects). When the
 * handler answers synchronously the frame is returned as is, without a promise per task. Progress goes
 * to `sink`; `abort` is the attempt's cancellation.
 */
export function runTask(frame: Task, entry: CapabilityEntry | undefined, deps: RunDeps, abort: LazyAbort, sink: ProgressSink): Result | Promise<Result> {
  if (entry === undefined) return fail(frame, new AgentwireError("unknown_capability", `this agent does not offer ${frame.capability}`));
  // [TASK-6] no work on a task whose deadline already passed, by the broker's remaining_ms when it sent one [TASK-34];
  // not retryable, so that it cannot requeue a task the broker is about to end [TASK-35].
  if (frame.remaining_ms !== undefined ? frame.remaining_ms <= 0 : Date.now() >= frame.deadline) {
    return fail(frame, errorFromCode("deadline_exceeded", "task arrived after its deadline", { retryable: false }));
  }
  let input: unknown;
  try {
    input = decodePayload(frame.input);
  } catch (err) {
    return fail(frame, errorFromCode("invalid_input", `input is not a MessagePack document: ${(err as Error).message}`));
  }
  if (!entry.anyInput) {
    const parsed = entry.input.safeParse(input);
    if (!parsed.success) {
      return fail(frame, errorFromCode("invalid_input", z.prettifyError(parsed.error), { details: { issues: parsed.error.issues } }));
    }
    input = parsed.data;
  }
  const info: TaskInfo = {
    id: frame.task_id,
    capability: frame.capability,
    attempt: frame.attempt,
    maxAttempts: frame.max_attempts,
    deadline: frame.deadline,
    priority: frame.priority,
  };
  const ctx = taskContext(deps.client, info, abort, deps.logger, sink);
  const attempt = new Attempt(frame, entry, deps, abort, ctx);
  const signer = deps.signer?.(info) ?? deps.defaultSigner;
  let out: unknown;
  try {
    out = signer === undefined ? entry.handler(input, ctx) : SignerContext.run(signer, () => entry.handler(input, ctx));
  } catch (err) {
    return attempt.failed(err);
  }
  if (!isThenable(out)) {
    try {
      return attempt.finish(out);
    } catch (err) {
      return attempt.failed(err);
    }
  }
  return Promise.resolve(out).then(
    (o) => attempt.finish(o),
    (err: unknown) => attempt.failed(err),
  ).catch((err: unknown) => attempt.failed(err));
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}
