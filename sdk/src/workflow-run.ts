/**
 * A workflow run as the session that started (or watches) it holds it: the run id once the broker
 * accepted it, the output as a promise, the run's events as an async iterator, and cancel. The broker
 * owns the run (SPEC §21): the client may go away and come back; the run goes on.
 */
import { Awaitable } from "./awaitable.js";
import { decodePayload, encodePayload, errorFromCode, type ErrorInfo, type Frame, type RunAccepted, type RunEvent as RunEventFrame, type RunResult, type WorkflowEventType, type WorkflowRef } from "@agentwire/wire";
import { ClosedError } from "./errors.js";
import type { Session } from "./session.js";
import type { TypedWorkflow } from "./workflow.js";

/** One transition of a run or of one of its steps (SPEC WF-22), in the order the broker sent them. */
export interface WorkflowEvent {
  type: WorkflowEventType;
  /** The step, on `workflow.step.*` events. */
  step?: string;
  /** The step's attempt (1, 2, ...), on `workflow.step.*` events. */
  attempt?: number;
  /** The attempt's task, on `workflow.step.started`. */
  taskId?: string;
  /** Time until the next attempt, on `workflow.step.retrying`. */
  delayMs?: number;
  /** When it happened, Unix ms on the broker's clock. */
  at: number;
  error?: ErrorInfo;
}

export interface RunOptions {
  /** Aborting cancels the run (or the start, before the broker accepted it). */
  signal?: AbortSignal;
  /** Called with each event as it arrives (the handle's `events()` sees them too). */
  onEvent?: (event: WorkflowEvent) => void;
  /** False: the broker sends no events, only the result (default true). */
  watch?: boolean;
}

/** What a run is started from: a built (or hand-written) definition, or a registered one by name. */
export type RunTarget<O = unknown> = TypedWorkflow<O> | WorkflowRef;

export class RunHandle<O = unknown> extends Awaitable<O> {
  readonly [Symbol.toStringTag] = "RunHandle";
  /** The run's output; rejects with the error class of the run's error code. */
  readonly result: Promise<O>;
  /** The run id, once the broker accepted it; rejects when the start was refused. */
  readonly id: Promise<string>;
  private runIdValue: string | undefined;
  private readonly seen: WorkflowEvent[] = [];
  private ended = false;
  /** Why the run's outcome cannot be known here (refused, connection lost), when so. */
  private lostWith: { err: unknown } | undefined;
  private wakers: (() => void)[] = [];
  private resolveResult!: (v: O) => void;
  private rejectResult!: (e: unknown) => void;
  private resolveId!: (id: string) => void;
  private rejectId!: (e: unknown) => void;
  /** @internal called once when the run ended either way. */
  onEnd: (() => void) | undefined;

  /** @internal */
  constructor(
    private readonly session: Session,
    private readonly onEvent: ((e: WorkflowEvent) => void) | undefined,
  ) {
    super();
    this.result = new Promise<O>((res, rej) => ((this.resolveResult = res), (this.rejectResult = rej)));
    this.id = new Promise<string>((res, rej) => ((this.resolveId = res), (this.rejectId = rej)));
    // Nobody has to look at either: a handle used only for its events leaves no unhandled rejection.
    this.result.catch(() => undefined);
    this.id.catch(() => undefined);
  }

  /** The run id if the broker accepted the run already, else undefined. */
  get runId(): string | undefined {
    return this.runIdValue;
  }

  get done(): boolean {
    return this.ended;
  }

  /**
   * Every event of the run from the start, ending once the run ended (its last event is
   * `workflow.completed`, `.failed` or `.cancelled`); throws only when the run's outcome cannot be
   * known here (refused, or the connection lost for good). Each iteration sees every event.
   */
  async *events(): AsyncGenerator<WorkflowEvent> {
    for (let i = 0; ; ) {
      if (i < this.seen.length) {
        yield this.seen[i++]!;
        continue;
      }
      if (this.ended) {
        if (this.lostWith !== undefined) throw this.lostWith.err;
        return;
      }
      await new Promise<void>((r) => this.wakers.push(r));
    }
  }

  /** Cancels the run [WF-20]: its running steps' tasks are cancelled, nothing new starts. Resolves on the broker's ack. */
  async cancel(): Promise<void> {
    const runId = await this.id;
    await this.session.whenReady();
    await this.session.call({ type: "run_cancel", run_id: runId, ref: this.session.nextId("w") });
  }

  // ---- fed by the session ----------------------------------------------------------------------

