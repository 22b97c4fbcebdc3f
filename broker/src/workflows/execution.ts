/**
 * One run's scheduling [WF-9..WF-16]: which steps start, when an attempt is retried, what a final
 * failure does, and when the run ends. Every change goes through one queue per run, and is written
 * to the store before anything that depends on it happens (a dependent's submit, a retry) [WF-15].
 */
import {
  RUN_END_EVENT,
  encodePayload,
  errorInfo,
  retryDelayMs,
  retryPolicy,
  WORKFLOW_LIMITS,
  type ErrorInfo,
  type Step,
  type WorkflowEventType,
} from "@agentwire/wire";
import { ContextCache, failure, joinOf, lastOutput, outputError } from "./context.js";
import { evaluate } from "./mapping.js";
import { ENDED_STEP, type RunRecord } from "./run-state.js";

/** A transition as the engine announces it (bus event and `run_event`). */
export interface Transition {
  type: WorkflowEventType;
  /** When it happened; set when it is written. */
  at?: number | undefined;
  step?: string | undefined;
  attempt?: number | undefined;
  task_id?: string | undefined;
  delay_ms?: number | undefined;
  error?: ErrorInfo | undefined;
}

/** What an execution asks of its engine. */
export interface ExecutionHost {
  /** Submits attempt `attempt` of `step` as a task (idempotency key per run, step and attempt) [WF-13]. */
  submit(run: Execution, step: Step, attempt: number, input: Uint8Array): void;
  cancelTask(taskId: string, reason: string): void;
  /** Writes the named steps, (runFields) the run's own fields and the transition they make; false: the lease is lost. */
  persist(run: Execution, steps: readonly string[], runFields: boolean, t: Transition | undefined): Promise<boolean>;
  announce(run: Execution, t: Transition): void;
  /** The run ended (announced and written) or was taken over by another broker (`lost`). */
  finished(run: Execution, lost: boolean): void;
}

/** Codes an attempt is never retried for, whatever its policy [WF-11]. */
const NEVER_RETRIED = new Set(["mapping_failed", "limit_exceeded", "cancelled", "join_failed"]);


export class Execution {
  private queue: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly contexts: ContextCache;
  private readonly byId = new Map<string, Step>();
  private readonly compensators = new Set<string>();
  private readonly dependents = new Map<string, Step[]>();
  private done = false;

  constructor(
    readonly run: RunRecord,
    public fence: number,
    private readonly host: ExecutionHost,
  ) {
    this.contexts = new ContextCache(run);
    for (const s of run.definition.steps) {
      this.byId.set(s.id, s);
      if (typeof s.on_failure === "object") this.compensators.add(s.on_failure.compensate);
      for (const a of s.after ?? []) this.dependents.set(a, [...(this.dependents.get(a) ?? []), s]);
    }
  }

  get id(): string {
    return this.run.run_id;
  }

  /** A new run: announced, then its first steps start. */
  start(): void {
    this.enqueue(async () => {
      if (!(await this.write([], false, { type: "workflow.started" }))) return;
      this.armRunLimit();
      await this.advance();
    });
  }

  /** A run taken over from a broker that died: attempts in flight are joined again by their keys [WF-15]. */
  resume(): void {
    this.enqueue(async () => {
      this.armRunLimit();
      for (const step of this.run.definition.steps) {
        const s = this.run.steps[step.id]!;
        if (s.state === "running") this.submitAttempt(step, s.attempts);
        else if (s.state === "waiting_retry") this.later((s.retry_at ?? 0) - Date.now(), () => this.retryNow(step.id, s.attempts + 1));
      }
      await this.advance();
    });
  }

  /**
   * The attempt's task was accepted: announced at once, before the task can reach an agent (so a
   * watcher hears of the attempt before anything it causes), and written in turn.
   */
  accepted(stepId: string, attempt: number, taskId: string): void {
    const s = this.run.steps[stepId]!;
    if (this.done || s.state !== "running" || s.attempts !== attempt || s.task_id === taskId) return;
    s.task_id = taskId;
    const t: Transition = { type: "workflow.step.started", step: stepId, attempt, task_id: taskId, at: Date.now() };
    this.host.announce(this, t);
    this.enqueue(() => this.write([stepId], false, t, false).then(() => undefined));
  }

