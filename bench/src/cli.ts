/**
 * `pnpm bench [--full] [--payload 100|4096] [--inflight 1,256] [--scenarios a,b] [--duration ms]
 *  [--heap-tasks n | --no-heap] [--heap-events off,memory,pg] [--scale-agents n | --no-scale] [--repeat n] [--cpu-prof dir]
 *  [--check [results.ndjson]]`
 * Progress on stderr, the Markdown table on stdout; Markdown + NDJSON under bench/results/.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { postgresBinDir } from "@agentwire/testkit";
import { ROOT, closedLoop, killChildren, log, profiling, type LoadOptions, type LoadResult } from "./harness.js";
import { measureEnded, measureHeap, type EndedResult, type HeapResult } from "./heap.js";
import { EVENTS_MODES, eventsLabel, variantName, type EventsMode } from "./event-stores.js";
import { measureScale, type ScaleResult } from "./scale.js";
import type { Scenario } from "./scenario.js";
import { relay } from "./scenarios/relay.js";
import { agentwireMemoryStores } from "./scenarios/agentwire-memory.js";
import { agentwireMemoryDashboard } from "./scenarios/agentwire-memory-dashboard.js";
import { agentwireRaw } from "./scenarios/agentwire-raw.js";
import { http } from "./scenarios/http.js";
import { nats, NATS_SERVER } from "./scenarios/nats.js";
import { socketio } from "./scenarios/socketio.js";
import { meshBaseline } from "./scenarios/mesh-baseline.js";
import { agentwireMeshStores, agentwireMeshRaw } from "./scenarios/agentwire-mesh.js";
import { bullmq } from "./scenarios/bullmq.js";
import { seedBrpop } from "./scenarios/seed-brpop.js";
import { checkReport, checkTargets } from "./targets.js";

/**
 * Run order: in-memory and peer scenarios, then the Redis ones; ratio columns key on scenario names.
 * The event store variants (optional: run when named) sit next to the scenario they vary.
 */
const SCENARIOS: Scenario[] = [relay, ...agentwireMemoryStores, agentwireMemoryDashboard, agentwireRaw, http, nats, socketio, meshBaseline, ...agentwireMeshStores, agentwireMeshRaw, bullmq, seedBrpop];
/** Rows compared with the zero-logic mesh baseline as well as with the relay. */
const MESH = new Set([meshBaseline.name, ...agentwireMeshStores.map((s) => s.name), agentwireMeshRaw.name]);
/** The stores the in-flight heap figure is measured with (pg-durable keeps the same buffer; its submits would be refused while the server is frozen). */
const HEAP_STORES: EventsMode[] = ["off", "memory", "pg"];
/** The default run: every scenario but the optional ones. */
const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => s.optional !== true).map((s) => s.name);

interface Args {
  full: boolean;
  payload: number;
  inflight: number[];
  scenarios: string[];
  durationMs: number;
  heapTasks: number;
  /** The event stores the in-flight heap figure is measured with, each on its own broker. */
  heapEvents: EventsMode[];
  scaleAgents: number;
  repeat: number;
  /** --check: compare the run with the targets (src/targets.ts); with a file, that saved run instead of a new one. */
  check: boolean;
  checkFile?: string;
}

function usage(): string {
  const optional = SCENARIOS.filter((s) => s.optional === true).map((s) => s.name);
  return `usage: pnpm bench [--full] [--payload 100|4096] [--inflight 1,256] [--scenarios ${DEFAULT_SCENARIOS.join(",")}; only when named: ${optional.join(",")}] [--duration ms] [--heap-tasks n | --no-heap] [--heap-events ${HEAP_STORES.join(",")}] [--scale-agents n | --no-scale] [--repeat n] [--cpu-prof dir] [--check [results.ndjson]]`;
}

