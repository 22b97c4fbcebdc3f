/**
 * What a run's scheduling reads from its state: the context its mappings see [WF-6], whether a step's
 * join is met [WF-9], whether a step's output is one it keeps [WF-14], and the default output [WF-16].
 */
import { decodePayload, encodePayload, scanDocument, WORKFLOW_LIMITS, type ErrorInfo, type RunContext, type Step } from "@agentwire/wire";
import { ENDED_STEP, type RunRecord } from "./run-state.js";

/** Builds a run's context, decoding the input and each output once. */
export class ContextCache {
  private readonly decoded = new Map<string, unknown>();

  constructor(private readonly run: RunRecord) {}

  /** The context mappings see [WF-6]: the input, and every step that ended. */
  context(): RunContext {
    const steps: RunContext["steps"] = {};
    for (const [id, s] of Object.entries(this.run.steps)) {
      if (!ENDED_STEP.has(s.state)) continue;
      const entry: RunContext["steps"][string] = { attempts: s.attempts };
      if (s.state === "succeeded" && s.output !== undefined) entry.output = this.once(`s:${id}`, s.output);
      if (s.error !== undefined && s.state !== "succeeded") entry.error = { code: s.error.code, message: s.error.message, ...(s.error.details === undefined ? {} : { details: s.error.details }) };
      steps[id] = entry;
    }
    return { input: this.once("", this.run.input), steps };
  }

  private once(key: string, bytes: Uint8Array): unknown {
    if (!this.decoded.has(key)) this.decoded.set(key, decodePayload(bytes));
    return this.decoded.get(key);
  }
}

/** Whether a pending step can start [WF-9]: run, wait, skip (under `all`), or its quorum is out of reach. */
export function joinOf(step: Step, run: RunRecord): "run" | "wait" | "skip" | "unreachable" {
  const after = (step.after ?? []).map((a) => run.steps[a]!.state);
  const succeeded = after.filter((s) => s === "succeeded").length;
  const ended = after.filter((s) => ENDED_STEP.has(s)).length;
  if (typeof step.join === "object") {
    if (succeeded >= step.join.quorum) return "run";
    return after.length - ended + succeeded < step.join.quorum ? "unreachable" : "wait";
  }
  if (step.join === "all_settled") return ended === after.length ? "run" : "wait";
  if (succeeded === after.length) return "run";
  return ended > succeeded ? "skip" : "wait";
}

/** The default output: that of the last step listed that succeeded [WF-16]. */
export function lastOutput(run: RunRecord): Uint8Array {
  const steps = run.definition.steps;
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = run.steps[steps[i]!.id]!;
    if (s.state === "succeeded" && s.output !== undefined) return s.output;
  }
  return encodePayload(null);
}

/** An error the broker itself ends a step or run with: never retryable by its own flag. */
export const failure = (code: string, message: string, details?: Record<string, unknown>): ErrorInfo => ({ code, message, retryable: false, ...(details === undefined ? {} : { details }) });

/** Why a step's output cannot be kept: not a document its mappings can read, or past the run's limit [WF-14]. */
export function outputError(run: RunRecord, stepId: string, bytes: Uint8Array): ErrorInfo | undefined {
  try {
    scanDocument(bytes);
  } catch {
    return failure("invalid_output", `step ${stepId}: the output is not one MessagePack document the broker can read`, { step: stepId });
  }
  const max = run.definition.limits?.max_step_output_bytes ?? WORKFLOW_LIMITS.maxStepOutputBytes;
  if (bytes.byteLength <= max) return undefined;
  return failure("limit_exceeded", `step ${stepId}: output of ${bytes.byteLength} bytes exceeds max_step_output_bytes (${max})`, { step: stepId, limit: "max_step_output_bytes", max, size: bytes.byteLength });
}
