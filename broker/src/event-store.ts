/**
 * The event store: every event of the bus (docs/events.md), recorded with a global position and a
 * position within its stream (`task-<id>`, `agent-<id>`, `request-<id>`, `topic-<topic>`), replayable
 * by time range and filters. `MemoryEventStore` is the default: a ring of the newest `--events-max`
 * events, so a broker started with no setup has replay. `PostgresEventStore` (pg-event-store.ts) keeps
 * them in PostgreSQL, shared by the brokers of a mesh.
 */
import type { RecordedEvent } from "@agentwire/wire";
import type { BusEvent, EventBus, MessageEvent, TaskEvent } from "./events.js";
import { agentEvent, taskEvent } from "./events.js";

/** One recorded event, as the HTTP API serves it; `data` is the bus's event. */
export type StoredEvent = RecordedEvent<BusEvent>;

export interface EventQuery {
  /** Events at or after this time (epoch ms). */
  from?: number | undefined;
  /** Events before this time (epoch ms). */
  to?: number | undefined;
  /** Only these types. */
  types?: readonly string[] | undefined;
  task?: string | undefined;
  agent?: string | undefined;
  capability?: string | undefined;
  /** Only events after this position (to resume a read). */
  after?: number | undefined;
  /** At most this many. */
  limit?: number | undefined;
}

/** How the store is doing, for `/readyz` detail and metrics. */
export interface EventStoreHealth {
  store: "memory" | "postgres";
  /** Whether events are being written (false while the database refuses them). */
  ok: boolean;
  /** Events appended and not yet written. */
  buffered: number;
  /** Events written since start, as the store's answers said (a write whose answer was lost is not counted, though stored). */
  written: number;
  /** Events dropped since start: the buffer was full while the database was down or slow. */
  dropped: number;
  /** The last write error while not ok. */
  error?: string | undefined;
}

export interface EventStore {
  /** Records an event after the others, never waiting: positions are assigned here or when it is written. */
  append(event: BusEvent): void;
  /** Settles once the last event appended is written (rejects when it was dropped or not written in time). */
  committed(): Promise<void>;
  /** Matching events in position order, read as the caller iterates. */
  read(query: EventQuery): AsyncIterable<StoredEvent>;
  /** The newest position a reader can see now (0 when none). */
  head(): Promise<number>;
  /** Calls `listener` whenever newer events may be readable (synchronously: it schedules its work and returns). */
  onAppend(listener: () => void): () => void;
  health(): EventStoreHealth;
  /** Opens the store (a database store connects and migrates). */
  start(): Promise<void>;
  /** Writes what is buffered (a bounded wait) and closes. */
  close(): Promise<void>;
}

/** The stream an event belongs to: its task, agent, request or topic. */
export function streamOf(data: BusEvent): string {
  if ("task_id" in data) return `task-${data.task_id}`;
  if ("status" in data) return `agent-${data.agent_id}`;
  if (data.request_id !== undefined) return `request-${data.request_id}`;
  if (data.topic !== undefined) return `topic-${data.topic}`;
  return `agent-${data.to ?? data.from}`;
}

/** Whether `data` matches the query's filters other than position and limit. */
function matches(data: BusEvent, query: EventQuery, types: ReadonlySet<string> | undefined): boolean {
  if (query.from !== undefined && data.at < query.from) return false;
  if (query.to !== undefined && data.at >= query.to) return false;
  if (types !== undefined && !types.has(data.type)) return false;
  if (query.task !== undefined && (data as TaskEvent).task_id !== query.task) return false;
  if (query.agent !== undefined && !involvesAgent(data, query.agent)) return false;
  if (query.capability !== undefined && !matchesCapability(data, query.capability)) return false;
  return true;
}

function typeSet(query: EventQuery): ReadonlySet<string> | undefined {
  return query.types === undefined || query.types.length === 0 ? undefined : new Set(query.types);
}

function involvesAgent(data: BusEvent, agent: string): boolean {
  if ("state" in data || "status" in data) return data.agent_id === agent;
  return data.from === agent || data.to === agent;
}

function matchesCapability(data: BusEvent, capability: string): boolean {
  if ("task_id" in data) return data.capability === capability;
  if ("status" in data) return data.capabilities.includes(capability);
  return data.capability === capability;
}

/** A slot of the ring: the event as the bus made it, its positions beside it; the rest is derived on read. */
interface Slot {
  readonly position: number;
  readonly streamPosition: number;
  readonly data: BusEvent;
}

/**
 * The newest `max` events in memory; older ones are forgotten first (and, with a retention, those
 * older than it). A slot holds the bus's event object and two numbers (stream names and event ids are
 * made on read), about 225 B per event with its map entry (bench/README): the ring's memory is bounded
 * by `max`, whatever the number of tasks.
 */
