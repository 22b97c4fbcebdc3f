/** A task's events as an async iterator, and its output as a promise: one source for both. */
export type StreamEvent<O = unknown, P = unknown> = { type: "progress"; data: P } | { type: "result"; output: O };

export class TaskStream<O, P> implements AsyncIterable<StreamEvent<O, P>> {
  readonly output: Promise<O>;
  onEnd: (() => void) | undefined;
  private resolve!: (v: O) => void;
  private reject!: (e: unknown) => void;
  private readonly queue: StreamEvent<O, P>[] = [];
  private error: { err: unknown } | undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor() {
    this.output = new Promise<O>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.output.catch(() => undefined); // a stream consumer may never look at `output`
  }

  push(event: StreamEvent<O, P>): void {
    if (this.ended) return;
    this.queue.push(event);
    this.wake?.();
  }

  finish(output: O): void {
    if (this.ended) return;
    this.push({ type: "result", output });
    this.end();
    this.resolve(output);
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.error = { err };
    this.end();
    this.reject(err);
  }

  private end(): void {
    this.ended = true;
    this.onEnd?.();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamEvent<O, P>> {
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error.err;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}