function parseArgs(argv: string[]): Args {
  const full = argv.includes("--full");
  const a: Args = {
    full,
    payload: 100,
    inflight: full ? [1, 16, 64, 256, 1024] : [1, 256],
    scenarios: DEFAULT_SCENARIOS,
    durationMs: full ? 15_000 : 4_000,
    heapTasks: 100_000,
    heapEvents: HEAP_STORES,
    scaleAgents: 10_000,
    repeat: 1,
    check: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg}: missing value\n${usage()}`);
      return v;
    };
    switch (arg) {
      case "--full":
        break;
      case "--payload":
        a.payload = Number(value());
        break;
      case "--inflight":
        a.inflight = value().split(",").map(Number);
        break;
      case "--scenarios":
        a.scenarios = value().split(",");
        break;
      case "--duration":
        a.durationMs = Number(value());
        break;
      case "--repeat":
        a.repeat = Number(value());
        break;
      case "--heap-tasks":
        a.heapTasks = Number(value());
        break;
      case "--cpu-prof":
        profiling.dir = value();
        break;
      case "--heap-events":
        a.heapEvents = value().split(",") as EventsMode[];
        break;
      case "--no-heap":
        a.heapTasks = 0;
        break;
      case "--scale-agents":
        a.scaleAgents = Number(value());
        break;
      case "--no-scale":
        a.scaleAgents = 0;
        break;
      case "--check":
        a.check = true;
        if (argv[i + 1]?.endsWith(".ndjson") === true) a.checkFile = argv[++i];
        break;
      case "--help":
      case "-h":
        process.stdout.write(`${usage()}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${String(arg)}\n${usage()}`);
    }
  }
  const bad = a.scenarios.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (bad.length > 0) throw new Error(`unknown scenario(s) ${bad.join(",")}\n${usage()}`);
  if (a.heapEvents.length === 0 || a.heapEvents.some((m) => !HEAP_STORES.includes(m))) throw new Error(`--heap-events: one or more of ${HEAP_STORES.join(",")}\n${usage()}`);
  if (!Number.isInteger(a.payload) || a.payload < 1 || a.payload > 1 << 20) throw new Error("--payload: 1..1048576 bytes");
  if (a.inflight.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000)) throw new Error("--inflight: integers 1..10000");
  if (!Number.isInteger(a.scaleAgents) || a.scaleAgents < 0 || a.scaleAgents > 15_000) throw new Error("--scale-agents: 0..15000 (fd limit)");
  if (!Number.isInteger(a.repeat) || a.repeat < 1 || a.repeat > 9) throw new Error("--repeat: 1..9");
  if (!(a.durationMs >= 500 && a.durationMs <= 600_000)) throw new Error("--duration: 500..600000 ms");
  return a;
}

interface Row extends LoadResult {
  kind: "row";
  scenario: string;
  inflight: number;
  payload_bytes: number;
  /** With --repeat: tasks/s of every round; the row's figures are those of the median round. */
  rounds?: number[];
  extra?: Record<string, unknown>;
  setupError?: string;
}

function version(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { version?: string }).version ?? "?";
  } catch {
    return "?";
  }
}

function tool(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 5000 }).trim().split("\n")[0] ?? "";
  } catch {
    return "unavailable";
  }
}

function meta(args: Args, argv: string[]): Record<string, unknown> {
  const nm = join(ROOT, "bench", "node_modules");
  const pkgs = ["ws", "msgpackr", "nats", "socket.io", "socket.io-client", "bullmq", "ioredis", "autocannon", "hdr-histogram-js"];
  return {
    kind: "meta",
    date: new Date().toISOString(),
    command: `pnpm bench${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`,
    mode: args.full ? "full" : "quick",
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "?", memory_bytes: totalmem(), platform: `${process.platform} ${process.arch}` },
    node: process.version,
    versions: {
      "@agentwire/broker": version(join(ROOT, "broker", "package.json")),
      "@agentwire/sdk": version(join(ROOT, "sdk", "package.json")),
      "@agentwire/wire": version(join(ROOT, "packages", "wire", "package.json")),
      ...Object.fromEntries(pkgs.map((p) => [p, version(join(nm, p, "package.json"))])),
      "nats-server": tool(NATS_SERVER, ["--version"]),
      "redis-server": tool(process.env["AGENTWIRE_REDIS_SERVER"] ?? "/usr/bin/redis-server", ["--version"]),
      pg: version(join(ROOT, "broker", "node_modules", "pg", "package.json")),
      postgres: (() => {
        try {
          return tool(join(postgresBinDir(), "postgres"), ["--version"]);
        } catch {
          return "unavailable";
        }
      })(),
    },
    payload_bytes: args.payload,
    inflight: args.inflight,
    duration_ms: args.durationMs,
  };
}

const f = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const ms = (n: number): string => (!Number.isFinite(n) ? "–" : n === 0 ? "<1" : n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 && a > 0 ? `${(a / b).toFixed(2)}×` : "–";

const show = (v: unknown): string =>
  typeof v === "object" && v !== null ? Object.entries(v).map(([k, x]) => `${k}${typeof x === "object" ? ": " : " "}${show(x)}`).join(", ") : String(v);

/** One row per scenario and level: the round with the median tasks/s (failed rounds count as 0). */
function medianRows(all: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of all) {
    const key = `${r.scenario}\0${r.inflight}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [r]);
    else g.push(r);
  }
  return [...groups.values()].map((g) => {
    if (g.length === 1) return g[0]!;
    const rate = (r: Row): number => (r.tasks > 0 && Number.isFinite(r.tasksPerSec) ? r.tasksPerSec : 0);
    const sorted = [...g].sort((a, b) => rate(a) - rate(b));
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, rounds: g.map(rate) };
  });
}