export class MemoryEventStore implements EventStore {
  private readonly ring: (Slot | undefined)[];
  private start_ = 0;
  private size = 0;
  private position = 0;
  /** Last stream position of each task and agent that still has an event in the ring, by raw id. */
  private readonly tasks = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  /** The same for request and topic streams, by stream name. */
  private readonly others = new Map<string, number>();
  private listeners: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly idPrefix: string,
    /** Events older than this (ms) are dropped; 0 keeps them while the ring has room. */
    private readonly retentionMs = 0,
  ) {
    if (!(max >= 1)) throw new RangeError("an event store keeps at least one event");
    this.ring = new Array<Slot | undefined>(max);
  }

  head(): Promise<number> {
    return Promise.resolve(this.position);
  }

  onAppend(listener: () => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => void (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  health(): EventStoreHealth {
    return { store: "memory", ok: true, buffered: 0, written: this.position, dropped: 0 };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  committed(): Promise<void> {
    return Promise.resolve();
  }

  append(data: BusEvent): void {
    const [streams, key] = this.counter(data);
    const streamPosition = (streams.get(key) ?? 0) + 1;
    streams.set(key, streamPosition);
    if (this.size === this.max) this.evictOldest();
    this.ring[(this.start_ + this.size) % this.max] = { position: ++this.position, streamPosition, data };
    this.size++;
    if (this.retentionMs > 0) this.prune(data.at - this.retentionMs);
    for (const l of this.listeners) l();
  }

  private counter(data: BusEvent): [Map<string, number>, string] {
    if ("task_id" in data) return [this.tasks, data.task_id];
    if ("status" in data) return [this.agents, data.agent_id];
    // A direct message counts in its target agent's stream (streamOf); requests and topics have their own.
    if (data.request_id === undefined && data.topic === undefined) return [this.agents, data.to ?? data.from];
    return [this.others, streamOf(data)];
  }

  /** Drops the events recorded before `before` (epoch ms), oldest first. */
  private prune(before: number): void {
    while (this.size > 1 && this.ring[this.start_]!.data.at < before) this.evictOldest();
  }

  private evictOldest(): void {
    const old = this.ring[this.start_]!;
    this.ring[this.start_] = undefined;
    this.start_ = (this.start_ + 1) % this.max;
    this.size--;
    // Its stream's last event leaves: the stream has none left here, forget its counter.
    const [streams, key] = this.counter(old.data);
    if (streams.get(key) === old.streamPosition) streams.delete(key);
  }

  // An async generator over a synchronous scan: a reader that awaits between events sees the ring as it is then.
  // eslint-disable-next-line @typescript-eslint/require-await
  async *read(query: EventQuery): AsyncIterable<StoredEvent> {
    if (this.retentionMs > 0) this.prune(Date.now() - this.retentionMs);
    const limit = query.limit ?? Infinity;
    const types = typeSet(query);
    let after = query.after ?? 0;
    let n = 0;
    while (n < limit) {
      // Positions are consecutive in the ring: start right after `after` (the ring may have moved on).
      if (this.size === 0) return;
      const first = this.ring[this.start_]!.position;
      const i = after < first ? 0 : after - first + 1;
      if (i >= this.size) return;
      const { position, streamPosition, data } = this.ring[(this.start_ + i) % this.max]!;
      after = position;
      if (!matches(data, query, types)) continue;
      n++;
      yield { position, event_id: `${this.idPrefix}${position}`, stream: streamOf(data), stream_position: streamPosition, type: data.type, at: data.at, broker_id: data.broker_id, data };
    }
  }
}

/**
 * Records every event of `bus` into `store`; returns the listener's removal. With `payloadBytes` > 0
 * a task's input (on `task.submitted`), its output (on `task.succeeded`) and message bodies are kept
 * too, copied, when no larger than that; a larger one only by its size.
 */
export function record(bus: EventBus, store: EventStore, brokerId: string, payloadBytes = 0): () => void {
  const keep = (bytes: Uint8Array | undefined, event: { payload?: Uint8Array | undefined; payload_bytes?: number | undefined }): void => {
    if (bytes === undefined) return;
    if (bytes.byteLength <= payloadBytes) event.payload = new Uint8Array(bytes); // a copy, and a plain one (a Buffer would serialise itself)
    else event.payload_bytes = bytes.byteLength;
  };
  return bus.on({
    task(type, task, at, cause) {
      const event = taskEvent(brokerId, type, task, at, cause);
      if (payloadBytes > 0) keep(type === "task.submitted" ? task.input : type === "task.succeeded" ? task.output : undefined, event);
      store.append(event);
    },
    agent: (type, agent, at, cause) => store.append(agentEvent(brokerId, type, agent, at, cause)),
    message(event: MessageEvent) {
      // Its size is always there (`bytes`); the body only when kept and small enough.
      const body = event.payload;
      event.payload = payloadBytes > 0 && body !== undefined && body.byteLength <= payloadBytes ? new Uint8Array(body) : undefined;
      store.append(event);
    },
  });
}