  /** Attempt `attempt` of a step ended (its task's result, or its submit failed). */
  attemptEnded(stepId: string, attempt: number, ok: boolean, output: Uint8Array | undefined, error: ErrorInfo | undefined): void {
    this.enqueue(async () => {
      const s = this.run.steps[stepId]!;
      if (this.done || s.state !== "running" || s.attempts !== attempt) return; // a late or stale answer
      const step = this.byId.get(stepId)!;
      const bytes = output ?? encodePayload(null);
      const refused = ok ? outputError(this.run, stepId, bytes) : undefined;
      if (refused !== undefined) [ok, error] = [false, refused];
      if (ok) {
        Object.assign(s, { state: "succeeded", ended_at: Date.now(), output: bytes, error: undefined });
        if (!(await this.write([stepId], false, { type: "workflow.step.succeeded", step: stepId, attempt }))) return;
        return this.advance();
      }
      const err = error ?? failure("internal", "the attempt failed without an error");
      const policy = retryPolicy(step);
      if (attempt < policy.max_attempts && !NEVER_RETRIED.has(err.code) && !policy.non_retryable.includes(err.code)) {
        const delay = retryDelayMs(policy, attempt);
        const now = Date.now();
        Object.assign(s, { state: "waiting_retry", retry_at: now + delay, error: err, task_id: undefined });
        if (!(await this.write([stepId], false, { type: "workflow.step.retrying", step: stepId, attempt, delay_ms: delay, error: err, at: now }))) return;
        this.later(delay, () => this.retryNow(stepId, attempt + 1));
        return;
      }
      return this.stepFailed(step, err);
    });
  }

  /** Cancels the run [WF-20]; settles once it is cancelled (or had ended). */
  cancel(reason: string): Promise<void> {
    return this.enqueue(() => this.end("cancelled", undefined, failure("cancelled", reason)));
  }

  /** Stops this broker's part without touching the run: another broker holds its lease now. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.host.finished(this, true);
  }

  private retryNow(stepId: string, attempt: number): void {
    this.enqueue(async () => {
      const s = this.run.steps[stepId]!;
      if (this.done || s.state !== "waiting_retry" || s.attempts + 1 !== attempt) return;
      // A timer may fire a millisecond early on the wall clock: the attempt never starts before its time [WF-12].
      const early = (s.retry_at ?? 0) - Date.now();
      if (early > 0) return this.later(early, () => this.retryNow(stepId, attempt));
      await this.startAttempt(this.byId.get(stepId)!, attempt);
    });
  }

  /** Starts every step whose join is met, skips those whose join cannot be, and ends a finished run. */
  private async advance(): Promise<void> {
    if (this.done || this.run.state !== "running") return;
    if (this.run.compensating !== undefined) {
      const c = this.run.steps[this.run.compensating.step]!;
      if (c.state === "pending") await this.startAttempt(this.byId.get(this.run.compensating.step)!, 1);
      else if (ENDED_STEP.has(c.state)) await this.end("failed", undefined, this.run.compensating.error);
      return;
    }
    for (let changed = true; changed && !this.done; ) {
      changed = false;
      for (const step of this.run.definition.steps) {
        if (this.compensators.has(step.id) || this.run.steps[step.id]!.state !== "pending") continue;
        const join = joinOf(step, this.run);
        if (join === "wait") continue;
        changed = true;
        if (join === "skip") await this.settle(step, "skipped", undefined);
        else if (join === "unreachable") await this.stepFailed(step, failure("join_failed", `step ${step.id}: quorum ${(step.join as { quorum: number }).quorum} of its after steps can no longer succeed`));
        else {
          if (typeof step.join === "object") for (const a of step.after ?? []) await this.stopStep(a, `quorum of ${step.id} met`);
          await this.startAttempt(step, 1);
        }
        if (this.done || this.run.state !== "running" || this.run.compensating !== undefined) return;
      }
    }
    const open = this.run.definition.steps.some((s) => !this.compensators.has(s.id) && !ENDED_STEP.has(this.run.steps[s.id]!.state));
    if (!open) await this.complete();
  }


  private async startAttempt(step: Step, attempt: number): Promise<void> {
    const s = this.run.steps[step.id]!;
    let input: Uint8Array;
    try {
      input = this.inputOf(step);
    } catch (err) {
      Object.assign(s, { attempts: attempt, started_at: s.started_at ?? Date.now() });
      return this.stepFailed(step, { ...errorInfo(err), retryable: false });
    }
    // Written with its task id once accepted: until then a resumed run submits the same attempt again,
    // and its idempotency key joins the task if this one got that far [WF-13, WF-15].
    Object.assign(s, { state: "running", attempts: attempt, started_at: s.started_at ?? Date.now(), retry_at: undefined, task_id: undefined });
    this.host.submit(this, step, attempt, input);
  }

  /** The step's input: its mapping over the run's context, or the run's input [WF-7]; throws mapping_failed. */
  private inputOf(step: Step): Uint8Array {
    return step.input === undefined ? this.run.input : encodePayload(evaluate(step.input, this.contexts.context()));
  }

  /** Submits an attempt already written as running (a resumed run's, with its input evaluated again). */
  private submitAttempt(step: Step, attempt: number): void {
    try {
      this.host.submit(this, step, attempt, this.inputOf(step));
    } catch (err) {
      this.attemptEnded(step.id, attempt, false, undefined, { ...errorInfo(err), retryable: false });
    }
  }

