/** Prometheus metrics in a registry of this broker's own (two brokers in one process do not mix). */
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from "prom-client";
import { TASK_STATES, type TaskState } from "@agentwire/wire";
import type { MeshStats } from "./backend.js";
import type { EventStoreHealth } from "./event-store.js";
import type { EventBus } from "./events.js";
import { createdAt } from "./tasks/task-table.js";

export interface MetricSources {
  connections(): number;
  agentsByStatus(): Record<string, number>;
  tasksByState(): Record<string, number>;
  queueDepths(): Iterable<[string, number]>;
  /** Ended tasks kept (for GET /v1/tasks/:id and idempotency keys) and their estimated bytes. */
  retention(): { tasks: number; bytes: number };
  /** Mesh figures; undefined for a single broker (then no mesh metrics are registered). */
  mesh(): MeshStats | undefined;
  /** The event store's figures; undefined with none. */
  events(): EventStoreHealth | undefined;
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new PromRegistry();
  private readonly tasksSubmitted: Counter;
  /** Per end state, label children resolved once (no label hashing per task). */
  private readonly tasksEnded: Readonly<Record<TaskState, { inc(): void }>>;
  private readonly dispatchLatency: Histogram;
  private readonly endToEndLatency: Histogram;
  private readonly errors: Counter<"code">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    // Process CPU, memory, heap and event-loop lag, for operators and for bench/ heap figures.
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "agentwire_connections",
      help: "Open WebSocket sessions.",
      registers,
      collect() {
        this.set(sources.connections());
      },
    });
    new Gauge({
      name: "agentwire_agents",
      help: "Registered agents by status.",
      labelNames: ["status"],
      registers,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(sources.agentsByStatus())) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "agentwire_tasks",
      help: "Known tasks by state (ended ones until they expire).",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sources.tasksByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "agentwire_queue_depth",
      help: "Queued tasks per capability.",
      labelNames: ["capability"],
      registers,
      collect() {
        this.reset();
        for (const [capability, n] of sources.queueDepths()) this.set({ capability }, n);
      },
    });
    new Gauge({
      name: "agentwire_ended_tasks_retained",
      help: "Ended tasks kept for their results and idempotency keys (bounded by --result-ttl-ms, --max-ended-tasks, --max-ended-bytes).",
      registers,
      collect() {
        this.set(sources.retention().tasks);
      },
    });
    new Gauge({
      name: "agentwire_ended_tasks_retained_bytes",
      help: "Estimated bytes of the ended tasks kept (record + output + error), the figure --max-ended-bytes bounds.",
      registers,
      collect() {
        this.set(sources.retention().bytes);
      },
    });
    // Figures read from a source when scraped: a gauge is set to them, a counter to their running total.
    const sampled = <S>(source: () => S | undefined) => ({
      gauge(name: string, help: string, pick: (s: S) => number): void {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const s = source();
            if (s !== undefined) this.set(pick(s));
          },
        });
      },
      counter(name: string, help: string, pick: (s: S) => number): void {
        new Counter({
          name,
          help,
          registers,
          collect() {
            const s = source();
            if (s === undefined) return;
            this.reset();
            this.inc(pick(s));
          },
        });
      },
    });
    if (sources.mesh() !== undefined) {
      const { gauge, counter } = sampled(() => sources.mesh());
      gauge("agentwire_mesh_task_stream_length", "Entries in this broker's Redis task stream (unread + processing).", (s) => s.streamLength);
      gauge("agentwire_mesh_processing", "Pending entries of this broker's task stream (its processing list).", (s) => s.pending);
      gauge("agentwire_mesh_ready_length", "Entries waiting in this broker's ready list.", (s) => s.readyLength);
      gauge("agentwire_mesh_response_keys", "Response keys under this broker's hash tag (as of the last sweep).", (s) => s.responseKeys);
      counter("agentwire_mesh_reclaimed_tasks_total", "Tasks reclaimed from dead brokers' processing lists.", (s) => s.reclaimed);
      counter("agentwire_mesh_swept_keys_total", "Orphaned keys of dead brokers removed by the sweep.", (s) => s.swept);
    }
    if (sources.events() !== undefined) {
      const { gauge, counter } = sampled(() => sources.events());
      counter("agentwire_events_written_total", "Events the event store wrote.", (h) => h.written);
      counter("agentwire_events_dropped_total", "Events dropped because the event store's buffer was full (database down or slow).", (h) => h.dropped);
      gauge("agentwire_events_buffered", "Events waiting to be written to the event store.", (h) => h.buffered);
      gauge("agentwire_events_store_up", "1 while the event store writes, 0 while it cannot.", (h) => (h.ok ? 1 : 0));
    }
    this.tasksSubmitted = new Counter({ name: "agentwire_tasks_submitted_total", help: "Tasks accepted.", registers });
    const ended = new Counter({ name: "agentwire_tasks_ended_total", help: "Tasks ended by outcome.", labelNames: ["outcome"], registers });
    this.tasksEnded = Object.fromEntries(TASK_STATES.map((s) => [s, ended.labels(s)])) as Record<TaskState, { inc(): void }>;
    this.dispatchLatency = new Histogram({
      name: "agentwire_dispatch_latency_seconds",
      help: "Acceptance to dispatch of each attempt.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.endToEndLatency = new Histogram({
      name: "agentwire_task_latency_seconds",
      help: "Acceptance to result.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({ name: "agentwire_errors_total", help: "Error frames and responses sent, by code.", labelNames: ["code"], registers });
  }

  /** Task figures come from the event bus: counted where the transitions happen, and nowhere else. */
  listen(events: EventBus): void {
    events.on({
      task: (type, task, at) => {
        if (type === "task.submitted") this.tasksSubmitted.inc();
        else if (type === "task.dispatched") this.dispatchLatency.observe((at - createdAt(task)) / 1000);
        else if (type === "task.succeeded" || type === "task.failed" || type === "task.cancelled" || type === "task.deadline_exceeded") {
          this.tasksEnded[task.state].inc();
          this.endToEndLatency.observe((at - createdAt(task)) / 1000);
        }
      },
    });
  }

  error(code: string): void {
    this.errors.inc({ code });
  }
}
