/**
 * `GET /v1/stats` [HTTP-19]: the figures an overview shows, read from what the broker keeps already —
 * the metrics registry (counters, the latency histogram, the gauges' sources) and the registry of
 * agents — so there is no second copy of any counter. Rates and percentiles over a window are the
 * reader's: it takes the difference of two snapshots (the dashboard does, once a second).
 */
import type { AgentInfo } from "@agentwire/wire";
import type { BrokerCore } from "../core.js";
import type { EventStore, EventStoreHealth } from "../event-store.js";
import type { Metrics } from "../metrics.js";
import type { Session } from "../session.js";

export interface StatsSources {
  core: BrokerCore;
  metrics: Metrics;
  eventStore: EventStore | undefined;
  /** This broker's sessions, for when each agent was last heard from. */
  sessions: ReadonlySet<Session>;
  startedAt: number;
}

/** A cumulative histogram: `counts[i]` observations ≤ `le[i]` seconds; the last bound, +Inf, is null (JSON has no Infinity). */
export interface HistogramSnapshot {
  le: (number | null)[];
  counts: number[];
  count: number;
  sum: number;
}

export interface Stats {
  broker_id: string;
  at: number;
  started_at: number;
  /** This broker and the others whose agents it lists (a mesh), with their agents' count. */
  brokers: { broker_id: string; self: boolean; agents: number }[];
  agents: { total: number; by_status: Record<string, number> };
  connections: number;
  tasks: { submitted_total: number; ended_total: Record<string, number>; by_state: Record<string, number> };
  /** Acceptance to result (`agentwire_task_latency_seconds`). */
  latency: HistogramSnapshot;
  /** Acceptance to dispatch of each attempt (`agentwire_dispatch_latency_seconds`). */
  dispatch_latency: HistogramSnapshot;
  /** Queued tasks per capability, deepest first. */
  queues: { capability: string; depth: number }[];
  events: EventStoreHealth | null;
  /** When each of this broker's agents was last heard from (any frame, heartbeats included), Unix ms by agent id. */
  last_seen: Record<string, number>;
}

export async function readStats(src: StatsSources): Promise<Stats> {
  const { core, metrics } = src;
  const brokerId = core.state.brokerId;
  const agents = core.query({});
  return {
    broker_id: brokerId,
    at: Date.now(),
    started_at: src.startedAt,
    brokers: brokersOf(brokerId, agents),
    agents: { total: agents.length, by_status: countBy(agents, (a) => a.status) },
    connections: single(await values(metrics, "agentwire_connections")),
    tasks: {
      submitted_total: single(await values(metrics, "agentwire_tasks_submitted_total")),
      ended_total: byLabel(await values(metrics, "agentwire_tasks_ended_total"), "outcome"),
      by_state: byLabel(await values(metrics, "agentwire_tasks"), "state"),
    },
    latency: histogram(await values(metrics, "agentwire_task_latency_seconds")),
    dispatch_latency: histogram(await values(metrics, "agentwire_dispatch_latency_seconds")),
    queues: Object.entries(byLabel(await values(metrics, "agentwire_queue_depth"), "capability"))
      .map(([capability, depth]) => ({ capability, depth }))
      .sort((a, b) => b.depth - a.depth || a.capability.localeCompare(b.capability)),
    events: src.eventStore?.health() ?? null,
    last_seen: lastSeen(src.sessions),
  };
}

function lastSeen(sessions: ReadonlySet<Session>): Record<string, number> {
  const seen: Record<string, number> = {};
  for (const s of sessions) if (s.isAgent && s.state !== "closed") seen[s.agentId] = s.lastSeen;
  return seen;
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

async function values(metrics: Metrics, name: string): Promise<Sample[]> {
  const metric = metrics.registry.getSingleMetric(name);
  return metric === undefined ? [] : ((await metric.get()).values as Sample[]);
}

const single = (samples: Sample[]): number => samples[0]?.value ?? 0;

function byLabel(samples: Sample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const key = s.labels[label];
    if (key !== undefined) out[String(key)] = s.value;
  }
  return out;
}

function histogram(samples: Sample[]): HistogramSnapshot {
  const h: HistogramSnapshot = { le: [], counts: [], count: 0, sum: 0 };
  for (const s of samples) {
    if (s.metricName?.endsWith("_bucket") === true) {
      h.le.push(s.labels.le === "+Inf" ? null : Number(s.labels.le));
      h.counts.push(s.value);
    } else if (s.metricName?.endsWith("_sum") === true) h.sum = s.value;
    else if (s.metricName?.endsWith("_count") === true) h.count = s.value;
  }
  return h;
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function brokersOf(self: string, agents: readonly AgentInfo[]): Stats["brokers"] {
  const count = new Map<string, number>([[self, 0]]);
  for (const a of agents) count.set(a.broker_id, (count.get(a.broker_id) ?? 0) + 1);
  return [...count].map(([broker_id, n]) => ({ broker_id, self: broker_id === self, agents: n })).sort((a, b) => Number(b.self) - Number(a.self) || a.broker_id.localeCompare(b.broker_id));
}
