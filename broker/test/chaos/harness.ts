/**
 * The Redis mesh chaos run (issue #12): three real brokers A, B, C on one store (a standalone
 * redis-server with AOF, or a 3-master Redis Cluster with AOF), agents as child processes on B and C
 * (agent.ts), a client on A keeping `inflight` tasks open (client.ts), and six faults in order, each
 * followed by a wait until the mesh serves again:
 *
 *   1. an agent on B: kill -9, started again
 *   2. broker B: kill -9, restarted with the same --broker-id and port
 *   3. broker C: SIGTERM (graceful, waited for), restarted with the same id and port
 *   4. broker B: SIGSTOP for `stopMs` (> 3 x liveness, so the others find it dead), then SIGCONT
 *   5. Redis: kill -9 and restart with its data (standalone; on Cluster the master holding most of the
 *      mesh's hash tags, with its nodes.conf and AOF)
 *   6. broker A (the client's own): kill -9, restarted with the same id and port
 *
 * Nothing here waits with a sleep for something it can observe: processes are awaited by their
 * `listening` / `REGISTERED` lines and exits, recovery by the client's results and by A listing every
 * agent (polled over HTTP). The only timed waits are the fault schedule and the SIGSTOP's length.
 * Every process started is killed when the run ends, fails or is aborted (and on process exit).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentInfo } from "@agentwire/wire";
import { freePort, redisCli, run, startBroker, startRedis, startRedisCluster, waitFor, type Child, type RedisCluster, type RedisInstance, type RunningBroker } from "@agentwire/testkit";
import { ChaosClient } from "./client.js";
import { analyse, type ChaosReport, type Eviction, type Exec, type FaultRecord } from "./report.js";

export type StoreKind = "redis" | "cluster";

/** The six faults, in the order they run. */
export const FAULTS = ["agent-kill", "b-kill", "c-term", "b-stop", "redis-kill", "a-kill"] as const;
export type FaultId = (typeof FAULTS)[number];

