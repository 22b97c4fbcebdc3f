/**
 * Where one task's time goes, hop by hop, at 1 in flight: `node bench/dist/src/hops.js [--scenarios
 * agentwire-mesh,mesh-baseline] [--tasks 2000] [--no-syscalls]` (after `pnpm build`; needs root and
 * tcpdump, `apt-get install tcpdump`). Not part of `pnpm test`.
 *
 * Each scenario is set up as `pnpm bench` does, warmed up, and then runs `--tasks` tasks one after
 * another while tcpdump captures every loopback TCP segment that carries data. Each segment's ports
 * are mapped to the scenario's processes (client, broker A, Redis, ...) through /proc (socket inodes
 * of each process's descriptors), so a task reads as a sequence of hops such as `client → A 61 B`,
 * `A → redis 180 B`, ... The most common sequence is the task's path; for each hop the table gives the
 * median time since the task's first segment and since the previous hop (the time spent in the sender
 * between receiving and sending, or on the wire), over the tasks that took that path.
 *
 * Then (unless --no-syscalls) the same number of tasks again with `strace -c -f` attached to each
 * process: system calls per task by process and by call (strace slows the run; the counts stand).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { killChildren, log, type Meter } from "./harness.js";
import type { Scenario } from "./scenario.js";
import { relay } from "./scenarios/relay.js";
import { agentwireMemoryStores } from "./scenarios/agentwire-memory.js";
import { meshBaseline } from "./scenarios/mesh-baseline.js";
import { agentwireMeshStores } from "./scenarios/agentwire-mesh.js";
import { bullmq } from "./scenarios/bullmq.js";

const SCENARIOS: Scenario[] = [relay, ...agentwireMemoryStores, meshBaseline, ...agentwireMeshStores, bullmq];

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : argv[i + 1];
};
const names = (opt("scenarios") ?? "agentwire-mesh,mesh-baseline").split(",");
const TASKS = Number(opt("tasks") ?? 2000);
const SYSCALLS = !argv.includes("--no-syscalls");

interface Segment {
  /** Capture time, µs since the epoch. */
  at: number;
  from: string;
  to: string;
  bytes: number;
}

/** Socket inodes of a process's descriptors. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) out.add(m[1]!);
    } catch {
      // closed since the listing
    }
  }
  return out;
}

/** Local TCP port → process name, for every IPv4/IPv6 socket the meters' processes hold. */
function portOwners(meters: Meter[]): Map<number, string> {
  const byInode = new Map<string, string>();
  for (const m of meters) if (m.pid !== undefined) for (const inode of socketInodes(m.pid)) byInode.set(inode, m.name);
  const owners = new Map<number, string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = parseInt(f[1]!.split(":")[1]!, 16);
      const who = byInode.get(f[9]!);
      if (who !== undefined) owners.set(port, who);
    }
  }
  return owners;
}

