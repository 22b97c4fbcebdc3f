/**
 * All deadlines of a broker (tasks and requests) in ONE binary min-heap keyed by deadline, with ONE
 * timer armed for the earliest. Items carry their own heap index so removal is O(log n).
 */
/** Time left until `deadline` as frames carry it (`remaining_ms`, never negative) [TASK-34, REQ-3]. */
export function remainingMs(deadline: number): number {
  return Math.max(0, deadline - Date.now());
}

export interface Deadlined {
  deadline: number;
  /** Position in the heap; -1 when not in it. Owned by DeadlineHeap. */
  heapIndex: number;
}

export class DeadlineHeap<T extends Deadlined> {
  private readonly items: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly onExpire: (item: T) => void) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
    if (item.deadline < this.armedFor) this.arm();
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    item.heapIndex = -1;
    const last = this.items.pop()!;
    if (i < this.items.length) {
      this.items[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
    // The timer stays armed for an earlier time at worst; the tick re-arms it.
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(): void {
    clearTimeout(this.timer);
    const top = this.items[0];
    if (top === undefined) {
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = top.deadline;
    this.timer = setTimeout(this.tick, Math.max(0, top.deadline - Date.now()));
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    for (let top = this.items[0]; top !== undefined && top.deadline <= now; top = this.items[0]) {
      this.remove(top);
      this.onExpire(top);
    }
    this.arm();
  };

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.deadline <= item.deadline) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && items[r]!.deadline < items[l]!.deadline ? r : l;
      const child = items[c]!;
      if (child.deadline >= item.deadline) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
