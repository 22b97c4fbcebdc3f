/**
 * `pnpm chaos [--duration 60] [--store redis|cluster|both] [--inflight 32] [--drain 35]
 *             [--agents-per-broker 1] [--faults all|none|agent-kill,b-kill,...] [--logs DIR]`
 *
 * Runs the Redis mesh chaos scenario (harness.ts) per store, prints each run's table (markdown) to
 * stdout and progress to stderr, and exits 1 when an invariant failed (2 on a harness error, 130 on
 * SIGINT/SIGTERM, after stopping every process it started). Logs of every process go to `--logs`
 * (default: a new directory under the system temp dir, printed at the end). `--faults none` is a
 * control run (no fault: every invariant must hold, or the instrument is wrong); a single fault
 * isolates what it does.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAULTS, runChaos, type FaultId, type StoreKind } from "./harness.js";

interface Args {
  durationS: number;
  stores: StoreKind[];
  inflight: number;
  drainS: number;
  agentsPerBroker: number;
  logs: string | undefined;
  faults: FaultId[];
}

const USAGE =
  "usage: pnpm chaos [--duration <s>=60] [--store redis|cluster|both] [--inflight <n>=32] [--drain <s>=35] [--agents-per-broker <n>=1] " +
  `[--faults all|none|<list of ${FAULTS.join(",")}>] [--logs <dir>]`;

function parse(argv: string[]): Args {
  const a: Args = { durationS: 60, stores: ["redis", "cluster"], inflight: 32, drainS: 35, agentsPerBroker: 1, logs: undefined, faults: [...FAULTS] };
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${name}: expected a number ${min}..${max}, got ${v ?? "nothing"}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    if (name === "--") continue;
    const value = argv[i + 1];
    switch (name) {
      case "--duration": a.durationS = num(name, value, 5, 3_600); i++; break;
      case "--inflight": a.inflight = Math.floor(num(name, value, 1, 1_000)); i++; break;
      case "--drain": a.drainS = num(name, value, 1, 600); i++; break;
      case "--agents-per-broker": a.agentsPerBroker = Math.floor(num(name, value, 1, 8)); i++; break;
      case "--logs": if (value === undefined) throw new Error("--logs: missing directory"); a.logs = value; i++; break;
      case "--faults": {
        if (value === undefined) throw new Error("--faults: missing list");
        const ids = value === "all" ? [...FAULTS] : value === "none" ? [] : value.split(",");
        const bad = ids.filter((id) => !(FAULTS as readonly string[]).includes(id));
        if (bad.length > 0) throw new Error(`--faults: unknown ${bad.join(", ")} (known: ${FAULTS.join(", ")}, all, none)`);
        a.faults = ids as FaultId[];
        i++;
        break;
      }
      case "--store":
        if (value === "both") a.stores = ["redis", "cluster"];
        else if (value === "redis" || value === "cluster") a.stores = [value];
        else throw new Error(`--store: expected redis, cluster or both, got ${value ?? "nothing"}`);
        i++;
        break;
      case "--help":
      case "-h":
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${name}\n${USAGE}`);
    }
  }
  return a;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    return 2;
  }
  const logs = args.logs ?? mkdtempSync(join(tmpdir(), "agentwire-chaos-"));
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`chaos: ${sig}: stopping every process started\n`);
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let failed = false;
  for (const store of args.stores) {
    process.stderr.write(`chaos: ${store}: ${args.durationS} s, ${args.inflight} in flight\n`);
    try {
      const report = await runChaos({
        store,
        durationMs: args.durationS * 1_000,
        inflight: args.inflight,
        drainMs: args.drainS * 1_000,
        agentsPerBroker: args.agentsPerBroker,
        faults: args.faults,
        logDir: logs,
        signal: abort.signal,
        progress: (line) => process.stderr.write(`chaos[${store}] ${line}\n`),
      });
      process.stdout.write(`${report.table}\n\n`);
      if (!report.ok) failed = true;
    } catch (err) {
      process.stderr.write(`chaos: ${store}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.stderr.write(`chaos: logs in ${logs}\n`);
      return interrupted ? 130 : 2;
    }
  }
  process.stderr.write(`chaos: logs in ${logs}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${String(err)}\n`);
    process.exit(2);
  },
);
