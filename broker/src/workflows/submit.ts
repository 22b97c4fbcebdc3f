/**
 * A step attempt as a task [WF-13], submitted through the broker's one submit (BrokerCore.submit, as
 * a `submit` frame or POST /v1/tasks is): routing, deadlines, cancel and the mesh apply. Its
 * idempotency key `wf:<run>:<step>:<attempt>` makes a resumed run join the task already submitted.
 */
import { errorInfo, type ErrorInfo, type Step } from "@agentwire/wire";
import type { BrokerCore } from "../core.js";
import type { SubmitReply } from "../tasks/submissions.js";
import type { TaskSpec } from "../tasks/task-service.js";
import type { Execution } from "./execution.js";

/** Submits attempt `attempt` of `step`; its end (or its submit's failure) goes to `exec.attemptEnded`. */
export function submitStep(core: BrokerCore, exec: Execution, step: Step, attempt: number, input: Uint8Array, maxAttempts: number): void {
  const spec: TaskSpec = {
    capability: step.capability,
    input,
    version: step.version,
    tags: step.tags,
    priority: step.priority,
    timeout_ms: step.timeout_ms,
    strategy: step.strategy,
    idempotency_key: `wf:${exec.id}:${step.id}:${attempt}`,
    // The task's own requeues (agent or broker lost) within this attempt; the policy decides the rest.
    max_attempts: Math.min(100, attempt - 1 + maxAttempts),
    attempt,
  };
  const ended = (ok: boolean, output: Uint8Array | undefined, error: ErrorInfo | undefined): void => exec.attemptEnded(step.id, attempt, ok, output, error);
  const reply: SubmitReply = {
    observer: { onProgress: () => undefined, onResult: (task) => ended(task.ok, task.output, task.error) },
    follows: true,
    accepted: (_ref, taskId) => exec.accepted(step.id, attempt, taskId),
    foreignOutcome: (_ref, _taskId, outcome) =>
      outcome === undefined ? ended(false, undefined, { code: "deadline_exceeded", message: "no outcome before the task's deadline", retryable: true }) : ended(outcome.ok, outcome.output, outcome.error),
  };
  const failed = (err: unknown): void => ended(false, undefined, errorInfo(err));
  try {
    // The engine acts for the run's owner, whose token's ACL was checked when the run started.
    const pending = core.submit(undefined, spec, reply, `wf:${exec.id}:${step.id}`);
    if (pending !== undefined) pending.catch(failed);
  } catch (err) {
    failed(err);
  }
}
