/**
 * What PostgreSQL itself spends to store one event row, on this machine: the server's CPU (postmaster
 * and backends) per event for the broker's write (`agentwire_append`, one JSON batch per call) and for
 * the cheapest ingestion PostgreSQL has, COPY FROM STDIN of rows already laid out (stream positions
 * given), into the broker's table with its indexes and into a table with a primary key only.
 *
 * `node bench/dist/src/pg-ingest-floor.js [--events 100000] [--batch 1000]` (after `pnpm build`). The
 * COPY figures are a floor for any one-row-per-event store: the event store's cost goal in bench/README
 * ("Event store cost") is set against it. psql (from the machine's PostgreSQL binaries) sends the
 * statements, so the floor does not depend on a Node driver; its own CPU is not counted.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postgresBinDir, startPostgres } from "@agentwire/testkit";
import { ROOT, treeCpuUs } from "./harness.js";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const EVENTS = arg("events", 100_000);
const BATCH = arg("batch", 1_000);
const LIFECYCLE = ["task.submitted", "task.queued", "task.dispatched", "task.succeeded"] as const;

interface Row {
  n: number;
  stream: string;
  k: number;
  type: string;
  at: number;
  data: string;
  meta: string;
}

/** Task events shaped as the broker records them (broker/src/events.ts TaskEvent, pg-event-store.ts metadata). */
function rows(count: number, first: number): Row[] {
  const out: Row[] = [];
  for (let t = 0; out.length < count; t++) {
    const task = `${(first + t).toString(36).padStart(6, "0")}-${t.toString(16).padStart(8, "0")}`;
    LIFECYCLE.forEach((type, i) => {
      const at = Date.now();
      const agent = i === 0 ? undefined : "bench-agent-1";
      const data = JSON.stringify({ type, at, broker_id: "floor", task_id: task, capability: "echo", state: type.slice(5), attempt: 1, agent_id: agent });
      const meta = JSON.stringify({ broker_id: "floor", agent_id: agent, correlation_id: task });
      out.push({ n: first + out.length + 1, stream: `task-${task}`, k: i + 1, type, at, data, meta });
    });
  }
  return out.slice(0, count);
}

const copyText = (s: string): string => s.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));

async function main(): Promise<void> {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), "agentwire-pg-floor-"));
  const psql = (file: string): void => void execFileSync(join(postgresBinDir(), "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.url, "-f", file], { stdio: ["ignore", "ignore", "inherit"] });
  const measure = (label: string, file: string, events: number): number => {
    const before = treeCpuUs(pg.child.pid);
    psql(file);
    const us = (treeCpuUs(pg.child.pid) - before) / events;
    process.stdout.write(`${label}: ${us.toFixed(2)} µs of PostgreSQL CPU per event (${events} events, ${BATCH} a batch)\n`);
    return us;
  };
  try {
    psql(join(ROOT, "broker", "sql", "001_events.sql"));
    writeFileSync(join(dir, "bare.sql"), "CREATE TABLE bare (position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id text NOT NULL, stream text NOT NULL, stream_position integer NOT NULL, type text NOT NULL, recorded_at timestamptz NOT NULL, broker_id text NOT NULL, data json NOT NULL, payload bytea, metadata json NOT NULL);\n");
    psql(join(dir, "bare.sql"));
    let next = 0;
    const files = (kind: "append" | "copy" | "copy-bare"): string => {
      const table = kind === "copy-bare" ? "bare" : "agentwire_events";
      let sql = "";
      for (let done = 0; done < EVENTS; done += BATCH) {
        const batch = rows(Math.min(BATCH, EVENTS - done), next);
        next += batch.length;
        if (kind === "append") {
          const json = `[${batch.map((r) => `{"n":${r.n},"stream":"${r.stream}","type":"${r.type}","at":${r.at},"broker":"floor","data":${r.data},"payload":null,"meta":${r.meta}}`).join(",")}]`;
          sql += `SELECT agentwire_append('floor.${kind}-', $batch$${json}$batch$, ${batch.at(-1)!.n});\n`;
        } else {
          sql += `BEGIN;\nCOPY ${table} (event_id, stream, stream_position, type, recorded_at, broker_id, data, payload, metadata) FROM STDIN;\n`;
          for (const r of batch) sql += `floor.${kind}-${r.n}\t${r.stream}\t${r.k}\t${r.type}\t${new Date(r.at).toISOString()}\tfloor\t${copyText(r.data)}\t\\N\t${copyText(r.meta)}\n`;
          sql += "\\.\nCOMMIT;\n";
        }
      }
      const file = join(dir, `${kind}.sql`);
      writeFileSync(file, sql);
      return file;
    };
    process.stdout.write(`${execFileSync(join(postgresBinDir(), "postgres"), ["--version"]).toString().trim()}\n`);
    // Warm the caches and the table, then measure each way on a table that already holds rows.
    for (const kind of ["append", "copy", "copy-bare"] as const) psql(files(kind));
    const append = measure("agentwire_append (the broker's write)", files("append"), EVENTS);
    const copy = measure("COPY into agentwire_events (its indexes, positions given)", files("copy"), EVENTS);
    const bare = measure("COPY into a table with a primary key only", files("copy-bare"), EVENTS);
    process.stdout.write(`per task of ${LIFECYCLE.length} events: append ${(append * 4).toFixed(1)} µs, COPY ${(copy * 4).toFixed(1)} µs, COPY bare ${(bare * 4).toFixed(1)} µs\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pg.stop();
  }
}

await main();
