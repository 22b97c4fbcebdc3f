/**
 * Coalesces the frames a broker writes to one socket within one event-loop turn into one syscall:
 * the socket is corked at its first write and uncorked for all sockets together right after the
 * turn's I/O callbacks (setImmediate). Without it every frame costs its own writev.
 *
 * Sockets are flushed newest first: a submit corks the submitter's socket (`accepted`) before the
 * agent's (`task`), and the task is what the round trip waits for. Order across sockets carries no
 * meaning; within one socket frames keep their order.
 */
export interface Corkable {
  corked: boolean;
  uncork(): void;
}

export class WriteBatcher {
  // Two arrays filled by count and swapped per flush: `length = 0` would drop an array's backing
  // store, and every turn would allocate a new one.
  private pending: (Corkable | undefined)[] = [];
  private count = 0;
  private spare: (Corkable | undefined)[] = [];
  private scheduled = false;

  /** Call after corking `c`'s socket; it is uncorked at the end of this turn. */
  add(c: Corkable): void {
    this.pending[this.count++] = c;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    const n = this.count;
    // A socket corked again while this batch is uncorked goes to the next batch.
    this.pending = this.spare;
    this.count = 0;
    for (let i = n - 1; i >= 0; i--) {
      const c = batch[i]!;
      batch[i] = undefined;
      c.corked = false;
      c.uncork();
    }
    this.spare = batch;
  };
}
