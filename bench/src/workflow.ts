/**
 * Workflow runs against plain tasks, in one run: a broker bin (child) and an SDK echo agent (child);
 * the client here keeps N runs of a 3-step flow (echo → echo → echo, each step's input the previous
 * step's output) in flight, and, interleaved round by round, N plain `echo` tasks of the same agent,
 * as many tasks as the runs have steps. Reports runs/s, and what one step costs against one plain
 * task at the same concurrency: wall time per step (elapsed ÷ steps), CPU per step per process, and
 * at 1 in flight the latency a step adds. Goal (issue 18): a step costs ≤ 1.5 × a plain task.
 * `--mesh`: two brokers on a private redis-server, the client on A and the agent on B, so each run's
 * state lives in Redis and every task crosses brokers.
 *
 *     node bench/dist/src/workflow.js [--runs 1000] [--inflight 1,32] [--repeat 3] [--payload 100] [--no-watch] [--registered] [--mesh] [--cpu-prof dir]
 *
 * Progress on stderr; the Markdown table on stdout and, with an NDJSON line per level, under
 * bench/results/workflow-<time>.{md,ndjson}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect, ref, workflow } from "@agentwire/sdk";
import { agentsOn, startRedis, waitFor } from "@agentwire/testkit";
import { closedLoop, killChildren, log, payloadOf, pidMeter, profiling, ROOT, selfMeter, startBroker, startRole, track, type LoadResult, type Meter } from "./harness.js";

/** The goal: one step's cost ÷ one plain task's. */
const GOAL = 1.5;
const STEPS = 3;

const USAGE = "usage: node bench/dist/src/workflow.js [--runs n (default 1000)] [--inflight 1,32] [--repeat n (default 3)] [--payload bytes (default 100)] [--no-watch] [--registered] [--mesh] [--cpu-prof dir]";

interface Args {
  runs: number;
  inflight: number[];
  repeat: number;
  payload: number;
  watch: boolean;
  /** Run a definition registered once over HTTP by name, instead of sending it with each run. */
  registered: boolean;
  /** Two brokers on a private redis-server: the client on A, the agent on B (run state in Redis). */
  mesh: boolean;
  /** Every broker and role process writes a V8 CPU profile into this folder on exit. */
  cpuProf: string | undefined;
}

class UsageError extends Error {}

function parse(argv: string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "1000" },
      inflight: { type: "string", default: "1,32" },
      repeat: { type: "string", default: "3" },
      payload: { type: "string", default: "100" },
      "no-watch": { type: "boolean", default: false },
      registered: { type: "boolean", default: false },
      mesh: { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const a: Args = {
    runs: Number(values.runs),
    inflight: values.inflight.split(",").map(Number),
    repeat: Number(values.repeat),
    payload: Number(values.payload),
    watch: !values["no-watch"],
    registered: values.registered,
    mesh: values.mesh,
    cpuProf: values["cpu-prof"],
  };
  if (!Number.isInteger(a.runs) || a.runs < 1 || a.runs > 1_000_000) throw new UsageError("--runs: 1..1000000");
  if (a.inflight.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) throw new UsageError("--inflight: integers 1..4096, comma-separated");
  if (!Number.isInteger(a.repeat) || a.repeat < 1 || a.repeat > 20) throw new UsageError("--repeat: 1..20");
  if (!Number.isInteger(a.payload) || a.payload < 0 || a.payload > 1 << 20) throw new UsageError("--payload: 0..1048576 bytes");
  return a;
}

/** One level: a round of plain tasks and a round of runs, side by side. */
interface Round {
  plain: LoadResult;
  runs: LoadResult;
}

export interface WorkflowLevel {
  kind: "workflow";
  inflight: number;
  runs: number;
  steps_per_run: number;
  rounds: number;
  watch: boolean;
  registered: boolean;
  mesh: boolean;
  payload_bytes: number;
  runs_per_sec: number;
  steps_per_sec: number;
  plain_tasks_per_sec: number;
  /** Wall time of one step ÷ that of one plain task at the same concurrency (elapsed ÷ count). */
  time_ratio: number;
  /** CPU of all metered processes per step ÷ per plain task. */
  cpu_ratio: number;
  /** The broker's CPU alone per step ÷ per plain task (a run moves work from the client to the broker). */
  broker_cpu_ratio: number;
  cpu_us_per_step: Record<string, number>;
  cpu_us_per_plain_task: Record<string, number>;
  run_p50_ms: number;
  run_p99_ms: number;
  plain_p50_ms: number;
  plain_p99_ms: number;
  /** (run p50 − steps × plain p50) ÷ steps: the latency a step adds (meaningful at 1 in flight). */
  added_ms_per_step: number;
  errors: number;
  first_error?: string;
  other_cpu_percent: number;
}

const total = (cpu: Record<string, number>): number => Object.values(cpu).reduce((a, b) => a + b, 0);
/** The brokers' CPU (one, or A and B of a mesh). */
const brokers = (cpu: Record<string, number>): number => total(Object.fromEntries(Object.entries(cpu).filter(([k]) => k.startsWith("broker"))));
const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor((xs.length - 1) / 2)]!;
const f = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–");