/** tcpdump on loopback, data-carrying TCP segments only, one line each. */
function capture(): { proc: ChildProcess; lines: string[]; ready: Promise<void> } {
  const filter = "tcp and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)";
  const proc = spawn("tcpdump", ["-i", "lo", "-n", "-tt", "-q", "-l", "-B", "16384", filter], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on("line", (l) => lines.push(l));
  const ready = new Promise<void>((resolve, reject) => {
    proc.once("error", reject);
    createInterface({ input: proc.stderr! }).on("line", (l) => {
      if (l.includes("listening on")) resolve();
    });
  });
  return { proc, lines, ready };
}

function parse(lines: string[], owners: Map<number, string>): Segment[] {
  const out: Segment[] = [];
  for (const l of lines) {
    // 1765000000.123456 IP 127.0.0.1.41234 > 127.0.0.1.7420: tcp 45
    const m = /^(\d+)\.(\d+) IP6? \S+?\.(\d+) > \S+?\.(\d+): tcp (\d+)/.exec(l);
    if (m === null) continue;
    const from = owners.get(Number(m[3]));
    const to = owners.get(Number(m[4]));
    if (from === undefined || to === undefined) continue;
    out.push({ at: Number(m[1]) * 1e6 + Number(m[2]!.padEnd(6, "0")), from, to, bytes: Number(m[5]) });
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};

/**
 * Splits the capture into tasks, one at each segment the client sends (at 1 in flight each task
 * starts with the client's submit; the capture's clock alone decides, not the client's), and
 * tabulates their hops: a hop is the n-th segment from one process to another within a task (segments
 * of concurrent work, such as another connection's reply, may come in either order between tasks, so
 * hops are matched by sender, receiver and occurrence rather than by position), placed at its median
 * time since the task's first segment, over the tasks that had it.
 */
function hopsTable(name: string, segments: Segment[], client: string): string {
  const starts = segments.flatMap((s, i) => (s.from === client ? [i] : []));
  const windows = starts.map((start, k) => [start, starts[k + 1] ?? segments.length] as const);
  const hops = new Map<string, { from: string; to: string; times: number[]; bytes: number[] }>();
  const totals: number[] = [];
  let counted = 0;
  for (const [start, end] of windows) {
    const first = segments[start]!;
    counted++;
    const seen = new Map<string, number>();
    let last = first.at;
    for (let i = start; i < end; i++) {
      const s = segments[i]!;
      const pair = `${s.from} → ${s.to}`;
      const n = (seen.get(pair) ?? 0) + 1;
      seen.set(pair, n);
      const key = `${pair} #${n}`;
      let h = hops.get(key);
      if (h === undefined) hops.set(key, (h = { from: s.from, to: s.to, times: [], bytes: [] }));
      h.times.push(s.at - first.at);
      h.bytes.push(s.bytes);
      last = s.at;
    }
    totals.push(last - first.at);
  }
  if (counted === 0) return `### ${name}\n\nno segments captured\n`;
  // Hops in at least half the tasks: the path every task takes, not the occasional heartbeat.
  const rows = [...hops.entries()].filter(([, h]) => h.times.length >= counted / 2).map(([key, h]) => ({ key, h, at: median(h.times) })).sort((a, b) => a.at - b.at);
  let prev = 0;
  const lines = rows.map(({ key, h, at }, k) => {
    const line = `| ${k + 1} | ${key} | ${median(h.bytes)} | ${((100 * h.times.length) / counted).toFixed(0)}% | ${at.toFixed(0)} | ${k === 0 ? "–" : (at - prev).toFixed(0)} |`;
    prev = at;
    return line;
  });
  return [
    `### ${name}: ${counted} tasks`,
    "",
    "| hop | segment (n-th of its pair in the task) | bytes | tasks with it | µs since the first (median) | µs after the hop above |",
    "|---:|---|---:|---:|---:|---:|",
    ...lines,
    "",
    `First to last segment of a task (the client's send to the last segment before its next): median ${median(totals).toFixed(0)} µs.`,
    "",
  ].join("\n");
}

/** `strace -c -f` on each process while `run` goes; calls per task by process. */
async function syscalls(meters: Meter[], tasks: number, run: () => Promise<void>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "agentwire-hops-"));
  try {
    const traced = meters.filter((m) => m.pid !== undefined && m.pid !== process.pid);
    const procs = traced.map((m) => ({ m, file: join(dir, `${m.name}.txt`), proc: spawn("strace", ["-c", "-f", "-o", join(dir, `${m.name}.txt`), "-p", String(m.pid)], { stdio: "ignore" }) }));
    await new Promise((r) => setTimeout(r, 500)); // strace attaches asynchronously and says nothing when it has
    await run();
    await Promise.all(procs.map(({ proc }) => new Promise<void>((resolve) => (proc.once("exit", () => resolve()), proc.kill("SIGINT")))));
    const lines = ["| process | syscalls per task | the most frequent (per task) |", "|---|---:|---|"];
    for (const { m, file } of procs) {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch {
        lines.push(`| ${m.name} | – | strace wrote nothing |`);
        continue;
      }
      const calls: [string, number][] = [];
      let total = NaN;
      for (const l of text.split("\n")) {
        const f = l.trim().split(/\s+/);
        if (f[0] === "100.00") total = Number(f[3]);
        else if (f.length >= 5 && /^\d/.test(f[0]!) && !l.includes("total")) calls.push([f.at(-1)!, Number(f[3])]);
      }
      calls.sort((a, b) => b[1] - a[1]);
      lines.push(`| ${m.name} | ${(total / tasks).toFixed(1)} | ${calls.slice(0, 5).map(([c, k]) => `${c} ${(k / tasks).toFixed(2)}`).join(", ")} |`);
    }
    return lines.join("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const out: string[] = [`## Hops at 1 in flight (${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}, ${TASKS} tasks each)`, ""];
  for (const name of names) {
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (scenario === undefined) throw new Error(`unknown scenario ${name}; one of ${SCENARIOS.map((s) => s.name).join(",")}`);
    log(`${name}: setting up`);
    const running = await scenario.setup({ payloadBytes: 100, maxInflight: 1 });
    try {
      for (let i = 0; i < 500; i++) await running.task();
      const owners = portOwners(running.meters);
      const cap = capture();
      await cap.ready;
      for (let i = 0; i < TASKS; i++) await running.task();
      await new Promise((r) => setTimeout(r, 200)); // the last segments reach tcpdump's output
      cap.proc.kill("SIGINT");
      await new Promise((r) => cap.proc.once("exit", r));
      out.push(hopsTable(name, parse(cap.lines, owners), running.meters[0]!.name));
      if (SYSCALLS) {
        const table = await syscalls(running.meters, TASKS, async () => {
          for (let i = 0; i < TASKS; i++) await running.task();
        });
        out.push(`System calls per task (strace -c -f, the client here is not traced):`, "", table, "");
      }
    } finally {
      await running.close().catch(() => undefined);
      killChildren();
    }
  }
  process.stdout.write(`${out.join("\n")}\n`);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`hops: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  killChildren();
  process.exit(1);
});