export interface ChaosOptions {
  store: StoreKind;
  /** Which faults run (always in the order of FAULTS); default all. `[]` is a control run. */
  faults?: readonly FaultId[];
  /** Time from the first submit to the last new key (longer when the faults' recoveries take longer). */
  durationMs: number;
  /** Keys the client keeps open (default 32). */
  inflight?: number;
  /** Bounded wait for the open keys after the last new one (default 10 s). */
  drainMs?: number;
  /** Bounded wait per fault for the mesh to serve again at full strength (default 20 s). */
  recoverMs?: number;
  /** Agent processes on each of B and C (default 1). */
  agentsPerBroker?: number;
  /** How long broker B stays stopped (default 1,500 ms; must exceed 3 x liveness). */
  stopMs?: number;
  /** --mesh-liveness-ms of every broker (default 250). */
  livenessMs?: number;
  /** When set, every process's output and the run's records are written there. */
  logDir?: string;
  /** Progress lines (to stderr in the CLI). */
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export const CHAOS_DEFAULTS = {
  inflight: 32,
  drainMs: 10_000,
  recoverMs: 20_000,
  agentsPerBroker: 1,
  stopMs: 1_500,
  livenessMs: 250,
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 1_000,
  taskTimeoutMs: 30_000,
  maxAttempts: 3,
  shutdownGraceMs: 5_000,
  /** The client tries B and C once A has been unreachable this long. */
  failoverMs: 3_000,
} as const;

/** Redis with an append-only file fsynced on every write: a kill -9 loses no acknowledged write. */
const AOF = ["--appendonly", "yes", "--appendfsync", "always"];

/** The compiled agent (dist/test/chaos/agent.js), whether this file runs from test/ or dist/test/. */
export function agentBin(): string {
  const here = fileURLToPath(import.meta.url);
  const root = here.slice(0, here.lastIndexOf("/broker/") + "/broker/".length);
  const bin = `${root}dist/test/chaos/agent.js`;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build first (pnpm build)`);
  return bin;
}

// ---- processes ------------------------------------------------------------------------------------

class MeshBroker {
  readonly incarnations: Child[] = [];
  private running: RunningBroker | undefined;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly port: number,
    private readonly args: string[],
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get child(): Child | undefined {
    return this.running?.child;
  }

  async start(): Promise<void> {
    this.running = await startBroker([...this.args, "--broker-id", this.id], { port: this.port, label: `broker ${this.name}` });
    this.incarnations.push(this.running.child);
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `boundMs`); resolves with the exit and its time. */
  async end(signal: NodeJS.Signals, boundMs = 15_000): Promise<{ exit: number | string; ms: number; forced: boolean }> {
    const child = this.child!;
    const t = Date.now();
    child.kill(signal);
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      child.kill("SIGKILL");
    }, boundMs);
    const exit = await child.exited;
    clearTimeout(timer);
    return { exit, ms: Date.now() - t, forced };
  }

  /** Teardown: a stopped process is continued first, so SIGTERM can act; SIGKILL after 3 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill("SIGCONT");
    await child.stop(3_000);
  }

  killNow(): void {
    for (const c of this.incarnations) c.kill("SIGKILL");
  }
}

class AgentProc {
  readonly incarnations: { child: Child; closed: Promise<void> }[] = [];

  constructor(
    readonly label: string,
    readonly broker: MeshBroker,
    private readonly capability: string,
  ) {}

  start(): void {
    const child = run(process.execPath, [agentBin(), "--url", this.broker.url, "--capability", this.capability], { label: `agent ${this.label}` });
    // 'close' comes after stdout ended: every line the agent wrote has been read by then.
    const closed = new Promise<void>((resolve) => child.proc.once("close", () => resolve()));
    this.incarnations.push({ child, closed });
  }

  get child(): Child {
    return this.incarnations[this.incarnations.length - 1]!.child;
  }

  /** The agent id of its live registration; undefined while it is not registered. */
  liveAgentId(): string | undefined {
    const lines = this.child.lines;
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!;
      if (line.startsWith("CLOSED ")) return undefined;
      if (line.startsWith("REGISTERED ")) return line.split(" ")[2];
    }
    return undefined;
  }

  async kill9(): Promise<void> {
    const inc = this.incarnations[this.incarnations.length - 1]!;
    inc.child.kill("SIGKILL");
    await inc.closed;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.incarnations.map(async (inc) => {
        inc.child.kill("SIGTERM");
        const timer = setTimeout(() => inc.child.kill("SIGKILL"), 3_000);
        await inc.closed;
        clearTimeout(timer);
      }),
    );
  }

  killNow(): void {
    for (const inc of this.incarnations) inc.child.kill("SIGKILL");
  }
}

interface Store {
  kind: StoreKind;
  join: string[];
  /** Every redis-server process it ran, for the logs. */
  readonly processes: { label: string; child: Child }[];
  /** Names the Redis fault (after the brokers' ids are known: on Cluster it picks the victim). */
  describeCrash(tags: string[]): Promise<string>;
  /** kill -9, then restart with its data; resolves once it serves again. */
  crash(): Promise<void>;
  stop(): Promise<void>;
  killNow(): void;
}

async function startStandalone(): Promise<Store> {
  const redis = await startRedis({ args: AOF });
  const processes = [{ label: `redis-${redis.port}`, child: redis.child }];
  return {
    kind: "redis",
    join: ["--redis", redis.url],
    processes,
    describeCrash: async () => `redis kill -9, restart (AOF)`,
    async crash() {
      await redis.stop(true);
      await redis.restart();
      processes.push({ label: `redis-${redis.port}`, child: redis.child });
    },
    stop: async () => void (await redis[Symbol.asyncDispose]()),
    killNow: () => processes.forEach((p) => p.child.kill("SIGKILL")),
  };
}

/** Hash slot ranges as startRedisCluster assigns them: node i owns the i-th of n equal ranges. */
const SLOTS = 16_384;

async function startCluster(): Promise<Store> {
  const cluster: RedisCluster = await startRedisCluster(3, { args: AOF });
  const processes = cluster.nodes.map((n) => ({ label: `redis-${n.port}`, child: n.child }));
  let victim: RedisInstance = cluster.nodes[0]!;
  const formed = async (): Promise<true | undefined> => {
    for (const n of cluster.nodes) {
      const info = await redisCli(n.port, "CLUSTER", "INFO").catch(() => "");
      if (!/^cluster_state:ok/m.test(info)) return undefined;
    }
    return true;
  };
  return {
    kind: "cluster",
    join: ["--redis-cluster", cluster.seeds],
    processes,
    async describeCrash(tags) {
      // The master holding most of the mesh's hash tags ({mesh} wins ties): its crash hits the most.
      const owner = new Map<number, string[]>();
      for (const tag of tags) {
        const slot = Number((await redisCli(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", `aw:${tag}:x`)).trim());
        let i = 0;
        while (i + 1 < cluster.nodes.length && Math.floor((SLOTS * (i + 1)) / cluster.nodes.length) <= slot) i++;
        owner.set(i, [...(owner.get(i) ?? []), tag]);
      }
      const [best] = [...owner.entries()].sort((a, b) => b[1].length - a[1].length || Number(b[1].includes("{mesh}")) - Number(a[1].includes("{mesh}")));
      victim = cluster.nodes[best![0]]!;
      return `redis master :${victim.port} kill -9, restart (AOF, nodes.conf); holds ${best![1].join(" ")}`;
    },
    async crash() {
      await victim.stop(true);
      await victim.restart();
      processes.push({ label: `redis-${victim.port}`, child: victim.child });
      // A restarted master refuses writes for 2 s (CLUSTER_WRITABLE_DELAY) before cluster_state:ok.
      await waitFor(formed, 20_000, "cluster_state:ok on every node after the restart");
    },
    stop: () => cluster.stop(),
    killNow: () => processes.forEach((p) => p.child.kill("SIGKILL")),
  };
}

// ---- the run -----------------------------------------------------------------------------------------

function abortable(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function listedOn(http: string): Promise<AgentInfo[] | undefined> {
  try {
    const res = await fetch(`${http}/v1/agents`, { signal: AbortSignal.timeout(2_000) });
    return ((await res.json()) as { agents?: AgentInfo[] }).agents ?? [];
  } catch {
    return undefined;
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const o = { ...CHAOS_DEFAULTS, ...options };
  // A fault's effects may show until reclaim (3 x liveness after the last refresh) and a second has passed.
  const settleMs = 3 * o.livenessMs + 1_000;
  if (o.stopMs <= 3 * o.livenessMs) throw new Error(`stopMs (${o.stopMs}) must exceed 3 x livenessMs (${3 * o.livenessMs})`);
  const signal = options.signal;
  const tag = randomBytes(3).toString("hex");
  const capability = `chaos-${tag}`;
  const say = (line: string): void => options.progress?.(line);
  let t0 = Date.now();
  const clock = (): string => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const clientLog: string[] = [];

  const brokers: MeshBroker[] = [];
  const agents: AgentProc[] = [];
  let store: Store | undefined;
  let client: ChaosClient | undefined;
  const killNow = (): void => {
    client?.close();
    for (const a of agents) a.killNow();
    for (const b of brokers) b.killNow();
    store?.killNow();
  };
  process.once("exit", killNow);

  let tornDown: Promise<void> | undefined;
  const teardown = (): Promise<void> =>
    (tornDown ??= (async () => {
      client?.close();
      await Promise.allSettled(agents.map((a) => a.stop()));
      await Promise.allSettled(brokers.map((b) => b.stop()));
      await store?.stop().catch(() => store?.killNow());
      process.off("exit", killNow);
    })());

  const faults: FaultRecord[] = [];
  try {
    say(`store: starting ${o.store === "redis" ? "redis-server (AOF)" : "3-master Redis Cluster (AOF)"}`);
    store = o.store === "redis" ? await startStandalone() : await startCluster();
    const ports = new Set<number>();
    while (ports.size < 3) ports.add(await freePort());
    const common = [
      ...store.join,
      "--mesh-liveness-ms", String(o.livenessMs),
      "--heartbeat-interval-ms", String(o.heartbeatIntervalMs),
      "--heartbeat-timeout-ms", String(o.heartbeatTimeoutMs),
      "--task-timeout-ms", String(o.taskTimeoutMs),
      "--max-attempts", String(o.maxAttempts),
      "--shutdown-grace-ms", String(o.shutdownGraceMs),
      "--log-level", "debug",
    ];
    const [portA, portB, portC] = [...ports] as [number, number, number];
    const [A, B, C] = [
      new MeshBroker("A", `chaos-a-${tag}`, portA, common),
      new MeshBroker("B", `chaos-b-${tag}`, portB, common),
      new MeshBroker("C", `chaos-c-${tag}`, portC, common),
    ];
    brokers.push(A, B, C);
    // allSettled: a broker that failed to start must not leave the others starting after teardown.
    const started = await Promise.allSettled(brokers.map((b) => b.start()));
    const failed = started.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    say(`brokers: A ${A.id} :${A.port}, B ${B.id} :${B.port}, C ${C.id} :${C.port}`);
    for (const b of [B, C]) for (let i = 0; i < o.agentsPerBroker; i++) agents.push(new AgentProc(`${b.name}${i}`, b, capability));
    for (const a of agents) a.start();
    await Promise.all(agents.map((a) => a.child.waitForLine(/^REGISTERED 1 /, 15_000)));
    signal?.throwIfAborted();

    client = new ChaosClient({
      urls: [A.url, B.url, C.url],
      capability,
      inflight: o.inflight,
      maxAttempts: o.maxAttempts,
      timeoutMs: o.taskTimeoutMs,
      keyPrefix: `k${tag}`,
      failoverMs: o.failoverMs,
      log: (line) => {
        clientLog.push(`${new Date().toISOString()} ${line}`);
        say(`${clock()} ${line}`);
      },
    });
    await client.start();
    const c = client;

    /** A lists every agent's live registration as ready and the client is registered. */
    const fullStrength = async (): Promise<true | undefined> => {
      if (!c.registered) return undefined;
      const ids = agents.map((a) => a.liveAgentId());
      if (ids.some((id) => id === undefined)) return undefined;
      const listed = await listedOn(A.http);
      return listed !== undefined && ids.every((id) => listed.some((x) => x.agent_id === id && x.status === "ready")) ? true : undefined;
    };
    const fullWithin = async (ms: number): Promise<number | undefined> => {
      try {
        await waitFor(fullStrength, ms, "full strength");
        return Date.now();
      } catch {
        return undefined;
      }
    };
    if ((await fullWithin(15_000)) === undefined) throw new Error("the mesh never reached full strength (A listing every agent) before the faults");

    const tags = ["{mesh}", ...brokers.map((b) => `{b:${b.id}}`)];
    const redisFault = await store.describeCrash(tags);
    const s = store;
    const allFaults: { id: FaultId; name: string; kind: FaultRecord["kind"]; act: (rec: FaultRecord) => Promise<void> }[] = [
      {
        id: "agent-kill",
        name: `agent kill -9 (agent ${agents[0]!.label} on B), started again`,
        kind: "agent",
        act: async () => {
          await agents[0]!.kill9();
          agents[0]!.start();
        },
      },
      {
        id: "b-kill",
        name: "broker B kill -9, restart (same id, port)",
        kind: "broker",
        act: async (rec) => {
          rec.note = `exit ${(await B.end("SIGKILL")).exit}`;
          await B.start();
        },
      },
      {
        id: "c-term",
        name: "broker C SIGTERM (graceful), restart (same id, port)",
        kind: "broker",
        act: async (rec) => {
          const e = await C.end("SIGTERM", o.shutdownGraceMs + 10_000);
          rec.note = `exit ${e.exit} after ${e.ms} ms${e.forced ? " (forced with SIGKILL)" : ""}`;
          await C.start();
        },
      },
      {
        id: "b-stop",
        name: `broker B SIGSTOP ${o.stopMs} ms (> 3 x liveness), SIGCONT`,
        kind: "broker",
        act: async () => {
          B.child!.kill("SIGSTOP");
          try {
            await abortable(o.stopMs, signal);
          } finally {
            B.child!.kill("SIGCONT");
          }
        },
      },
      { id: "redis-kill", name: redisFault, kind: "redis", act: () => s.crash() },
      {
        id: "a-kill",
        name: "broker A (the client's) kill -9, restart (same id, port)",
        kind: "broker",
        act: async (rec) => {
          rec.note = `exit ${(await A.end("SIGKILL")).exit}`;
          await A.start();
        },
      },
    ];

    const wanted = new Set(options.faults ?? FAULTS);
    const faultDefs = allFaults.filter((f) => wanted.has(f.id));

    // The schedule: warm-up, six evenly spaced faults (each no earlier than its predecessor's
    // recovery), then a tail of fault-free running before the last new key.
    t0 = Date.now();
    client.startSubmitting();
    const served = await client.servedAfter(0, 15_000);
    if (served === undefined) throw new Error("no task was answered before the faults");
    say(`${clock()} serving: first result after ${served - t0} ms; ${faultDefs.length} faults over ${o.durationMs / 1000} s`);
    const edge = Math.min(5_000, Math.max(1_000, o.durationMs / 10));
    const slot = Math.max(0, o.durationMs - 2 * edge) / Math.max(1, faultDefs.length);
    let settled = 0;
    for (const [i, def] of faultDefs.entries()) {
      // Not before the previous fault has settled: each re-run or error is then one fault's doing.
      await abortable(Math.max(t0 + edge + i * slot, settled) - Date.now(), signal);
      const rec: FaultRecord = { n: i + 1, name: def.name, kind: def.kind, at: Date.now(), restoredAt: 0, servedAt: undefined, fullAt: undefined, note: "" };
      faults.push(rec);
      say(`${clock()} fault ${rec.n}/${faultDefs.length}: ${def.name}`);
      client.kick();
      await def.act(rec);
      rec.restoredAt = Date.now();
      const [servedAt, fullAt] = await Promise.all([client.servedAfter(rec.at - 1, o.recoverMs), fullWithin(o.recoverMs)]);
      rec.servedAt = servedAt;
      rec.fullAt = fullAt;
      const ms = (t: number | undefined): string => (t === undefined ? `not within ${o.recoverMs} ms` : `${t - rec.at} ms`);
      say(`${clock()}   ${rec.note === "" ? "" : `${rec.note}; `}restored after ${rec.restoredAt - rec.at} ms, serves again after ${ms(servedAt)}, full strength after ${ms(fullAt)}`);
      settled = Math.max(rec.restoredAt, servedAt ?? Date.now(), fullAt ?? Date.now()) + settleMs;
      signal?.throwIfAborted();
    }
    await abortable(Math.max(t0 + o.durationMs, settled) - Date.now(), signal);
    client.stopSubmitting();
    say(`${clock()} no new keys; waiting up to ${o.drainMs} ms for ${client.openKeys} open ones`);
    const drained = await client.drained(o.drainMs);
    const endedAt = Date.now();
    say(`${clock()} ${drained ? "every key answered" : `${client.openKeys} keys still open`}; stopping`);
    await teardown();

    // Every agent's stdout has ended: all EXEC lines are in.
    const execs: Exec[] = [];
    for (const a of agents) {
      for (const [n, inc] of a.incarnations.entries()) {
        for (const line of inc.child.lines) {
          const m = /^EXEC (\S+) (\d+) (\S+) (\d+)$/.exec(line);
          if (m !== null) execs.push({ agent: `${a.label}#${n + 1}`, broker: a.broker.name, taskId: m[1]!, attempt: Number(m[2]), key: m[3]!, at: Number(m[4]) });
        }
      }
    }
    const evictions: Eviction[] = [];
    for (const b of brokers) {
      for (const child of b.incarnations) {
        for (const line of child.lines) {
          if (!line.includes('"evicting silent session"')) continue;
          try {
            const j = JSON.parse(line) as { time: number; agent_id: string };
            evictions.push({ broker: b.name, agentId: j.agent_id, at: j.time });
          } catch {
            // not a log line
          }
        }
      }
    }
    const report = analyse({
      store: o.store,
      storeNote: o.store === "redis" ? "standalone redis-server, AOF fsync always" : "3-master Redis Cluster, AOF fsync always",
      durationMs: o.durationMs,
      inflight: o.inflight,
      drainMs: o.drainMs,
      livenessMs: o.livenessMs,
      settleMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      heartbeatTimeoutMs: o.heartbeatTimeoutMs,
      taskTimeoutMs: o.taskTimeoutMs,
      maxAttempts: o.maxAttempts,
      agentsPerBroker: o.agentsPerBroker,
      startedAt: t0,
      endedAt,
      keys: [...client.keys.values()],
      strays: client.strays,
      sharedTaskIds: client.sharedTaskIds,
      otherErrors: client.otherErrors,
      connections: client.connections,
      brokerUrls: { [A.url]: "A", [B.url]: "B", [C.url]: "C" },
      execs,
      evictions,
      faults,
    });
    if (options.logDir !== undefined) writeLogs(options.logDir, o.store, brokers, agents, store, clientLog, report);
    return report;
  } catch (err) {
    if (options.logDir !== undefined) {
      try {
        await teardown();
        writeLogs(options.logDir, o.store, brokers, agents, store, clientLog, undefined);
      } catch {
        // the original error matters more
      }
    }
    throw err;
  } finally {
    await teardown();
  }
}

