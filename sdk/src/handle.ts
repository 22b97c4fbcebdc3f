/**
 * A task as its submitter holds it: the id once the broker accepted it, the output as a promise, the
 * progress as an async iterator, and cancel. `await handle` is `await handle.result`, so code that
 * only wants the output reads `const out = await client.submit(...)`.
 */
import { Awaitable } from "./awaitable.js";
import type { AgentwireError } from "@agentwire/wire";

/** One event of a task as a stream: each progress update in order, then the result. */
export type StreamEvent<O = unknown, P = unknown> = { type: "progress"; data: P } | { type: "result"; output: O };

export class TaskHandle<O = unknown, P = unknown> extends Awaitable<O> implements AsyncIterable<StreamEvent<O, P>> {
  readonly [Symbol.toStringTag] = "TaskHandle";
  /** The task's output; rejects with the error class of the result's code. */
  readonly result: Promise<O>;
  /** Whether the broker answered with an earlier task of the same idempotency key. */
  duplicate = false;
  /** Called once when the task ends either way (internal: the client unhooks its abort listener). */
  onEnd: (() => void) | undefined;
  /** Told once when the task ends either way (internal: the client stops counting it as open). */
  owner: { ended(handle: TaskHandle<O, P>): void } | undefined;
  private taskIdValue: string | undefined;
  private resolveResult!: (v: O) => void;
  private rejectResult!: (e: unknown) => void;
  /** Made on first use of `id` only: most submitters never look (a promise per task is not free). */
  private idPromise: { promise: Promise<string>; resolve: (id: string) => void; reject: (e: unknown) => void } | undefined;
  /** Progress updates in order (the result is not kept here: iteration yields it from `output`). */
  private readonly events: StreamEvent<O, P>[] = [];
  private output: O | undefined;
  private error: { err: unknown } | undefined;
  private ended = false;
  private wakers: (() => void)[] = [];

  constructor(private readonly canceller: { cancel(taskId: string, reason?: string): Promise<void> }) {
    super();
    this.result = new Promise<O>((res, rej) => {
      this.resolveResult = res;
      this.rejectResult = rej;
    });
    // Nobody has to look at it: a handle used only as a stream must not leave unhandled rejections.
    this.result.catch(() => undefined);
  }

  /** The task id, once the broker accepted the task; rejects when the submit was refused. */
  get id(): Promise<string> {
    if (this.idPromise === undefined) {
      let resolve!: (id: string) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined);
      this.idPromise = { promise, resolve, reject };
      if (this.taskIdValue !== undefined) resolve(this.taskIdValue);
      else if (this.error !== undefined) reject(this.error.err);
    }
    return this.idPromise.promise;
  }

  /** The task id if the broker accepted the task already, else undefined. */
  get taskId(): string | undefined {
    return this.taskIdValue;
  }

  get done(): boolean {
    return this.ended;
  }

  /** Cancels the task [TASK-30]; resolves once the broker acknowledged it. The result then ends with CancelledError. */
  async cancel(reason?: string): Promise<void> {
    await this.canceller.cancel(await this.id, reason);
  }

  /** The progress updates alone, in order, ending when the task ends (throwing its error if it failed). */
  async *progress(): AsyncGenerator<P> {
    for await (const e of this) if (e.type === "progress") yield e.data;
  }

  /** Each progress update in order, then the result; every iteration sees every event from the start. */
  async *[Symbol.asyncIterator](): AsyncIterator<StreamEvent<O, P>> {
    for (let i = 0; ; ) {
      if (i < this.events.length) {
        yield this.events[i++]!;
        continue;
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error.err;
        yield { type: "result", output: this.output as O };
        return;
      }
      await new Promise<void>((r) => this.wakers.push(r));
    }
  }

  // ---- fed by the client -----------------------------------------------------------------------

  /** @internal */
  accept(taskId: string, duplicate: boolean): void {
    this.taskIdValue = taskId;
    this.duplicate = duplicate;
    this.idPromise?.resolve(taskId);
  }

  /** @internal */
  push(data: P): void {
    if (this.ended) return;
    this.events.push({ type: "progress", data });
    this.wake();
  }

  /** @internal */
  finish(output: O): void {
    if (this.ended) return;
    this.output = output;
    this.end();
    this.resolveResult(output);
  }

  /** @internal */
  fail(err: unknown): void {
    if (this.ended) return;
    this.error = { err };
    this.end();
    if (this.taskIdValue === undefined) this.idPromise?.reject(err);
    this.rejectResult(err as AgentwireError);
  }

  private end(): void {
    this.ended = true;
    this.onEnd?.();
    this.owner?.ended(this);
    this.wake();
  }

  private wake(): void {
    const wakers = this.wakers;
    if (wakers.length === 0) return;
    this.wakers = [];
    for (const w of wakers) w();
  }
}
