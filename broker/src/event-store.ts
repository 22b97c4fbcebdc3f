/**
 * The event store: every task and agent event of the bus (docs/events.md), recorded with a global
 * position and a position within its stream (`task-<id>`, `agent-<id>`), replayable by time range and
 * filters. `MemoryEventStore` is the default: a ring of the newest `--events-max` events, so a broker
 * started with no setup has replay.
 */
import type { AgentEvent, EventBus, TaskEvent } from "./events.js";
import { agentEvent, taskEvent } from "./events.js";

/** One recorded event. `position` orders all events of a store; `stream_position` those of a stream, from 1, gap-free. */
export interface StoredEvent {
  position: number;
  /** Unique per event: a retried append never records it twice. */
  event_id: string;
  stream: string;
  stream_position: number;
  type: string;
  /** When it happened (epoch ms). */
  at: number;
  broker_id: string;
  data: TaskEvent | AgentEvent;
}

export interface EventQuery {
  /** Events at or after this time (epoch ms). */
  from?: number;
  /** Events before this time (epoch ms). */
  to?: number;
  /** Only these types. */
  types?: readonly string[];
  task?: string;
  agent?: string;
  capability?: string;
  /** Only events after this position (to resume a read). */
  after?: number;
  /** At most this many. */
  limit?: number;
}

export interface EventStore {
  readonly kind: string;
  /** Records events in order; positions are assigned here. */
  append(events: readonly Omit<StoredEvent, "position" | "stream_position" | "event_id">[]): void;
  /** Matching events in position order. */
  read(query: EventQuery): Iterable<StoredEvent>;
  /** The newest position recorded (0 when none). */
  readonly head: number;
}

/** The newest `max` events in memory; older ones are forgotten first. */
export class MemoryEventStore implements EventStore {
  readonly kind = "memory";
  private readonly ring: (StoredEvent | undefined)[];
  private start = 0;
  private size = 0;
  private position = 0;
  /** Last position of each stream that still has an event in the ring. */
  private readonly streams = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly idPrefix: string,
  ) {
    this.ring = new Array<StoredEvent | undefined>(Math.max(1, max));
  }

  get head(): number {
    return this.position;
  }

  append(events: readonly Omit<StoredEvent, "position" | "stream_position" | "event_id">[]): void {
    for (const e of events) {
      const streamPosition = (this.streams.get(e.stream) ?? 0) + 1;
      this.streams.set(e.stream, streamPosition);
      const position = ++this.position;
      const stored: StoredEvent = { position, event_id: `${this.idPrefix}${position}`, stream: e.stream, stream_position: streamPosition, type: e.type, at: e.at, broker_id: e.broker_id, data: e.data };
      if (this.size === this.max) this.evictOldest();
      this.ring[(this.start + this.size) % this.max] = stored;
      this.size++;
    }
  }

  private evictOldest(): void {
    const old = this.ring[this.start]!;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.max;
    this.size--;
    // Its stream's last event leaves: the stream has none left here, forget its counter.
    if (this.streams.get(old.stream) === old.stream_position) this.streams.delete(old.stream);
  }

  *read(query: EventQuery): Iterable<StoredEvent> {
    const limit = query.limit ?? Infinity;
    const types = query.types === undefined || query.types.length === 0 ? undefined : new Set(query.types);
    // Positions are consecutive in the ring: start right after `after`.
    const first = this.size === 0 ? 0 : this.ring[this.start]!.position;
    let i = query.after === undefined || query.after < first ? 0 : query.after - first + 1;
    let n = 0;
    // `size` is read on every step: events appended while the caller iterates are included.
    for (; i < this.size && n < limit; i++) {
      const e = this.ring[(this.start + i) % this.max]!;
      if (query.from !== undefined && e.at < query.from) continue;
      if (query.to !== undefined && e.at >= query.to) continue;
      if (types !== undefined && !types.has(e.type)) continue;
      if (query.task !== undefined && (e.data as TaskEvent).task_id !== query.task) continue;
      if (query.agent !== undefined && e.data.agent_id !== query.agent) continue;
      if (query.capability !== undefined && !matchesCapability(e.data, query.capability)) continue;
      n++;
      yield e;
    }
  }
}

function matchesCapability(data: TaskEvent | AgentEvent, capability: string): boolean {
  return "task_id" in data ? data.capability === capability : data.capabilities.includes(capability);
}

/** Records every event of `bus` into `store`; returns the listener's removal. */
export function record(bus: EventBus, store: EventStore, brokerId: string): () => void {
  return bus.on({
    task(type, task, at, cause) {
      const data = taskEvent(brokerId, type, task, at, cause);
      store.append([{ stream: `task-${data.task_id}`, type, at, broker_id: brokerId, data }]);
    },
    agent(type, agent, at, cause) {
      const data = agentEvent(brokerId, type, agent, at, cause);
      store.append([{ stream: `agent-${data.agent_id}`, type, at, broker_id: brokerId, data }]);
    },
  });
}
