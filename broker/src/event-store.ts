/**
 * The event store: every event of the bus (docs/events.md), recorded with a global position and a
 * position within its stream (`task-<id>`, `agent-<id>`, `request-<id>`, `topic-<topic>`), replayable
 * by time range and filters. `MemoryEventStore` is the default: a ring of the newest `--events-max`
 * events, so a broker started with no setup has replay. `PostgresEventStore` (pg-event-store.ts) keeps
 * them in PostgreSQL, shared by the brokers of a mesh.
 */
import type { RecordedEvent } from "@agentwire/wire";
import { TASK_STATES, type ErrorInfo, type TaskState, type TraceContext } from "@agentwire/wire";
import type { BusEvent, EventBus, MessageEvent, TaskEvent, TaskEventType } from "./events.js";
import { TASK_EVENTS, agentEvent, eventAgentId, eventError, taskEvent } from "./events.js";
import type { TaskRecord } from "./tasks/task-table.js";

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
  /**
   * Records a task transition straight from the live record, as `append(taskEvent(...))` would, for a
   * store that keeps it without making the event object (the memory ring); `record` uses it when present.
   */
  appendTask?(brokerId: string, type: TaskEventType, task: TaskRecord, at: number, cause: string | undefined): void;
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

/** The stream an event belongs to: its task, agent, pool, request or topic. */
export function streamOf(data: BusEvent): string {
  if ("run_id" in data) return `workflow-${data.run_id}`; // before task_id: a step's event names its task
  if ("task_id" in data) return `task-${data.task_id}`;
  if ("status" in data) return `agent-${data.agent_id}`;
  if ("pool" in data) return `pool-${data.pool}`;
  if (data.request_id !== undefined) return `request-${data.request_id}`;
  if (data.topic !== undefined) return `topic-${data.topic}`;
  return `agent-${data.to ?? data.from}`;
}

/** Whether `data` matches the query's filters other than position and limit. */
function matches(data: BusEvent, query: EventQuery, types: ReadonlySet<string> | undefined): boolean {
  if (query.from !== undefined && data.at < query.from) return false;
  if (query.to !== undefined && data.at >= query.to) return false;
  if (types !== undefined && !types.has(data.type)) return false;
  if (query.task !== undefined && ("run_id" in data || (data as TaskEvent).task_id !== query.task)) return false;
  if (query.agent !== undefined && !involvesAgent(data, query.agent)) return false;
  if (query.capability !== undefined && !matchesCapability(data, query.capability)) return false;
  return true;
}

function typeSet(query: EventQuery): ReadonlySet<string> | undefined {
  return query.types === undefined || query.types.length === 0 ? undefined : new Set(query.types);
}

function involvesAgent(data: BusEvent, agent: string): boolean {
  if ("run_id" in data) return false;
  if ("state" in data || "status" in data) return data.agent_id === agent;
  if ("pool" in data) return false;
  return data.from === agent || data.to === agent;
}

function matchesCapability(data: BusEvent, capability: string): boolean {
  if ("run_id" in data) return false;
  if ("task_id" in data) return data.capability === capability;
  if ("status" in data) return data.capabilities.includes(capability);
  if ("pool" in data) return false;
  return data.capability === capability;
}

/**
 * The newest `max` events in memory; older ones are forgotten first (and, with a retention, those
 * older than it). The ring is columnar: a task transition (most events) is kept as numbers and
 * references to strings the task already holds, in preallocated arrays, and its event object is made
 * on read; other events keep the bus's object. No object per event means none to promote and collect
 * (an object per event cost about 1 µs, a slot about 0.2 µs: bench/README). Stream names and event ids
 * are made on read. The ring's memory is bounded by `max`, whatever the number of tasks.
 */
