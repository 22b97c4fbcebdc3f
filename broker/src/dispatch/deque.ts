/**
 * An array-backed FIFO with O(1) amortised push and shift, plus what a task queue needs besides:
 * indexed reads, removal in the middle (leaves a hole that `shift` skips) and ordered insertion.
 */
export class Deque<T extends object> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** Slots from head to tail, holes included. */
  get span(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Inserts before the first item for which `after(item)` holds (at the tail if none). */
  insertBefore(item: T, after: (other: T) => boolean): void {
    for (let i = this.head; i < this.items.length; i++) {
      const other = this.items[i];
      if (other !== undefined && after(other)) {
        this.items.splice(i, 0, item);
        return;
      }
    }
    this.items.push(item);
  }

  /** The item at offset `i` from the head (undefined for a hole). */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  /** Empties the slot at offset `i`; offsets of other items stay valid until the next trim. */
  clearAt(i: number): void {
    this.items[this.head + i] = undefined;
  }

  peek(): T | undefined {
    this.trimHead();
    return this.items[this.head];
  }

  shift(): T | undefined {
    this.trimHead();
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    this.trimHead();
    return item;
  }

  /** Drops holes at the head. */
  trimHead(): void {
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
