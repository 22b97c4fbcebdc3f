/**
 * The four backends a suite runs against, each made of real `agentwire-broker` processes (startBroker):
 * `memory` one broker alone; `redis` the same bin joined to a mesh (`--redis`) on its own private
 * redis-server; `mesh` brokers A and B on one private redis-server, clients on A and agents on B, so
 * every task, request and message crosses brokers; `mesh-cluster` the same pair on a private 3-master
 * Redis Cluster (`--redis-cluster`).
 *
 * `STORES` are the two places a mesh keeps its state (standalone Redis, 3-master Cluster), for the
 * mesh-specific suites to run against both. No vitest import here: a test file that starts cluster
 * stores calls `releaseClusters()` after its tests (broker/test/helpers/backends.ts does it for the
 * broker suites).
 */
import { rmSync } from "node:fs";
import { Cluster, Redis } from "ioredis";
import { agentsOn, startBroker, type RunningBroker } from "./broker.js";
import { waitFor } from "./process.js";
import { startRedis } from "./redis.js";
import { startRedisCluster, type RedisCluster } from "./redis-cluster.js";

export interface BackendFactory {
  /** memory, redis, mesh or mesh-cluster. */
  name: string;
  /** Starts it with `args` for every broker process. */
  start(args?: string[]): Promise<RunningBroker>;
}

/**
 * A broker joined to a Redis mesh (`--redis`) on its own private redis-server, stopped with it. One
 * Redis per broker keeps suites isolated: brokers sharing a Redis would see each other's agents.
 */
