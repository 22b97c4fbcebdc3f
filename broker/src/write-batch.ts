/**
 * Coalesces the frames a broker writes to one socket within one event-loop turn into one syscall:
 * the socket is corked at its first write and uncorked for all sockets together right after the
 * turn's I/O callbacks (setImmediate). Without it every frame costs its own writev.
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
    for (const c of batch) {
      c.corked = false;
      c.uncork();
    }
    batch.length = 0;
    this.spare = batch;
  };
}
