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
  private pending: Corkable[] = [];
  private spare: Corkable[] = [];
  private scheduled = false;

  /** Call after corking `c`'s socket; it is uncorked at the end of this turn. */
  add(c: Corkable): void {
    this.pending.push(c);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = this.spare;
    for (let i = batch.length - 1; i >= 0; i--) {
      const c = batch[i]!;
      c.corked = false;
      c.uncork();
    }
    batch.length = 0;
    this.spare = batch;
  };
}