function table(rows: Row[]): string {
  const find = (name: string, inflight: number): Row | undefined => rows.find((r) => r.scenario === name && r.inflight === inflight && r.tasks > 0);
  const head =
    "| scenario | in flight | tasks/s | p50 ms | p99 ms | p99.9 ms | CPU µs/task (per process) | tput × relay | p50 × relay | p99 × relay | tput × mesh baseline | p50 × mesh baseline | tput × BullMQ | p50 × BullMQ | errors | other CPU % |\n" +
    "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|";
  const lines = rows.map((r) => {
    const base = find("relay", r.inflight);
    const mesh = MESH.has(r.scenario) ? find(meshBaseline.name, r.inflight) : undefined;
    const bull = find("bullmq", r.inflight);
    const cpu = Object.entries(r.cpuUsPerTask)
      .map(([k, v]) => `${k} ${f(v)}`)
      .join(" · ");
    const err = r.setupError !== undefined ? `setup failed: ${r.setupError.slice(0, 80)}` : r.stalled ? `${r.errors} (stalled)` : String(r.errors);
    return `| ${r.scenario} | ${r.inflight} | ${f(r.tasksPerSec)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.p999Ms)} | ${cpu} | ${ratio(r.tasksPerSec, base?.tasksPerSec)} | ${ratio(r.p50Ms, base?.p50Ms)} | ${ratio(r.p99Ms, base?.p99Ms)} | ${ratio(r.tasksPerSec, mesh?.tasksPerSec)} | ${ratio(r.p50Ms, mesh?.p50Ms)} | ${ratio(r.tasksPerSec, bull?.tasksPerSec)} | ${ratio(r.p50Ms, bull?.p50Ms)} | ${err} | ${f(r.otherCpuPercent ?? NaN)} |`;
  });
  const extras = rows.filter((r) => r.extra !== undefined).map((r) => `- ${r.scenario} @ ${r.inflight} in flight: ${show(r.extra)}`);
  return [head, ...lines, ...(extras.length > 0 ? ["", "Extra figures:", ...extras] : [])].join("\n");
}

/**
 * Event store cost: every event store variant's row against the row of the same family with events off
 * (`--events-max 0`), level by level, in the same run. CPU is the sum over the metered processes
 * (PostgreSQL's postmaster and backends included); dropped events are counted since the brokers started.
 */