function level(inflight: number, a: Args, rounds: Round[]): WorkflowLevel {
  // The median round by time ratio; its own figures, so each row is one real measurement.
  const ratio = (r: Round): number => r.runs.elapsedMs / (r.runs.tasks * STEPS) / (r.plain.elapsedMs / r.plain.tasks);
  const r = median(rounds, ratio);
  const perStep = Object.fromEntries(Object.entries(r.runs.cpuUsPerTask).map(([k, v]) => [k, v / STEPS]));
  const errors = rounds.reduce((n, x) => n + x.plain.errors + x.runs.errors, 0);
  const firstError = rounds.map((x) => x.runs.firstError ?? x.plain.firstError).find((e) => e !== undefined);
  return {
    kind: "workflow",
    inflight,
    runs: r.runs.tasks,
    steps_per_run: STEPS,
    rounds: rounds.length,
    watch: a.watch,
    registered: a.registered,
    mesh: a.mesh,
    payload_bytes: a.payload,
    runs_per_sec: r.runs.tasksPerSec,
    steps_per_sec: r.runs.tasksPerSec * STEPS,
    plain_tasks_per_sec: r.plain.tasksPerSec,
    time_ratio: ratio(r),
    cpu_ratio: total(perStep) / total(r.plain.cpuUsPerTask),
    broker_cpu_ratio: brokers(perStep) / brokers(r.plain.cpuUsPerTask),
    cpu_us_per_step: perStep,
    cpu_us_per_plain_task: r.plain.cpuUsPerTask,
    run_p50_ms: r.runs.p50Ms,
    run_p99_ms: r.runs.p99Ms,
    plain_p50_ms: r.plain.p50Ms,
    plain_p99_ms: r.plain.p99Ms,
    added_ms_per_step: (r.runs.p50Ms - STEPS * r.plain.p50Ms) / STEPS,
    errors,
    ...(firstError !== undefined ? { first_error: firstError } : {}),
    other_cpu_percent: Math.max(r.runs.otherCpuPercent ?? 0, r.plain.otherCpuPercent ?? 0),
  };
}

function table(levels: WorkflowLevel[], meters: readonly string[]): string {
  const head = `| in flight | runs | runs/s | steps/s | plain tasks/s | time per step ÷ plain task | CPU per step ÷ plain task | broker CPU per step ÷ plain task | CPU µs per step (${meters.join(" / ")}) | CPU µs per plain task | run p50 / p99 ms | plain p50 / p99 ms | ms a step adds (p50, at 1 in flight) | other CPU % |`;
  const rows = levels.map((l) => {
    const cpu = (c: Record<string, number>): string => meters.map((k) => f(c[k] ?? NaN)).join(" / ");
    return `| ${l.inflight} | ${f(l.runs)} | ${f(l.runs_per_sec)} | ${f(l.steps_per_sec)} | ${f(l.plain_tasks_per_sec)} | ${f(l.time_ratio, 2)}× | ${f(l.cpu_ratio, 2)}× | ${f(l.broker_cpu_ratio, 2)}× | ${cpu(l.cpu_us_per_step)} | ${cpu(l.cpu_us_per_plain_task)} | ${f(l.run_p50_ms, 2)} / ${f(l.run_p99_ms, 2)} | ${f(l.plain_p50_ms, 2)} / ${f(l.plain_p99_ms, 2)} | ${l.inflight === 1 ? f(l.added_ms_per_step, 3) : "–"} | ${f(l.other_cpu_percent)} |`;
  });
  return [head, `|${"---:|".repeat(14)}`, ...rows].join("\n");
}