export class MemoryEventStore implements EventStore {
  private start_ = 0;
  private size = 0;
  private position = 0;
  // One entry per slot, column by column.
  private at!: Float64Array;
  private streamPos!: Uint32Array;
  private attempt!: Uint32Array;
  /** Index into TASK_EVENTS and TASK_STATES for a task transition; 255 (OTHER): the event is in `other`. */
  private typeCode!: Uint8Array;
  private stateCode!: Uint8Array;
  private taskId!: (string | undefined)[];
  private capability!: (string | undefined)[];
  private agentId!: (string | undefined)[];
  private cause!: (string | undefined)[];
  private error!: (ErrorInfo | undefined)[];
  private brokerId!: (string | undefined)[];
  /** The task's trace context (a reference to the record's, undefined for most tasks). */
  private trace!: (TraceContext | undefined)[];
  private other!: (BusEvent | undefined)[];
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
    this.resize(Math.min(max, INITIAL_CAPACITY));
  }

  /** Slots allocated: grows by doubling up to `max`, so a large --events-max costs memory only as events come. */
  private capacity = 0;

  /** Columns of `to` slots holding the ring's events in order from slot 0 (a new ring: none). */
  private resize(to: number): void {
    const order = (i: number): number => (this.start_ + i) % this.capacity;
    const typed = <A extends Float64Array | Uint32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(to);
      for (let i = 0; i < this.size; i++) b[i] = a[order(i)]!;
      return b;
    };
    const refs = <T>(a: (T | undefined)[]): (T | undefined)[] => {
      const b = column<T>(to);
      for (let i = 0; i < this.size; i++) b[i] = a[order(i)];
      return b;
    };
    this.at = typed(this.at, (n) => new Float64Array(n));
    this.streamPos = typed(this.streamPos, (n) => new Uint32Array(n));
    this.attempt = typed(this.attempt, (n) => new Uint32Array(n));
    this.typeCode = typed(this.typeCode, (n) => new Uint8Array(n));
    this.stateCode = typed(this.stateCode, (n) => new Uint8Array(n));
    this.taskId = refs(this.taskId);
    this.capability = refs(this.capability);
    this.agentId = refs(this.agentId);
    this.cause = refs(this.cause);
    this.error = refs(this.error);
    this.brokerId = refs(this.brokerId);
    this.trace = refs(this.trace);
    this.other = refs(this.other);
    this.start_ = 0;
    this.capacity = to;
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
    const i = this.slot(streams, key, data.at);
    this.typeCode[i] = OTHER;
    this.other[i] = data;
    this.appended(data.at);
  }

  appendTask(brokerId: string, type: TaskEventType, task: TaskRecord, at: number, cause: string | undefined): void {
    const i = this.slot(this.tasks, task.id, at);
    this.typeCode[i] = TASK_EVENT_CODE[type];
    this.stateCode[i] = TASK_STATE_CODE[task.state];
    this.attempt[i] = task.attempt;
    this.taskId[i] = task.id;
    this.capability[i] = task.capability;
    this.agentId[i] = eventAgentId(task);
    this.cause[i] = cause;
    this.error[i] = eventError(task);
    this.brokerId[i] = brokerId;
    this.trace[i] = task.trace;
    this.appended(at);
  }

  /** The next slot (the oldest goes when the ring is full), with its position in stream `key` of `streams`. */
  private slot(streams: Map<string, number>, key: string, at: number): number {
    const streamPosition = (streams.get(key) ?? 0) + 1;
    streams.set(key, streamPosition);
    if (this.size === this.capacity) {
      if (this.capacity < this.max) this.resize(Math.min(this.max, this.capacity * 2));
      else this.evictOldest();
    }
    const i = (this.start_ + this.size) % this.capacity;
    this.at[i] = at;
    this.streamPos[i] = streamPosition;
    this.size++;
    this.position++;
    return i;
  }

  private appended(at: number): void {
    if (this.retentionMs > 0) this.prune(at - this.retentionMs);
    for (const l of this.listeners) l();
  }

  /** The stream counter of the event in slot `i`. */
  private counterAt(i: number): [Map<string, number>, string] {
    return this.typeCode[i] === OTHER ? this.counter(this.other[i]!) : [this.tasks, this.taskId[i]!];
  }

  /** The event in slot `i`, as the bus made it (a task transition: as taskEvent() makes it). */
  private eventAt(i: number): BusEvent {
    const code = this.typeCode[i]!;
    if (code === OTHER) return this.other[i]!;
    return {
      type: TASK_EVENTS[code]!,
      at: this.at[i]!,
      broker_id: this.brokerId[i]!,
      task_id: this.taskId[i]!,
      capability: this.capability[i]!,
      state: TASK_STATES[this.stateCode[i]!]!,
      attempt: this.attempt[i]!,
      agent_id: this.agentId[i],
      cause: this.cause[i],
      error: this.error[i],
      traceparent: this.trace[i]?.traceparent,
      tracestate: this.trace[i]?.tracestate,
    } satisfies TaskEvent;
  }

  /** Drops the events recorded before `before` (epoch ms), oldest first. */
  private prune(before: number): void {
    while (this.size > 1 && this.at[this.start_]! < before) this.evictOldest();
  }

  private evictOldest(): void {
    const i = this.start_;
    // Its stream's last event leaves: the stream has none left here, forget its counter.
    const [streams, key] = this.counterAt(i);
    if (streams.get(key) === this.streamPos[i]) streams.delete(key);
    // References only: what they point at may go once no slot holds it.
    this.other[i] = undefined;
    this.taskId[i] = undefined;
    this.agentId[i] = undefined;
    this.cause[i] = undefined;
    this.error[i] = undefined;
    this.trace[i] = undefined;
    this.start_ = (i + 1) % this.capacity;
    this.size--;
  }

  /** The stream counter an event counts in: its task's, its agent's (direct messages: the target's), or its request's or topic's. */
  private counter(data: BusEvent): [Map<string, number>, string] {
    if ("run_id" in data) return [this.others, streamOf(data)];
    if ("task_id" in data) return [this.tasks, data.task_id];
    if ("status" in data) return [this.agents, data.agent_id];
    if ("pool" in data) return [this.others, streamOf(data)];
    if (data.request_id === undefined && data.topic === undefined) return [this.agents, data.to ?? data.from];
    return [this.others, streamOf(data)];
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
      const first = this.position - this.size + 1;
      const i = after < first ? 0 : after - first + 1;
      if (i >= this.size) return;
      const slot = (this.start_ + i) % this.capacity;
      const position = first + i;
      const streamPosition = this.streamPos[slot]!;
      after = position;
      const data = this.eventAt(slot);
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
      if (payloadBytes === 0 && store.appendTask !== undefined) {
        store.appendTask(brokerId, type, task, at, cause);
        return;
      }
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
    pool: (event) => store.append(event),
    workflow: (event) => store.append(event),
  });
}

/** typeCode of a slot that keeps the bus's event object (agent and message events, task events with payloads). */
const OTHER = 255;
/** Slots a ring starts with before it grows toward --events-max. */
const INITIAL_CAPACITY = 4_096;
const column = <T>(n: number): (T | undefined)[] => new Array<T | undefined>(n).fill(undefined);
const TASK_EVENT_CODE = Object.fromEntries(TASK_EVENTS.map((t, i) => [t, i])) as Record<TaskEventType, number>;
const TASK_STATE_CODE = Object.fromEntries(TASK_STATES.map((t, i) => [t, i])) as Record<TaskState, number>;

