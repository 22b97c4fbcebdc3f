import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { waitFor } from "./process.js";
import { startRedis, type RedisInstance } from "./redis.js";

const exec = promisify(execFile);

export const REDIS_CLI = process.env.AGENTWIRE_REDIS_CLI ?? "/usr/bin/redis-cli";

/** Slots of a Redis Cluster (CLUSTER_SLOTS). */
const SLOTS = 16_384;

export interface RedisCluster extends AsyncDisposable {
  /** The masters, in slot order: node i owns the i-th of `masters` equal slot ranges. */
  readonly nodes: RedisInstance[];
  /** Seed list for `agentwire-broker --redis-cluster`: `127.0.0.1:port,...`, every master. */
  readonly seeds: string;
  /**
   * Empties it for reuse: FLUSHALL on every master, then checks that every node still reports
   * `cluster_state:ok` (throws otherwise). Forming a cluster takes at least 2 s (a new master stays
   * `fail` for Redis' CLUSTER_WRITABLE_DELAY), flushing a few milliseconds.
   */
  flush(): Promise<void>;
  /** Stops every node and removes their directories (same as dispose). */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** `cluster-node-timeout` in ms (default 5000: no failover decisions during a test). */
  nodeTimeoutMs?: number;
  /**
   * Extra `redis-server` arguments for every node, e.g. `["--appendonly", "yes"]` so a node killed
   * with SIGKILL and `restart()`ed (same port, directory and nodes.conf) comes back with its data.
   */
  args?: string[];
}

/** Runs one command with `redis-cli` against a node; resolves with its raw output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout;
}

/**
 * A private Redis Cluster of `masters` redis-server processes (no replicas) on free loopback ports,
 * each with `--cluster-enabled yes` and an explicit free `--cluster-port` (startRedis's `clusterBus`; the default port + 10000 does
 * not exist for a port above 55535, and the kernel hands out ports up to 60999). The slots are
 * assigned with CLUSTER ADDSLOTSRANGE, distinct config epochs set, every pair of nodes joined with
 * CLUSTER MEET, and the promise resolves once every node reports `cluster_state:ok` and knows every
 * master: the same end state as `redis-cli --cluster create`, without its one-second polling. Takes
 * about 2 s, Redis' own delay before a new master serves (CLUSTER_WRITABLE_DELAY). Dispose (or
 * `stop`) ends the nodes; `flush` empties the cluster for reuse. Needs `redis-cli` (REDIS_CLI).
 */
export async function startRedisCluster(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
  if (!Number.isInteger(masters) || masters < 1 || masters > 16) throw new Error(`startRedisCluster: masters must be 1..16, got ${masters}`);
  const nodes: RedisInstance[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n[Symbol.asyncDispose]()));
  };
  try {
    const started = await Promise.allSettled(
      Array.from({ length: masters }, () =>
        startRedis({
          clusterBus: true,
          args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(options.nodeTimeoutMs ?? 5_000), ...(options.args ?? [])],
        }),
      ),
    );
    for (const s of started) if (s.status === "fulfilled") nodes.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;

    await Promise.all(
      nodes.map(async (n, i) => {
        const first = Math.floor((SLOTS * i) / masters);
        const last = Math.floor((SLOTS * (i + 1)) / masters) - 1;
        expectOk(await redisCli(n.port, "CLUSTER", "ADDSLOTSRANGE", String(first), String(last)), n.port);
        expectOk(await redisCli(n.port, "CLUSTER", "SET-CONFIG-EPOCH", String(i + 1)), n.port);
      }),
    );
    // Every node meets every other itself: learning of a third node from gossip takes whole seconds
    // (a node pings one random peer per second).
    await Promise.all(
      nodes.flatMap((from, i) =>
        nodes.slice(i + 1).map(async (to) => expectOk(await redisCli(from.port, "CLUSTER", "MEET", to.host, String(to.port), String(to.busPort)), from.port)),
      ),
    );

    await waitFor(async () => ((await formed(nodes, masters)) ? true : undefined), 20_000, `a ${masters}-master cluster with cluster_state:ok on every node`);
  } catch (err) {
    await stop();
    throw err;
  }
  const flush = async (): Promise<void> => {
    await Promise.all(nodes.map(async (n) => expectOk(await redisCli(n.port, "FLUSHALL"), n.port)));
    if (!(await formed(nodes, masters))) throw new Error(`redis cluster ${nodes.map((n) => n.port).join(",")}: no longer cluster_state:ok on every node`);
  };
  return {
    nodes,
    seeds: nodes.map((n) => `${n.host}:${n.port}`).join(","),
    flush,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Every node says cluster_state:ok and knows `masters` masters that serve slots. */
async function formed(nodes: RedisInstance[], masters: number): Promise<boolean> {
  for (const n of nodes) {
    const info = await redisCli(n.port, "CLUSTER", "INFO");
    const field = (name: string): string | undefined => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
    if (field("cluster_state") !== "ok" || field("cluster_known_nodes") !== String(masters) || field("cluster_size") !== String(masters)) return false;
  }
  return true;
}

function expectOk(reply: string, port: number): void {
  if (reply.trim() !== "OK") throw new Error(`redis-cli on ${port}: expected OK, got ${JSON.stringify(reply.trim())}`);
}