function eventsTable(rows: Row[]): string {
  const variants = new Map(SCENARIOS.filter((s) => s.events !== undefined).map((s) => [s.name, s.events!]));
  const order = (r: Row): number => EVENTS_MODES.findIndex((m) => m.mode === variants.get(r.scenario)?.mode);
  const cpu = (r: Row): number => Object.values(r.cpuUsPerTask).reduce((a, b) => a + b, 0);
  const dropped = (r: Row): string => {
    const stores = (r.extra?.["events"] ?? {}) as Record<string, { dropped?: number }>;
    const counts = Object.values(stores).map((x) => x.dropped ?? NaN);
    return counts.length === 0 ? "–" : f(counts.reduce((a, b) => a + b, 0));
  };
  const lines = rows
    .filter((r) => variants.has(r.scenario) && variants.get(r.scenario)!.mode !== "off")
    .sort((a, b) => variants.get(a.scenario)!.family.localeCompare(variants.get(b.scenario)!.family) || a.inflight - b.inflight || order(a) - order(b))
    .flatMap((r) => {
      const v = variants.get(r.scenario)!;
      const off = rows.find((o) => o.scenario === variantName(v.family, "off") && o.inflight === r.inflight && o.tasks > 0);
      if (off === undefined) return [];
      return [`| ${v.family} | ${eventsLabel(v.mode)} | ${r.inflight} | ${f(r.tasksPerSec)} | ${ratio(r.tasksPerSec, off.tasksPerSec)} | ${ms(r.p50Ms)} | ${ratio(r.p50Ms, off.p50Ms)} | ${ms(r.p99Ms)} | ${ratio(r.p99Ms, off.p99Ms)} | ${f(cpu(r))} | ${ratio(cpu(r), cpu(off))} | ${dropped(r)} | ${r.errors} | ${f(r.otherCpuPercent ?? NaN)} · ${f(off.otherCpuPercent ?? NaN)} |`];
    });
  if (lines.length === 0) return "";
  return [
    "Event store cost: each store against the same scenario with events off (`--events-max 0`) in this run (× events off):",
    "",
    "| scenario | event store | in flight | tasks/s | tput × events off | p50 ms | p50 × events off | p99 ms | p99 × events off | CPU µs/task (all processes) | CPU × events off | events dropped | errors | other CPU % (this · events off) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...lines,
  ].join("\n");
}

function heapLine(h: HeapResult | undefined, note: string | undefined, off?: HeapResult): string {
  if (h === undefined) return note !== undefined ? `Broker memory: ${note}` : "";
  const heap = h.heap_bytes_per_task === null ? "not exposed" : `${f(h.heap_bytes_per_task)} B/task`;
  const more = h !== off && off?.heap_bytes_per_task != null && h.heap_bytes_per_task !== null ? ` (${h.heap_bytes_per_task >= off.heap_bytes_per_task ? "+" : "−"}${f(Math.abs(h.heap_bytes_per_task - off.heap_bytes_per_task))} over events off)` : "";
  const buffer =
    h.events_buffered !== null
      ? `; the server was frozen while the tasks arrived: ${h.events_buffered} events then waited in the buffer${h.buffer_bytes_per_event === null ? "" : `, ${f(h.buffer_bytes_per_event)} B of heap each`}, all written once it was let go, before the heap above was read`
      : "";
  const store = h.events_written === null ? "" : ` Event store: ${h.events_written} events written, ${h.events_dropped ?? "–"} dropped${buffer}.`;
  return `Broker memory at ${h.tasks} tasks in flight, ${eventsLabel(h.events)} (${h.payload_bytes}-byte payload${h.held ? "" : ", NOT all held before the deadline"}): heap ${heap}${more}; RSS growth ${f(h.rss_bytes_per_task)} B/task (${f(h.rss_before / 2 ** 20, 1)} → ${f(h.rss_after / 2 ** 20, 1)} MiB). ${h.note}.${store}`;
}

function endedLine(e: EndedResult | undefined, note: string | undefined): string {
  if (e === undefined) return note !== undefined ? `Broker memory per retained ended task: ${note}` : "";
  const b = (n: number | null): string => (n === null ? "–" : f(n));
  const total = e.heap_bytes_per_task !== null && e.array_buffer_bytes_per_task !== null ? ` = ${f(e.heap_bytes_per_task + e.array_buffer_bytes_per_task)} B/task` : "";
  return `Broker memory per retained ended task (${e.completed} of ${e.tasks} tasks run to completion and kept, ${e.output_bytes}-byte outputs): heap ${b(e.heap_bytes_per_task)} B/task + ArrayBuffers ${b(e.array_buffer_bytes_per_task)} B/task${total}; RSS growth ${f(e.rss_bytes_per_task)} B/task; accounted against --max-ended-bytes ${b(e.accounted_bytes_per_task)} B/task. ${e.note}.`;
}

