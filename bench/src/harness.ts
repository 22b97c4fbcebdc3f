/**
 * The load driver and the meters every scenario shares: a closed loop keeping N requests in flight,
 * latency in an HDR histogram, CPU time per process (this one via process.cpuUsage, children via
 * /proc/<pid>/stat utime+stime).
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { Redis } from "ioredis";
import { run, startBroker as startBrokerProcess, type BrokerProcess, type Child } from "@agentwire/testkit";

export const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks

/** One process whose CPU time a scenario reports: "self" is this process (the client side). */
export interface Meter {
  name: string;
  /** Cumulative CPU time in µs. */
  cpuUs(): number;
  /** The process, for tools that look at it from outside (src/hops.ts: its sockets, its syscalls). */
  pid?: number;
}

export const selfMeter = (name = "client"): Meter => ({
  name,
  pid: process.pid,
  cpuUs: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
});

export function procCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of comm: state is field 3; utime 14, stime 15 (1-based).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return ((utime + stime) * 1_000_000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export function procRssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

export const pidMeter = (name: string, pid: number): Meter => ({ name, pid, cpuUs: () => procCpuUs(pid) });

/**
 * A process and every descendant, e.g. a PostgreSQL postmaster and the backends it forks: utime+stime
 * of each live one plus cutime+cstime (the time of children it has reaped), so a backend that exits
 * mid-level is still counted, by its parent.
 */
export function treeCpuUs(root: number): number {
  const procs = new Map<number, { ppid: number; us: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // After the ")" of comm: ppid is field 4; utime, stime, cutime, cstime 14..17 (1-based).
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
      procs.set(Number(name), { ppid: Number(rest[1]), us: (ticks * 1_000_000) / CLK_TCK });
    } catch {
      // gone since the listing
    }
  }
  if (!procs.has(root)) return NaN;
  let total = 0;
  for (const [pid, p] of procs) {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 64; at = procs.get(at)?.ppid, hops++) {
      if (at !== root) continue;
      total += p.us;
      break;
    }
  }
  return total;
}

export const treeMeter = (name: string, root: number): Meter => ({ name, pid: root, cpuUs: () => treeCpuUs(root) });

/** User and system CPU time of the whole machine (every process), in µs, from /proc/stat. */
export function machineCpuUs(): number {
  try {
    const [user, nice, system] = (readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "").trim().split(/\s+/).slice(1, 4).map(Number);
    return ((user! + nice! + system!) * 1_000_000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * CPU over one measured window: per metered process and task, and what the rest of the machine used
 * meanwhile (processes outside the scenario: another job on a shared machine), in % of all cores.
 */
export function cpuWindow(meters: Meter[]): { end(tasks: number, elapsedMs: number): Pick<LoadResult, "cpuUsPerTask" | "otherCpuPercent"> } {
  const machine = machineCpuUs();
  const before = meters.map((m) => m.cpuUs());
  return {
    end(tasks, elapsedMs) {
      const after = meters.map((m) => m.cpuUs());
      const used = meters.map((_, i) => (after[i] ?? NaN) - (before[i] ?? NaN));
      const cpuUsPerTask: Record<string, number> = {};
      meters.forEach((m, i) => (cpuUsPerTask[m.name] = tasks > 0 ? used[i]! / tasks : NaN));
      const other = machineCpuUs() - machine - used.reduce((a, b) => a + b, 0);
      return { cpuUsPerTask, otherCpuPercent: Math.max(0, (other / (elapsedMs * 1000 * cpus().length)) * 100) };
    },
  };
}

/** Connections open on a private redis-server per owner, from CLIENT LIST names `aw:<owner>:<role>`. */
export async function redisConnections(port: number): Promise<Record<string, number>> {
  const admin = new Redis({ host: "127.0.0.1", port, connectionName: "bench-admin", lazyConnect: true });
  try {
    await admin.connect();
    const counts: Record<string, number> = {};
    for (const line of ((await admin.client("LIST")) as string).split("\n")) {
      const name = /\bname=(\S*)/.exec(line)?.[1];
      if (name === undefined || name === "bench-admin") continue;
      const owner = name.startsWith("aw:") ? name.split(":")[1] ?? "" : name === "" ? "unnamed" : name;
      counts[owner] = (counts[owner] ?? 0) + 1;
    }
    return counts;
  } finally {
    admin.disconnect();
  }
}

export interface LoadOptions {
  inflight: number;
  /** Measurement stops at whichever comes first. */
  maxTasks: number;
  durationMs: number;
  /** Untimed warm-up before measuring (also bounded by count and time). */
  warmupMs: number;
  warmupTasks: number;
  /** A lane that has not come back this long after the deadline counts as stalled; the run ends anyway. */
  stallGraceMs?: number;
}

export interface LoadResult {
  tasks: number;
  errors: number;
  elapsedMs: number;
  tasksPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** CPU µs per completed task, per metered process. */
  cpuUsPerTask: Record<string, number>;
  /** CPU the machine's other processes used during the measurement, % of all cores (a shared machine's noise). */
  otherCpuPercent?: number;
  stalled: boolean;
  firstError?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Keeps `inflight` calls of `task` open until `count` are done or `ms` elapsed; records latency in µs. */
async function loop(
  task: () => Promise<unknown>,
  inflight: number,
  count: number,
  ms: number,
  graceMs: number,
  record: ((us: number) => void) | undefined,
): Promise<{ done: number; errors: number; elapsedMs: number; stalled: boolean; firstError?: string }> {
  let started = 0;
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + ms;
  let stop = false;
  const lane = async (): Promise<void> => {
    while (!stop && started < count && performance.now() < deadline) {
      started++;
      const s = performance.now();
      try {
        await task();
        done++;
        record?.(Math.max(1, Math.round((performance.now() - s) * 1000)));
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 100) stop = true;
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: inflight }, lane));
  let timer: NodeJS.Timeout | undefined;
  const stalledP = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), ms + graceMs);
  });
  const outcome = await Promise.race([lanes.then(() => "ok" as const), stalledP]);
  clearTimeout(timer);
  stop = true;
  const elapsedMs = performance.now() - t0;
  return { done, errors, elapsedMs, stalled: outcome === "stalled", ...(firstError !== undefined ? { firstError } : {}) };
}

