/**
 * Broker factories for the shared suite: each starts the real `agentwire-broker` bin as a child
 * process on port 0 and reads the port from its `listening` log line. `memory` is the default
 * backend, `redis` the same bin joined to a mesh (`--redis`) on a private redis-server, `mesh`
 * two brokers A and B on one private redis-server: clients talk to A, agents register on B, so every
 * task, request and message of the suite crosses brokers; `mesh-cluster` the same pair on a private
 * 3-master Redis Cluster (`--redis-cluster`).
 *
 * `STORES` are the two places a mesh keeps its state (standalone Redis, 3-master Cluster), for the
 * mesh-specific suites to run against both.
 */
import { rmSync } from "node:fs";
import { Cluster, Redis } from "ioredis";
import { afterAll } from "vitest";
import type { Register } from "@agentwire/wire";
import { startRedis, startRedisCluster, waitFor, type RedisCluster } from "@agentwire/testkit";
import { agentsOn, startBrokerProcess, type RunningBroker } from "./broker-process.js";
import { Peer, type ConnectOptions } from "./peer.js";

export { agentsOn, brokerBin, startBrokerProcess, type RunningBroker } from "./broker-process.js";

/**
 * Registers a peer where the backend puts it — an agent on `agentUrl`, a client on `url` — and, for
 * an agent, waits until the client side can route to it. The token (register field or bearer
 * header) also authorizes the visibility probe.
 */
export async function registerOn(broker: RunningBroker, register: Omit<Register, "type"> = {}, options?: ConnectOptions): Promise<Peer> {
  const agent = (register.capabilities?.length ?? 0) > 0;
  const p = await Peer.register(agent ? broker.agentUrl : broker.url, register, options);
  if (agent) await broker.visible(p.agentId, register.token ?? options?.headers?.authorization?.replace(/^Bearer /, ""));
  return p;
}

export interface BackendFactory {
  name: string;
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
    broker = await startBrokerProcess(["--redis", redis.url, ...args]);
  } catch (err) {
    await redis[Symbol.asyncDispose]();
    throw err;
  }
  const stop = async (): Promise<number | string> => {
    try {
      return await broker.stop();
    } finally {
      await redis[Symbol.asyncDispose]();
    }
  };
  return { ...broker, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
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
 * 3-master clusters of this test file that no store holds. Forming one takes at least 2 s (Redis keeps
 * a new master's cluster_state at fail for 2 s after its start), so a cluster store's `stop` — called
 * after its brokers have exited — flushes every master (no key of the old mesh survives) and keeps
 * the cluster here for the file's next store. Whatever the tests do in between, each store starts
 * on an empty cluster with `cluster_state:ok` on every node. All are stopped after the file.
 */
const idleClusters: RedisCluster[] = [];
const liveClusters = new Set<RedisCluster>();

afterAll(async () => {
  const all = [...liveClusters];
  liveClusters.clear();
  idleClusters.length = 0;
  await Promise.allSettled(all.map((c) => c.stop()));
});

// A worker that exits without its afterAll (a crash, a hook timeout) leaves no redis-server behind.
process.once("exit", () => {
  for (const c of liveClusters) {
    for (const n of c.nodes) {
      n.child.kill("SIGKILL");
      rmSync(n.dir, { recursive: true, force: true });
    }
  }
});

/**
 * A mesh store on an empty 3-master (by default) Redis Cluster: an idle one of this file's, flushed
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
  const stop = async (): Promise<number | string> => {
    try {
      const codes = await Promise.all(started.map((b) => b.stop()));
      return codes[0] ?? 0;
    } finally {
      await store.stop();
    }
  };
  try {
    for (const name of ["a", "b"]) started.push(await startBrokerProcess([...store.join, "--broker-id", `mesh-${name}`, ...args]));
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
  return { ...a, agentUrl: b.url, agentHttp: b.http, visible, gone, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}

export const BACKENDS: BackendFactory[] = [
  { name: "memory", start: (args) => startBrokerProcess(args) },
  { name: "redis", start: (args) => startRedisBroker(args) },
  { name: "mesh", start: (args) => startMeshPair(args) },
  { name: "mesh-cluster", start: (args) => startMeshPair(args, STORES[1]) },
];