function scaleTable(s: ScaleResult | undefined, note: string | undefined): string {
  if (s === undefined) return note !== undefined ? `Broker at scale: ${note}` : "";
  const kb = (n: number | null): string => (n === null ? "–" : f(n / 1024, 1));
  return [
    `Broker with ${s.agents} raw-wire agents connected (${s.processes} generator processes), heartbeating every ${s.heartbeat_interval_ms} ms, measured over ${f(s.window_ms / 1000, 1)} s (connect + register took ${f(s.connect_ms / 1000, 1)} s):`,
    "",
    "| agents registered (after window) | evicted / closed | RSS KiB/agent (window end · after GC) | heap KiB/agent | broker CPU % | heartbeats/s | broker CPU µs/heartbeat | generator CPU % |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${s.registered} (${s.registered_after}) | ${s.evicted} / ${s.closed} | ${kb(s.rss_bytes_per_agent)} · ${kb(s.rss_bytes_per_agent_gc)} | ${kb(s.heap_bytes_per_agent)} | ${f(s.broker_cpu_percent, 1)} | ${f(s.heartbeats_per_sec)} | ${f(s.broker_cpu_us_per_heartbeat, 1)} | ${f(s.agents_cpu_percent, 1)} |`,
    "",
    `${s.note}.`,
  ].join("\n");
}

/**
 * One broker-memory figure after the load rows: measured when `start` (its progress line) is given,
 * else skipped (`flag` said so); a failure becomes the note printed in its place. Stops every child after.
 */