export async function closedLoop(task: () => Promise<unknown>, meters: Meter[], o: LoadOptions): Promise<LoadResult> {
  const grace = o.stallGraceMs ?? 10_000;
  const warm = await loop(task, o.inflight, o.warmupTasks, o.warmupMs, grace, undefined);
  if (warm.stalled) return failed(meters, warm.firstError ?? "warm-up stalled", true);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  const cpu = cpuWindow(meters);
  const r = await loop(task, o.inflight, o.maxTasks, o.durationMs, grace, (us) => hist.recordValue(us));
  const { cpuUsPerTask, otherCpuPercent } = cpu.end(r.done, r.elapsedMs);
  const res: LoadResult = {
    tasks: r.done,
    errors: r.errors + warm.errors,
    elapsedMs: r.elapsedMs,
    tasksPerSec: (r.done * 1000) / r.elapsedMs,
    p50Ms: hist.getValueAtPercentile(50) / 1000,
    p99Ms: hist.getValueAtPercentile(99) / 1000,
    p999Ms: hist.getValueAtPercentile(99.9) / 1000,
    maxMs: hist.maxValue / 1000,
    cpuUsPerTask,
    otherCpuPercent,
    stalled: r.stalled,
  };
  const firstError = r.firstError ?? warm.firstError;
  if (firstError !== undefined) res.firstError = firstError;
  hist.destroy();
  // Let stragglers of a stalled run settle before the next level reuses the connections.
  if (r.stalled) await sleep(200);
  return res;
}

function failed(meters: Meter[], why: string, stalled: boolean): LoadResult {
  return {
    tasks: 0,
    errors: 1,
    elapsedMs: 0,
    tasksPerSec: 0,
    p50Ms: NaN,
    p99Ms: NaN,
    p999Ms: NaN,
    maxMs: NaN,
    cpuUsPerTask: Object.fromEntries(meters.map((m) => [m.name, NaN])),
    stalled,
    firstError: why,
  };
}

// ---- children ------------------------------------------------------------------------------------

/** Every child this run started, so a watchdog or a failed scenario can stop exactly those. */
export const children = new Set<Child>();
export function track<C extends Child>(child: C): C {
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}
export function killChildren(): void {
  for (const c of children) c.kill("SIGKILL");
}

/** Set by `--cpu-prof <dir>`: every broker and role process writes a V8 CPU profile there on exit. */
export const profiling: { dir?: string } = {};
const profArgs = (): string[] => (profiling.dir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profiling.dir}`]);

export const BENCH_DIST = dirname(fileURLToPath(import.meta.url)); // bench/dist/src
export const ROOT = join(BENCH_DIST, "..", "..", "..");

/** Starts `node bench/dist/src/roles.js <role> ...args` and waits for its "ready <json>" line. */
export async function startRole(role: string, args: string[], env: Record<string, string> = {}): Promise<{ child: Child; info: Record<string, unknown> }> {
  const child = track(
    run(process.execPath, [...profArgs(), join(BENCH_DIST, "roles.js"), role, ...args], {
      label: role,
      env: { ...process.env, ...env },
    }),
  );
  const m = await child.waitForLine(/^ready (.*)$/, 20_000);
  return { child, info: JSON.parse(m[1] ?? "{}") as Record<string, unknown> };
}

/** The real broker bin on an ephemeral port (testkit's startBroker), tracked, profiled under --cpu-prof. */
export function startBroker(extra: string[] = [], nodeArgs: string[] = []): Promise<BrokerProcess> {
  return startBrokerProcess(["--log-level", "info", ...extra], { nodeArgs: [...profArgs(), ...nodeArgs], onSpawn: track });
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export function payloadOf(bytes: number): string {
  return "x".repeat(bytes);
}