  /** A step failed for good: its failure strategy decides the run's fate [WF-10]. */
  private async stepFailed(step: Step, error: ErrorInfo): Promise<void> {
    await this.settle(step, "failed", error);
    if (this.done) return;
    const onFailure = step.on_failure;
    if (this.compensators.has(step.id) && this.run.compensating?.step === step.id) return this.advance();
    if (onFailure === "continue" || (onFailure === undefined && this.tolerated(step))) return this.advance();
    if (typeof onFailure === "object") {
      this.run.compensating = { step: onFailure.compensate, error };
      for (const other of this.run.definition.steps) await this.stopStep(other.id, `step ${step.id} failed`);
      if (!(await this.write([], true))) return;
      return this.advance();
    }
    return this.end("failed", undefined, error);
  }

  /** A default failure strategy lets the run go on when every dependent joins with all_settled or a quorum [WF-10]. */
  private tolerated(step: Step): boolean {
    const deps = this.dependents.get(step.id) ?? [];
    return deps.length > 0 && deps.every((d) => d.join === "all_settled" || typeof d.join === "object");
  }

  /** Cancels a running or waiting step (its task's agent gets `cancel`). */
  private async stopStep(stepId: string, reason: string): Promise<void> {
    const s = this.run.steps[stepId]!;
    if (s.state !== "running" && s.state !== "waiting_retry") return;
    if (s.task_id !== undefined) this.host.cancelTask(s.task_id, reason);
    await this.settle(this.byId.get(stepId)!, "cancelled", failure("cancelled", reason));
  }

  private async settle(step: Step, state: "failed" | "skipped" | "cancelled", error: ErrorInfo | undefined): Promise<void> {
    const s = this.run.steps[step.id]!;
    Object.assign(s, { state, ended_at: Date.now(), error, retry_at: undefined });
    const type = state === "failed" ? "workflow.step.failed" : state === "cancelled" ? "workflow.step.cancelled" : undefined;
    await this.write([step.id], false, type === undefined ? undefined : { type, step: step.id, attempt: s.attempts, error });
  }

  private async complete(): Promise<void> {
    let output: Uint8Array;
    try {
      output = this.run.definition.output === undefined ? lastOutput(this.run) : encodePayload(evaluate(this.run.definition.output, this.contexts.context()));
    } catch (err) {
      return this.end("failed", undefined, { ...errorInfo(err), retryable: false });
    }
    await this.end("completed", output, undefined);
  }


  /** Ends the run once: stops what runs, writes it, announces it [WF-16]. */
  private async end(state: "completed" | "failed" | "cancelled", output: Uint8Array | undefined, error: ErrorInfo | undefined): Promise<void> {
    if (this.done || this.run.state !== "running") return;
    for (const t of this.timers) clearTimeout(t);
    const reason = state === "cancelled" ? (error?.message ?? "cancelled") : `run ${state}`;
    const skipped: string[] = [];
    for (const step of this.run.definition.steps) {
      await this.stopStep(step.id, reason);
      const s = this.run.steps[step.id]!;
      if (s.state !== "pending") continue;
      s.state = "skipped";
      skipped.push(step.id);
    }
    Object.assign(this.run, { state, ended_at: Date.now(), output, error, compensating: undefined });
    const type = RUN_END_EVENT[state];
    // Every other step was written when it ended.
    if (!(await this.write(skipped, true, { type, error }))) return;
    this.done = true;
    this.host.finished(this, false);
  }

  private armRunLimit(): void {
    const max = this.run.definition.limits?.max_run_ms ?? WORKFLOW_LIMITS.maxRunMs;
    this.later(this.run.started_at + max - Date.now(), () =>
      this.enqueue(() => this.end("failed", undefined, failure("limit_exceeded", `the run took longer than max_run_ms (${max})`, { limit: "max_run_ms", max }))),
    );
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, Math.min(ms, 2_147_483_647)));
    t.unref();
    this.timers.add(t);
  }

  /**
   * Writes a change and the transition it makes, which is then announced (unless it was already);
   * false once the lease is lost.
   */
  private async write(steps: readonly string[], runFields: boolean, t?: Transition, announce = true): Promise<boolean> {
    if (this.done) return false;
    if (t !== undefined) t.at ??= Date.now();
    if (!(await this.host.persist(this, steps, runFields, t))) {
      this.abandon();
      return false;
    }
    if (t !== undefined && announce) this.host.announce(this, t);
    return true;
  }

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    return (this.queue = this.queue.then(fn).catch((err: unknown) => {
      // A bug in a run must not take the broker down: the run fails with internal.
      void this.end("failed", undefined, { ...errorInfo(err), code: "internal", retryable: false }).catch(() => undefined);
    }));
  }
}
