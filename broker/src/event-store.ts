/**
 * The event store: every task and agent event of the bus (docs/events.md), recorded with a global
 * position and a position within its stream (`task-<id>`, `agent-<id>`), replayable by time range and
 * filters. `MemoryEventStore` is the default: a ring of the newest `--events-max` events, so a broker
 * started with no setup has replay.
 */
import type { RecordedEvent } from "@agentwire/wire";
import type { AgentEvent, EventBus, TaskEvent } from "./events.js";
import { agentEvent, taskEvent } from "./events.js";

/** One recorded event, as the HTTP API serves it; `data` is the bus's event. */
export type StoredEvent = RecordedEvent<TaskEvent | AgentEvent>;

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
  /** Records an event after the others; its positions are assigned here. */
  append(event: TaskEvent | AgentEvent): void;
  /** Matching events in position order. */
  read(query: EventQuery): Iterable<StoredEvent>;
  /** The newest position recorded (0 when none). */
  readonly head: number;
  /** Calls `listener` after each append (synchronously: it schedules its work and returns); returns its removal. */
  onAppend(listener: () => void): () => void;
}

/** The stream an event belongs to: `task-<task_id>` or `agent-<agent_id>`. */
function streamOf(data: TaskEvent | AgentEvent): string {
  return "task_id" in data ? `task-${data.task_id}` : `agent-${data.agent_id}`;
}

/** A slot of the ring: the event as the bus made it, its positions beside it; the rest is derived on read. */
interface Slot {
  readonly position: number;
  readonly streamPosition: number;
  readonly data: TaskEvent | AgentEvent;
}

/**
 * The newest `max` events in memory; older ones are forgotten first. A slot holds the bus's event
 * object and two numbers (stream names and event ids are made on read), about 225 B per event with
 * its map entry (bench/README): the ring's memory is bounded by `max`, whatever the number of tasks.
 */
export class MemoryEventStore implements EventStore {
  private readonly ring: (Slot | undefined)[];
  private start = 0;
  private size = 0;
  private position = 0;
  /** Last stream position of each task and agent that still has an event in the ring, by raw id. */
  private readonly tasks = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  private listeners: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly idPrefix: string,
  ) {
    if (!(max >= 1)) throw new RangeError("an event store keeps at least one event");
    this.ring = new Array<Slot | undefined>(max);
  }

  get head(): number {
    return this.position;
  }

  onAppend(listener: () => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => void (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  append(data: TaskEvent | AgentEvent): void {
    const [streams, key] = this.counter(data);
    const streamPosition = (streams.get(key) ?? 0) + 1;
    streams.set(key, streamPosition);
    if (this.size === this.max) this.evictOldest();
    this.ring[(this.start + this.size) % this.max] = { position: ++this.position, streamPosition, data };
    this.size++;
    for (const l of this.listeners) l();
  }

  private counter(data: TaskEvent | AgentEvent): [Map<string, number>, string] {
    return "task_id" in data ? [this.tasks, data.task_id] : [this.agents, data.agent_id];
  }

  private evictOldest(): void {
    const old = this.ring[this.start]!;
    this.ring[this.start] = undefined;
    this.start = (this.start + 1) % this.max;
    this.size--;
    // Its stream's last event leaves: the stream has none left here, forget its counter.
    const [streams, key] = this.counter(old.data);
    if (streams.get(key) === old.streamPosition) streams.delete(key);
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
      const { position, streamPosition, data } = this.ring[(this.start + i) % this.max]!;
      if (query.from !== undefined && data.at < query.from) continue;
      if (query.to !== undefined && data.at >= query.to) continue;
      if (types !== undefined && !types.has(data.type)) continue;
      if (query.task !== undefined && (data as TaskEvent).task_id !== query.task) continue;
      if (query.agent !== undefined && data.agent_id !== query.agent) continue;
      if (query.capability !== undefined && !matchesCapability(data, query.capability)) continue;
      n++;
      yield { position, event_id: `${this.idPrefix}${position}`, stream: streamOf(data), stream_position: streamPosition, type: data.type, at: data.at, broker_id: data.broker_id, data };
    }
  }
}

function matchesCapability(data: TaskEvent | AgentEvent, capability: string): boolean {
  return "task_id" in data ? data.capability === capability : data.capabilities.includes(capability);
}

/**
 * Records every event of `bus` into `store`; returns the listener's removal. With `payloadBytes` > 0 a
 * task's input (on `task.submitted`) and output (on `task.succeeded`) are kept too, copied, when no
 * larger than that; a larger one only by its size.
 */
export function record(bus: EventBus, store: EventStore, brokerId: string, payloadBytes = 0): () => void {
  return bus.on({
    task(type, task, at, cause) {
      const event = taskEvent(brokerId, type, task, at, cause);
      const bytes = payloadBytes === 0 ? undefined : type === "task.submitted" ? task.input : type === "task.succeeded" ? task.output : undefined;
      if (bytes !== undefined) {
        if (bytes.byteLength <= payloadBytes) event.payload = new Uint8Array(bytes); // a copy, and a plain one (a Buffer would serialise itself)
        else event.payload_bytes = bytes.byteLength;
      }
      store.append(event);
    },
    agent: (type, agent, at, cause) => store.append(agentEvent(brokerId, type, agent, at, cause)),
  });
}