function writeLogs(dir: string, storeKind: string, brokers: MeshBroker[], agents: AgentProc[], store: Store | undefined, clientLog: string[], report: ChaosReport | undefined): void {
  const base = join(dir, storeKind);
  mkdirSync(base, { recursive: true });
  for (const b of brokers) b.incarnations.forEach((c, i) => writeFileSync(join(base, `broker-${b.name}.${i + 1}.log`), `${c.lines.join("\n")}\n`));
  for (const a of agents) a.incarnations.forEach((inc, i) => writeFileSync(join(base, `agent-${a.label}.${i + 1}.log`), `${inc.child.lines.join("\n")}\n`));
  const seen = new Map<string, number>();
  for (const p of store?.processes ?? []) {
    const n = (seen.get(p.label) ?? 0) + 1;
    seen.set(p.label, n);
    writeFileSync(join(base, `${p.label}.${n}.log`), `${p.child.lines.join("\n")}\n`);
  }
  writeFileSync(join(base, "client.log"), `${clientLog.join("\n")}\n`);
  if (report !== undefined) {
    writeFileSync(join(base, "report.md"), `${report.table}\n`);
    writeFileSync(join(base, "violations.json"), `${JSON.stringify(report.violatingKeys, null, 1)}\n`);
    writeFileSync(join(base, "notable.json"), `${JSON.stringify(report.notableKeys, null, 1)}\n`);
  }
}