async function figure<T>(start: string | undefined, what: string, flag: string, measure: () => Promise<T>, line: (r: T) => string): Promise<{ result?: T; note?: string }> {
  if (start === undefined) return { note: `skipped (${flag})` };
  log(start);
  try {
    const result = await measure();
    log(line(result));
    return { result };
  } catch (err) {
    const note = `${what} failed: ${err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err)}`;
    log(note);
    return { note };
  } finally {
    killChildren();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  if (args.checkFile !== undefined) return checkSaved(args.checkFile);
  const started = Date.now();
  // The whole run stops by itself: quick mode within 5 minutes, full within an hour.
  const budgetMs = (args.full ? 3_600_000 : 300_000) * args.repeat;
  const watchdog = setTimeout(() => {
    log(`watchdog: ${budgetMs / 1000}s budget exhausted; stopping children and exiting`);
    killChildren();
    process.exit(3);
  }, budgetMs);
  watchdog.unref();
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      killChildren();
      process.exit(130);
    });
  const m = meta(args, argv);
  log(`${m["mode"] as string} run: payload ${args.payload} B, in flight ${args.inflight.join(",")}, ${args.durationMs} ms per level`);

  const all: Row[] = [];
  const maxInflight = Math.max(...args.inflight);
  // Rounds interleave the scenarios, so a machine that slows down mid-run weighs on all of them.
  for (let round = 1; round <= args.repeat; round++) {
    if (args.repeat > 1) log(`round ${round} of ${args.repeat}`);
    for (const scenario of SCENARIOS.filter((s) => args.scenarios.includes(s.name))) {
      log(`${scenario.name}: ${scenario.describe}`);
      let running;
      try {
        running = await scenario.setup({ payloadBytes: args.payload, maxInflight });
      } catch (err) {
        const msg = err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
        log(`${scenario.name}: setup failed: ${msg}`);
        killChildren();
        for (const inflight of args.inflight)
          all.push({ kind: "row", scenario: scenario.name, inflight, payload_bytes: args.payload, tasks: 0, errors: 1, elapsedMs: 0, tasksPerSec: NaN, p50Ms: NaN, p99Ms: NaN, p999Ms: NaN, maxMs: NaN, cpuUsPerTask: {}, stalled: false, setupError: msg });
        continue;
      }
      try {
        for (const inflight of args.inflight) {
          const o: LoadOptions = {
            inflight,
            durationMs: args.durationMs,
            maxTasks: args.full ? 5_000_000 : 1_000_000,
            warmupMs: args.full ? 3000 : 1000,
            warmupTasks: 200_000,
          };
          const r = running.drive !== undefined ? await running.drive(o) : await closedLoop(() => running.task(), running.meters, o);
          const extra = running.extra !== undefined ? await running.extra() : undefined;
          const row: Row = { kind: "row", scenario: scenario.name, inflight, payload_bytes: args.payload, ...r, ...(extra !== undefined ? { extra } : {}) };
          all.push(row);
          log(`${scenario.name} @${inflight}: ${f(r.tasksPerSec)} tasks/s, p50 ${ms(r.p50Ms)} ms, p99 ${ms(r.p99Ms)} ms${r.otherCpuPercent !== undefined ? `, other processes ${f(r.otherCpuPercent)}% CPU` : ""}${r.errors > 0 ? `, ${r.errors} errors (${r.firstError ?? ""})` : ""}${r.stalled ? " STALLED" : ""}`);
        }
      } finally {
        await Promise.race([running.close().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
        killChildren();
      }
    }
  }
  const rows = medianRows(all);

  const heaps: { result?: HeapResult; note?: string }[] = [];
  for (const events of args.heapEvents)
    heaps.push(
      await figure(args.heapTasks > 0 ? `heap: broker memory with ${args.heapTasks} tasks held in flight, ${eventsLabel(events)}` : undefined, `heap run (${eventsLabel(events)})`, "--no-heap",
        () => measureHeap(args.heapTasks, args.payload, 60_000, events), (h) => heapLine(h, undefined)),
    );
  const heapOff = heaps.find((h) => h.result?.events === "off")?.result;
  const { result: ended, note: endedNote } = await figure(args.heapTasks > 0 ? `ended: broker memory with ${args.heapTasks} ended tasks retained` : undefined, "run", "--no-heap",
    () => measureEnded(args.heapTasks, args.payload, 120_000), (e) => endedLine(e, undefined));
  const { result: scale, note: scaleNote } = await figure(args.scaleAgents > 0 ? `scale: ${args.scaleAgents} agents connected and heartbeating` : undefined, "scale run", "--no-scale",
    () => measureScale(args.scaleAgents),
    (sc) => `scale: ${f(sc.rss_bytes_per_agent)} B RSS/agent, ${f(sc.broker_cpu_percent, 1)}% broker CPU, ${f(sc.broker_cpu_us_per_heartbeat, 1)} µs/heartbeat`);

  const md = [
    `## agentwire bench — ${m["mode"] as string}, ${args.payload}-byte payload`,
    "",
    `Machine: ${(m["machine"] as { cpus: number }).cpus} × ${(m["machine"] as { model: string }).model}, ${f(totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}. Command: \`${m["command"] as string}\`. Each level: ${args.durationMs / 1000} s measured after a warm-up${args.repeat > 1 ? `, median of ${args.repeat} rounds (by tasks/s; scenarios interleaved)` : ""}; client in the bench process, middle tier and worker in one child each. Other CPU %: what processes outside the scenario used while a level was measured, in % of all cores (/proc/stat less the metered processes): figures taken while it is high are not the scenario's alone.`,
    "",
    table(rows),
    "",
    eventsTable(rows),
    "",
    heaps.map((h) => heapLine(h.result, h.note, heapOff)).filter((l, i, all) => l !== "" && all.indexOf(l) === i).join("\n\n"),
    "",
    endedLine(ended, endedNote),
    "",
    scaleTable(scale, scaleNote),
    "",
  ].join("\n");
  const check = args.check ? checkTargets(rows, heaps.flatMap((h) => (h.result !== undefined ? [h.result] : [])), scale) : undefined;
  const report = check !== undefined ? `\n${checkReport(check)}\n` : "";
  process.stdout.write(`${md}\n${report}`);

  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const ndjson = [m, ...rows, ...heaps.flatMap((h) => (h.result !== undefined ? [h.result] : [])), ...(ended !== undefined ? [ended] : []), ...(scale !== undefined ? [scale] : [])].map((x) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))).join("\n");
  writeFileSync(join(dir, `bench-${stamp}.ndjson`), `${ndjson}\n`);
  writeFileSync(join(dir, `bench-${stamp}.md`), `${md}\n${report}\n\`\`\`json\n${JSON.stringify(m, null, 2)}\n\`\`\`\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; results in bench/results/bench-${stamp}.{md,ndjson}`);
  clearTimeout(watchdog);
  process.exit(check?.some((t) => t.met === false) === true ? 4 : 0);
}

/** `--check results.ndjson`: the targets against a saved run (its rows, heap and scale lines). */
function checkSaved(file: string): void {
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { kind?: string });
  const rows = lines.filter((l): l is Row => l.kind === "row");
  const heaps = lines.filter((l): l is HeapResult => l.kind === "heap");
  const scale = lines.find((l): l is ScaleResult => l.kind === "scale");
  const machine = (lines[0] as { machine?: { cpus?: number; model?: string } }).machine;
  const results = checkTargets(rows, heaps, scale);
  process.stdout.write(`${file}${machine !== undefined ? ` (${machine.cpus ?? "?"} × ${machine.model ?? "?"})` : ""}\n\n${checkReport(results)}\n`);
  process.exit(results.some((t) => t.met === false) ? 4 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  killChildren();
  process.exit(1);
});