function verdicts(levels: WorkflowLevel[]): string {
  return levels
    .map((l) => {
      const worst = Math.max(l.time_ratio, l.cpu_ratio);
      const met = Number.isFinite(worst) && worst <= GOAL && l.errors === 0;
      return `- ${l.inflight} in flight: a step costs ${f(l.time_ratio, 2)}× a plain task in time, ${f(l.cpu_ratio, 2)}× in CPU (the broker's alone ${f(l.broker_cpu_ratio, 2)}×) — goal ≤ ${GOAL}× in time and CPU: ${met ? "met" : "missed"}${l.errors > 0 ? ` (${l.errors} errors: ${l.first_error ?? "?"})` : ""}`;
    })
    .join("\n");
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (a.cpuProf !== undefined) profiling.dir = a.cpuProf;
  const started = Date.now();
  const maxInflight = Math.max(...a.inflight);
  const { http, url, meters, close } = await setup(a, String(Math.max(1024, maxInflight * 4)));
  const client = await connect({ url, name: "bench-workflow-client" });
  const payload = { data: payloadOf(a.payload) };
  const flow = workflow("bench-3-steps")
    .step("one", "echo", { input: ref("/input") })
    .step("two", "echo", { input: ref("/steps/one/output") })
    .step("three", "echo", { input: ref("/steps/two/output") })
    .build();
  if (a.registered) {
    const put = await fetch(`${http}/v1/workflows/${flow.name}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(flow) });
    if (!put.ok) throw new Error(`registering the definition: HTTP ${put.status} ${await put.text()}`);
  }
  const target = a.registered ? { name: flow.name } : flow;
  const levels: WorkflowLevel[] = [];
  try {
    for (const inflight of a.inflight) {
      const rounds: Round[] = [];
      for (let i = 0; i < a.repeat; i++) {
        const bounds = { inflight, durationMs: 600_000, warmupMs: 10_000, stallGraceMs: 30_000 };
        log(`@${inflight} round ${i + 1}/${a.repeat}: ${a.runs * STEPS} plain tasks`);
        const plain = await closedLoop(() => client.submit("echo", payload), meters, { ...bounds, maxTasks: a.runs * STEPS, warmupTasks: Math.min(300, a.runs) });
        log(`@${inflight} round ${i + 1}/${a.repeat}: ${a.runs} runs of ${STEPS} steps`);
        const runs = await closedLoop(() => client.run(target, payload, { watch: a.watch }).result, meters, { ...bounds, maxTasks: a.runs, warmupTasks: Math.min(100, a.runs) });
        rounds.push({ plain, runs });
        log(`@${inflight}: ${f(plain.tasksPerSec)} plain tasks/s, ${f(runs.tasksPerSec)} runs/s${plain.errors + runs.errors > 0 ? `, errors: ${runs.firstError ?? plain.firstError ?? "?"}` : ""}`);
      }
      levels.push(level(inflight, a, rounds));
    }
  } finally {
    await client.close().catch(() => undefined);
    await close().catch(() => undefined);
    killChildren();
  }
  const command = `node bench/dist/src/workflow.js ${process.argv.slice(2).join(" ")}`.trim();
  const md = [
    `## agentwire workflows: ${STEPS}-step runs against plain tasks, ${a.payload}-byte payload`,
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${f(totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}. Command: \`${command}\`. Each level: ${a.runs * STEPS} plain \`echo\` tasks, then ${a.runs} runs of echo → echo → echo (each step's input the previous output, the definition ${a.registered ? "registered once and run by name" : "sent with each run"}, run events ${a.watch ? "on" : "off"}), both after a warm-up, at the same number in flight, the same ${a.mesh ? "mesh (client on broker A, agent on broker B, a private redis-server; run state in Redis)" : "broker (in memory, default event ring)"} and agent; ${a.repeat > 1 ? `the median of ${a.repeat} interleaved rounds by time ratio` : "one round"}. Time per step = elapsed ÷ steps done; per plain task = elapsed ÷ tasks.`,
    "",
    table(levels, meters.map((m) => m.name)),
    "",
    verdicts(levels),
    "",
  ].join("\n");
  process.stdout.write(md);
  const dir = join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const meta = { kind: "meta", command, machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "?", memory_bytes: totalmem() }, node: process.version, at: new Date().toISOString() };
  writeFileSync(join(dir, `workflow-${stamp}.ndjson`), [meta, ...levels].map((x) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))).join("\n") + "\n");
  writeFileSync(join(dir, `workflow-${stamp}.md`), md);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; results in bench/results/workflow-${stamp}.{md,ndjson}`);
  process.exit(levels.some((l) => l.errors > 0) ? 1 : 0);
}

/** One broker and the agent, or a two-broker mesh with the agent on B; the client connects to `url`. */
async function setup(a: Args, limit: string): Promise<{ http: string; url: string; meters: Meter[]; close(): Promise<void> }> {
  if (!a.mesh) {
    const broker = await startBroker(["--max-in-flight", limit]);
    const agent = await startRole("sdk-agent", [broker.url, limit]);
    return {
      http: broker.http,
      url: broker.url,
      meters: [selfMeter("client"), pidMeter("broker", broker.child.pid), pidMeter("agent", agent.child.pid)],
      async close() {
        await agent.child.stop();
        await broker.child.stop();
      },
    };
  }
  const redis = await startRedis();
  track(redis.child);
  const mesh = (id: string) => startBroker(["--redis", redis.url, "--broker-id", id, "--max-in-flight", limit]);
  const [brokerA, brokerB] = await Promise.all([mesh("bench-a"), mesh("bench-b")]);
  const agent = await startRole("sdk-agent", [brokerB.url, limit]);
  await waitFor(async () => (await agentsOn(brokerA)).some((x) => x.agent_id === agent.info["id"]) || undefined, 10_000, "B's agent in A's registry");
  return {
    http: brokerA.http,
    url: brokerA.url,
    meters: [selfMeter("client"), pidMeter("broker A", brokerA.child.pid), pidMeter("broker B", brokerB.child.pid), pidMeter("agent", agent.child.pid), pidMeter("redis", redis.child.pid)],
    async close() {
      await agent.child.stop();
      await Promise.all([brokerA.child.stop(), brokerB.child.stop()]);
      await redis[Symbol.asyncDispose]();
    },
  };
}

main().catch((err: unknown) => {
  const usage = err instanceof UsageError;
  process.stderr.write(`bench workflow: ${err instanceof Error ? err.message : String(err)}\n${usage ? `${USAGE}\n` : ""}`);
  killChildren();
  process.exit(usage ? 2 : 1);
});
