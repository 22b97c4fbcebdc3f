/**
 * The hot path's targets, each a ratio between rows of one run (bench/README "Targets"), and the check
 * `pnpm bench --check` (or `--check results.ndjson` for a saved run) prints: every target with what
 * was measured, and those that fall short. Nothing here times anything in CI: it reads a run's rows.
 */

/** What a check needs of a run's rows. */
export interface RowFigures {
  scenario: string;
  inflight: number;
  tasks: number;
  tasksPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerTask: Record<string, number>;
  extra?: Record<string, unknown>;
}

export interface HeapFigures {
  events: string;
  heap_bytes_per_task: number | null;
}

export interface ScaleFigures {
  agents: number;
  registered: number;
  registered_after: number;
  evicted: number;
}

export interface TargetResult {
  target: string;
  measured: string;
  /** undefined: the run has no figure for it (scenario or level not run). */
  met: boolean | undefined;
}

type Find = (scenario: string, inflight: number) => RowFigures | undefined;
const cpuTotal = (r: RowFigures): number => Object.values(r.cpuUsPerTask).reduce((a, b) => a + b, 0);
const x = (v: number): string => `${v.toFixed(2)}×`;

interface Ratio {
  target: string;
  of: [string, number];
  against: [string, number];
  figure: (r: RowFigures) => number;
  /** "min": ratio ≥ bound; "max": ratio ≤ bound. */
  kind: "min" | "max";
  bound: number;
}

const RATIOS: Ratio[] = [
  { target: "in-memory @256: tasks/s ≥ 0.6 × relay", of: ["agentwire-memory", 256], against: ["relay", 256], figure: (r) => r.tasksPerSec, kind: "min", bound: 0.6 },
  { target: "in-memory @256: CPU per task (all processes) ≤ 1.8 × relay", of: ["agentwire-memory", 256], against: ["relay", 256], figure: cpuTotal, kind: "max", bound: 1.8 },
  { target: "in-memory @1: p50 ≤ 1.5 × relay", of: ["agentwire-memory", 1], against: ["relay", 1], figure: (r) => r.p50Ms, kind: "max", bound: 1.5 },
  { target: "in-memory @1: p99 ≤ 2 × relay", of: ["agentwire-memory", 1], against: ["relay", 1], figure: (r) => r.p99Ms, kind: "max", bound: 2 },
  { target: "mesh @256: tasks/s ≥ 0.8 × mesh baseline", of: ["agentwire-mesh", 256], against: ["mesh-baseline", 256], figure: (r) => r.tasksPerSec, kind: "min", bound: 0.8 },
  { target: "mesh @256: tasks/s ≥ 3 × BullMQ", of: ["agentwire-mesh", 256], against: ["bullmq", 256], figure: (r) => r.tasksPerSec, kind: "min", bound: 3 },
  { target: "mesh @1: p50 ≤ 1.3 × mesh baseline", of: ["agentwire-mesh", 1], against: ["mesh-baseline", 1], figure: (r) => r.p50Ms, kind: "max", bound: 1.3 },
  { target: "mesh @1: p50 ≤ BullMQ's", of: ["agentwire-mesh", 1], against: ["bullmq", 1], figure: (r) => r.p50Ms, kind: "max", bound: 1 },
];

/** The heap per in-flight task with events off is the broker's own per-task state. */
const HEAP_MAX_BYTES = 500;
/** bench/README: a broker holds 10,000 heartbeating agents. */
const SCALE_AGENTS = 10_000;

export function checkTargets(rows: RowFigures[], heaps: HeapFigures[], scale: ScaleFigures | undefined): TargetResult[] {
  const find: Find = (scenario, inflight) => rows.find((r) => r.scenario === scenario && r.inflight === inflight && r.tasks > 0);
  const out: TargetResult[] = RATIOS.map((t) => {
    const a = find(...t.of);
    const b = find(...t.against);
    if (a === undefined || b === undefined) return { target: t.target, measured: `not measured (${a === undefined ? t.of.join(" @") : t.against.join(" @")} missing)`, met: undefined };
    const ratio = t.figure(a) / t.figure(b);
    return { target: t.target, measured: `${x(ratio)} (${t.figure(a).toPrecision(4)} against ${t.figure(b).toPrecision(4)})`, met: t.kind === "min" ? ratio >= t.bound : ratio <= t.bound };
  });
  const heap = heaps.find((h) => h.events === "off")?.heap_bytes_per_task;
  out.push({ target: `heap per in-flight task (events off) ≤ ${HEAP_MAX_BYTES} B`, measured: heap == null ? "not measured (--no-heap)" : `${Math.round(heap)} B`, met: heap == null ? undefined : heap <= HEAP_MAX_BYTES });
  const conns = rows.filter((r) => r.scenario === "agentwire-mesh" && r.extra?.["redis_connections"] !== undefined).map((r) => JSON.stringify(Object.entries(r.extra!["redis_connections"] as Record<string, number>).sort(([a], [b]) => a.localeCompare(b))));
  out.push({ target: "mesh: Redis connections per broker the same at every level", measured: conns.length === 0 ? "not measured" : [...new Set(conns)].join(" / "), met: conns.length === 0 ? undefined : new Set(conns).size === 1 });
  out.push(
    scale === undefined
      ? { target: `${SCALE_AGENTS} agents held`, measured: "not measured (--no-scale)", met: undefined }
      : { target: `${SCALE_AGENTS} agents held`, measured: `${scale.registered_after} of ${scale.agents} registered after the window, ${scale.evicted} evicted`, met: scale.agents >= SCALE_AGENTS && scale.registered_after === scale.agents && scale.evicted === 0 },
  );
  return out;
}

export function checkReport(results: TargetResult[]): string {
  const mark = (m: boolean | undefined): string => (m === undefined ? "not measured" : m ? "met" : "**missed**");
  const lines = ["Targets (`--check`):", "", "| target | measured | |", "|---|---|---|", ...results.map((r) => `| ${r.target} | ${r.measured} | ${mark(r.met)} |`)];
  const short = results.filter((r) => r.met === false);
  lines.push("", short.length === 0 ? "No measured target falls short." : `Falls short: ${short.map((r) => r.target).join("; ")}.`);
  return lines.join("\n");
}