  /** @internal the broker accepted the run. */
  accepted(runId: string): void {
    this.runIdValue = runId;
    this.resolveId(runId);
  }

  /** @internal */
  event(frame: RunEventFrame): void {
    if (this.ended) return;
    const e: WorkflowEvent = { type: frame.event, at: frame.at };
    if (frame.step !== undefined) e.step = frame.step;
    if (frame.attempt !== undefined) e.attempt = frame.attempt;
    if (frame.task_id !== undefined) e.taskId = frame.task_id;
    if (frame.delay_ms !== undefined) e.delayMs = frame.delay_ms;
    if (frame.error !== undefined) e.error = frame.error;
    this.seen.push(e);
    try {
      this.onEvent?.(e);
    } catch {
      // A throwing onEvent must not stop the run's delivery.
    }
    this.wake();
  }

  /** @internal */
  finish(frame: RunResult): void {
    if (this.ended) return;
    if (frame.ok) {
      let output: O;
      try {
        output = (frame.output === undefined ? undefined : decodePayload(frame.output)) as O;
      } catch (err) {
        return this.fail(err);
      }
      this.end();
      this.resolveResult(output);
    } else {
      const e = frame.error ?? { code: "internal", message: "run_result without error" };
      this.end();
      this.rejectResult(errorFromCode(e.code, e.message, { details: e.details, ref: frame.run_id, retryable: e.retryable }));
    }
  }

  /** @internal the start was refused, or the run can no longer be followed. */
  fail(err: unknown): void {
    if (this.ended) return;
    this.lostWith = { err };
    if (this.runIdValue === undefined) this.rejectId(err);
    this.end();
    this.rejectResult(err);
  }

  private end(): void {
    this.ended = true;
    if (this.runIdValue !== undefined) this.session.unwatchRun(this.runIdValue);
    this.onEnd?.();
    this.wake();
  }

  private wake(): void {
    const wakers = this.wakers;
    if (wakers.length === 0) return;
    this.wakers = [];
    for (const w of wakers) w();
  }
}

/** Starts a run on `session` and returns its handle (client.run). */
export function startRun<O>(session: Session, target: RunTarget<O>, input: unknown, options: RunOptions, closing: boolean): RunHandle<O> {
  const handle = new RunHandle<O>(session, options.onEvent);
  let payload: Uint8Array;
  try {
    payload = encodePayload(input);
  } catch (err) {
    handle.fail(err); // an input MessagePack cannot carry: the handle rejects, run does not throw
    return handle;
  }
  if (!begin(handle, options.signal, closing)) return handle;
  const frame = { type: "run", ref: "", workflow: target as WorkflowRef, input: payload, watch: options.watch } satisfies Frame;
  sendWhenReady(session, handle, () => {
    frame.ref = session.nextId("r");
    session.callback(frame, (answer) => follow(session, handle, (answer as RunAccepted).run_id), (err) => handle.fail(err));
  });
  return handle;
}

/** Follows the run `runId` on `session` (client.watchRun) [WF-21]. */
export function followRun<O>(session: Session, runId: string, options: Pick<RunOptions, "onEvent" | "signal">, closing: boolean): RunHandle<O> {
  const handle = new RunHandle<O>(session, options.onEvent);
  if (!begin(handle, options.signal, closing)) return handle;
  sendWhenReady(session, handle, () => {
    // Watching before the ack: the broker may send the run's frames right behind it.
    session.watchRun(runId, handle);
    session.callback({ type: "run_watch", run_id: runId, ref: session.nextId("w") }, () => handle.accepted(runId), (err) => {
      session.unwatchRun(runId);
      handle.fail(err);
    });
  });
  return handle;
}

/** Ties `signal` to the handle (abort = cancel, once the run has an id); false when it is over already. */
function begin<O>(handle: RunHandle<O>, signal: AbortSignal | undefined, closing: boolean): boolean {
  if (closing) handle.fail(new ClosedError());
  else if (signal?.aborted === true) handle.fail(errorFromCode("cancelled", "run aborted before it started"));
  if (handle.done || signal === undefined) return !handle.done;
  const onAbort = (): void => void handle.id.then(() => handle.cancel()).catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  handle.onEnd = () => signal.removeEventListener("abort", onAbort);
  return true;
}

function follow<O>(session: Session, handle: RunHandle<O>, runId: string): void {
  session.watchRun(runId, handle);
  handle.accepted(runId);
}

function sendWhenReady<O>(session: Session, handle: RunHandle<O>, send: () => void): void {
  if (session.isReady) send();
  else session.whenReady().then(send, (err: unknown) => handle.fail(err));
}
