/** One task attempt: decode and validate input, run the handler in its signer scope, validate output. */
import { AgentwireError, decodePayload, encodePayload, errorFromCode, errorInfo, type Capability, type Result, type Task } from "@agentwire/wire";
import type { Logger } from "pino";
import { z } from "zod";
import type { Client } from "./client.js";
import { taskContext, type TaskContext, type TaskInfo } from "./context.js";
import { InvalidOutputError } from "./errors.js";
import { SignerContext, type Signer } from "./signer.js";

export type TaskHandler<I, O> = (input: I, ctx: TaskContext) => O | Promise<O>;

export interface CapabilityEntry {
  wire: Capability;
  input: z.ZodType;
  output: z.ZodType | undefined;
  handler: TaskHandler<unknown, unknown>;
}

export interface RunDeps {
  signal: AbortSignal;
  client: Client;
  logger: Logger;
  signer: ((task: TaskInfo) => Signer | undefined) | undefined;
  defaultSigner: Signer | undefined;
  progress: (data: Uint8Array) => void;
}

/** Runs one attempt and returns the `result` frame that ends it; never throws. */
export async function runTask(frame: Task, entry: CapabilityEntry | undefined, deps: RunDeps): Promise<Result> {
  const { signal } = deps;
  const base = { type: "result" as const, task_id: frame.task_id, attempt: frame.attempt };
  const fail = (err: unknown, code?: string): Result => ({ ...base, ok: false, error: errorInfo(err, code) });
  if (entry === undefined) return fail(new AgentwireError("unknown_capability", `this agent does not offer ${frame.capability}`));
  const info: TaskInfo = {
    id: frame.task_id,
    capability: frame.capability,
    attempt: frame.attempt,
    maxAttempts: frame.max_attempts,
    deadline: frame.deadline,
    priority: frame.priority,
  };
  // [TASK-6] no work on a task whose deadline already passed.
  if (Date.now() >= frame.deadline) return fail(errorFromCode("deadline_exceeded", "task arrived after its deadline"));
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
  const logger = deps.logger.child({ task_id: info.id, attempt: info.attempt, capability: info.capability });
  const ctx = taskContext(deps.client, info, signal, logger, deps.progress);
  const signer = deps.signer?.(info) ?? deps.defaultSigner;
  try {
    const run = (): Promise<unknown> => Promise.resolve(entry.handler(parsed.data, ctx));
    const out = await (signer === undefined ? run() : SignerContext.run(signer, run));
    if (signal.aborted) return fail(signal.reason);
    if (entry.output === undefined) return { ...base, ok: true, output: encodePayload(out) };
    const checked = entry.output.safeParse(out);
    if (!checked.success) return fail(new InvalidOutputError(z.prettifyError(checked.error), { details: { issues: checked.error.issues } }));
    return { ...base, ok: true, output: encodePayload(checked.data) };
  } catch (err) {
    logger.debug({ err }, "handler failed");
    return fail(signal.aborted ? signal.reason : err);
  }
}
