/** One task attempt: decode and validate input, run the handler in its signer scope, validate output. */
import { AgentwireError, InvalidOutputError, decodePayload, encodePayload, errorFromCode, errorInfo, type Capability, type Result, type Task } from "@agentwire/wire";
import { z } from "zod";
import type { Client } from "./client.js";
import { taskContext, type TaskContext, type TaskInfo } from "./context.js";
import type { Logger } from "./log.js";
import { SignerContext, type Signer } from "./signer.js";

export type TaskHandler<I, O, P = unknown> = (input: I, ctx: TaskContext<P>) => O | Promise<O>;

export interface CapabilityEntry {
  wire: Capability;
  input: z.ZodType;
  output: z.ZodType | undefined;
  handler: TaskHandler<unknown, unknown>;
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

export interface RunDeps {
  abort: LazyAbort;
  client: Client;
  logger: Logger;
  signer: ((task: TaskInfo) => Signer | undefined) | undefined;
  defaultSigner: Signer | undefined;
  progress: (data: Uint8Array) => void;
  /** Whether a handler's exception that is not an AgentwireError may be retried (default false). */
  retryUnexpected: boolean;
}

/**
 * Runs one attempt and returns the `result` frame that ends it; never throws (nor rejects). When the
 * handler answers synchronously the frame is returned as is, without a promise per task.
 */
export function runTask(frame: Task, entry: CapabilityEntry | undefined, deps: RunDeps): Result | Promise<Result> {
  const signal = deps.abort;
  const fail = (err: unknown, code?: string): Result => ({ type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: false, error: errorInfo(err, code) });
  if (entry === undefined) return fail(new AgentwireError("unknown_capability", `this agent does not offer ${frame.capability}`));
  const info: TaskInfo = {
    id: frame.task_id,
    capability: frame.capability,
    attempt: frame.attempt,
    maxAttempts: frame.max_attempts,
    deadline: frame.deadline,
    priority: frame.priority,
  };
  // [TASK-6] no work on a task whose deadline already passed, by the broker's remaining_ms when it sent one [TASK-34];
  // not retryable, so that it cannot requeue a task the broker is about to end [TASK-35].
  if (frame.remaining_ms !== undefined ? frame.remaining_ms <= 0 : Date.now() >= frame.deadline) {
    return fail(errorFromCode("deadline_exceeded", "task arrived after its deadline", { retryable: false }));
  }
  let input: unknown;
  try {
    input = decodePayload(frame.input);
  } catch (err) {
    return fail(errorFromCode("invalid_input", `input is not a MessagePack document: ${(err as Error).message}`));
  }
  const parsed = entry.input.safeParse(input);
  if (!parsed.success) {
    return fail(errorFromCode("invalid_input", z.prettifyError(parsed.error), { details: { issues: parsed.error.issues } }));
  }
  let logger: Logger | undefined;
  const getLogger = (): Logger => (logger ??= deps.logger.child({ task_id: info.id, attempt: info.attempt, capability: info.capability }));
  const ctx = taskContext(deps.client, info, () => signal.signal, getLogger, deps.progress);
  const signer = deps.signer?.(info) ?? deps.defaultSigner;
  const failed = (err: unknown): Result => {
    if (signal.aborted) return fail(signal.reason);
    if (err instanceof AgentwireError) {
      getLogger().debug({ err }, "handler failed");
      return fail(err);
    }
    // Not an error the handler chose to send: a bug or an unexpected failure. Logged where it happened;
    // sent as `internal`, not retryable unless the agent says its failures are transient.
    getLogger().warn({ err }, "handler threw");
    return { ...fail(err), error: { ...errorInfo(err), retryable: deps.retryUnexpected } };
  };
  const finish = (out: unknown): Result => {
    if (signal.aborted) return fail(signal.reason);
    if (entry.output === undefined) return { type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: true, output: encodePayload(out) };
    const checked = entry.output.safeParse(out);
    if (!checked.success) return fail(new InvalidOutputError(z.prettifyError(checked.error), { details: { issues: checked.error.issues } }));
    return { type: "result", task_id: frame.task_id, attempt: frame.attempt, ok: true, output: encodePayload(checked.data) };
  };
  let out: unknown;
  try {
    out = signer === undefined ? entry.handler(parsed.data, ctx) : SignerContext.run(signer, () => entry.handler(parsed.data, ctx));
  } catch (err) {
    return failed(err);
  }
  if (!isThenable(out)) {
    try {
      return finish(out);
    } catch (err) {
      return failed(err);
    }
  }
  return Promise.resolve(out).then(finish).catch(failed);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}