export async function startRedisBroker(args: string[] = []): Promise<RunningBroker> {
  const redis = await startRedis();
  let broker: RunningBroker;
  try {
    broker = await startBroker(["--redis", redis.url, ...args]);
  } catch (err) {
    await redis[Symbol.asyncDispose]();
    throw err;
  }
  const stop = async (graceMs?: number): Promise<number | string> => {
    try {
      return await broker.stop(graceMs);
    } finally {
      await redis[Symbol.asyncDispose]();
    }
  };
  return {
    child: broker.child,
    port: broker.port,
    url: broker.url,
    http: broker.http,
    agentUrl: broker.agentUrl,
    agentHttp: broker.agentHttp,
    visible: broker.visible,
    gone: broker.gone,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}

/** A private place for one mesh's state, started for it and stopped with it. */
export interface MeshStore extends AsyncDisposable {
  /** `redis` (one redis-server) or `cluster` (three masters, no replicas). */
  readonly name: string;
  /** Broker arguments that join it: `--redis <url>` or `--redis-cluster <seeds>`. */
  readonly join: string[];
  /** The same, as `RedisBackendOptions.target` for an in-process backend. */
  readonly target: { url: string; cluster: string };
  /**
   * A new client for inspecting and injecting keys (`disconnect()` it). On Cluster an ioredis
   * `Cluster`, typed as `Redis` as in broker/src/redis/connections.ts: single-key commands and
   * same-slot pipelines behave the same.
   */
  admin(): Redis;
  stop(): Promise<void>;
}

export interface StoreFactory {
  name: string;
  start(): Promise<MeshStore>;
}

export async function startRedisStore(): Promise<MeshStore> {
  const redis = await startRedis();
  const stop = async (): Promise<void> => void (await redis[Symbol.asyncDispose]());
  return { name: "redis", join: ["--redis", redis.url], target: { url: redis.url, cluster: "" }, admin: () => new Redis(redis.url), stop, [Symbol.asyncDispose]: stop };
}

/**
 * 3-master clusters of this process (one test file) that no store holds. Forming one takes at least
 * 2 s (Redis keeps a new master's cluster_state at fail for 2 s after its start), so a cluster store's
 * `stop` — called after its brokers have exited — flushes every master (no key of the old mesh
 * survives) and keeps the cluster here for the next store. Whatever the tests do in between, each
 * store starts on an empty cluster with `cluster_state:ok` on every node. `releaseClusters()` stops
 * them all.
 */
const idleClusters: RedisCluster[] = [];
const liveClusters = new Set<RedisCluster>();

/** Stops every cluster this process started for stores (call it after the file's tests). */
export async function releaseClusters(): Promise<void> {
  const all = [...liveClusters];
  liveClusters.clear();
  idleClusters.length = 0;
  await Promise.allSettled(all.map((c) => c.stop()));
}

// A process that exits without releaseClusters (a crash, a hook timeout) leaves no redis-server behind.
process.once("exit", () => {
  for (const c of liveClusters) {
    for (const n of c.nodes) {
      n.child.kill("SIGKILL");
      rmSync(n.dir, { recursive: true, force: true });
    }
  }
});

/**
 * A mesh store on an empty 3-master (by default) Redis Cluster: an idle one of this process's, flushed
 * by its previous store, or a new one. `stop` flushes it and keeps it for the next store; a cluster
 * that no longer says `cluster_state:ok` everywhere is stopped instead.
 */
export async function startClusterStore(masters = 3): Promise<MeshStore> {
  const i = idleClusters.findIndex((c) => c.nodes.length === masters);
  const cluster = i >= 0 ? idleClusters.splice(i, 1)[0]! : await startRedisCluster(masters);
  liveClusters.add(cluster);
  const nodes = cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await cluster.flush();
      if (liveClusters.has(cluster)) idleClusters.push(cluster);
    } catch {
      liveClusters.delete(cluster);
      await cluster.stop();
    }
  };
  return {
    name: "cluster",
    join: ["--redis-cluster", cluster.seeds],
    target: { url: "", cluster: cluster.seeds },
    admin: () => new Cluster(nodes) as unknown as Redis,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Standalone Redis and a 3-master Redis Cluster, for `describe.each` in the mesh suites. */
export const STORES: StoreFactory[] = [
  { name: "redis", start: startRedisStore },
  { name: "cluster", start: () => startClusterStore(3) },
];

/**
 * Brokers A and B with the same arguments on one private store (a redis-server, or a Cluster):
 * `url`/`http` are A's, `agentUrl` is B's, and `visible` polls A's `GET /v1/agents` until B's agent
 * shows up there.
 */
export async function startMeshPair(args: string[] = [], storeFactory: StoreFactory = STORES[0]!): Promise<RunningBroker> {
  const store = await storeFactory.start();
  const started: RunningBroker[] = [];
  const stop = async (graceMs?: number): Promise<number | string> => {
    try {
      const codes = await Promise.all(started.map((b) => b.stop(graceMs)));
      return codes[0] ?? 0;
    } finally {
      await store.stop();
    }
  };
  try {
    for (const name of ["a", "b"]) started.push(await startBroker([...store.join, "--broker-id", `mesh-${name}`, ...args], { label: `broker mesh-${name}` }));
  } catch (err) {
    await stop();
    throw err;
  }
  const [a, b] = started as [RunningBroker, RunningBroker];
  const visible = async (agentId: string, token?: string, status?: string): Promise<void> => {
    const what = `agent ${agentId} on broker B to be listed by broker A${status === undefined ? "" : ` as ${status}`}`;
    await waitFor(async () => ((await agentsOn(a, token)).some((x) => x.agent_id === agentId && (status === undefined || x.status === status)) ? true : undefined), 10_000, what);
  };
  const gone = async (agentId: string): Promise<void> => {
    await waitFor(async () => ((await agentsOn(a)).some((x) => x.agent_id === agentId) ? undefined : true), 10_000, `broker A to forget agent ${agentId}`);
  };
  return {
    child: a.child,
    port: a.port,
    url: a.url,
    http: a.http,
    agentUrl: b.url,
    agentHttp: b.http,
    visible,
    gone,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}

/** memory, redis, mesh and mesh-cluster: `describe.each(BACKENDS)` runs a suite on each. */
export const BACKENDS: BackendFactory[] = [
  { name: "memory", start: (args) => startBroker(args) },
  { name: "redis", start: (args) => startRedisBroker(args) },
  { name: "mesh", start: (args) => startMeshPair(args) },
  { name: "mesh-cluster", start: (args) => startMeshPair(args, STORES[1]) },
];
