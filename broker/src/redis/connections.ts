/**
 * The fixed set of Redis connections of one broker: whatever the number of tasks in flight, a broker
 * holds exactly these four (per Cluster node on Cluster). Each is named `aw:<broker>:<role>` so
 * `CLIENT LIST` shows who holds what.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";

export const ROLES = ["cmd", "tasks", "ready", "sub"] as const;

/** The longest wait between two reconnection attempts: a broker is back at most this long after Redis is. */
export const RECONNECT_MAX_MS = 1_000;
export type Role = (typeof ROLES)[number];

export interface RedisTarget {
  /** redis://host:port, or "" when `cluster` is given. */
  url: string;
  /** Cluster seed nodes `host:port,...`, or "". */
  cluster: string;
}

export function connect(target: RedisTarget, brokerId: string, role: Role): Redis {
  const options: RedisOptions = {
    connectionName: `aw:${brokerId}:${role}`,
    lazyConnect: true,
    // Blocking reads must wait across a Redis restart instead of failing after 20 retries.
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * times, RECONNECT_MAX_MS),
    // `cmd` carries one command or script per task step: those issued in one event-loop turn go out
    // in one socket write (ioredis auto-pipelining) instead of one write each. Not on Cluster: there
    // ioredis groups auto-pipelined commands by the slot of their first argument, and a script called
    // with its key count first (store-responses) could overtake the progress entries queued before it.
    enableAutoPipelining: role === "cmd" && target.cluster === "",
  };
  if (target.cluster !== "") {
    const nodes = target.cluster.split(",").map((n) => {
      const [host, port] = n.split(":");
      return { host: host!, port: Number(port) };
    });
    // A Cluster exposes the same command API; the union would only burden every call site.
    // `sub` uses SSUBSCRIBE: sharded subscribers connect to the node owning the `{mesh}` slot.
    return new Cluster(nodes, { redisOptions: options, lazyConnect: true, shardedSubscribers: role === "sub" }) as unknown as Redis;
  }
  return new Redis(target.url, options);
}

/**
 * When a broker writes the commands a callback queued (results, records, hand-offs): with `cmd`
 * auto-pipelined (standalone Redis) once the callback has run, so they join the turn's one write
 * (ioredis sends it from setImmediate; deferring to setImmediate ourselves cost a second loop
 * iteration); on Cluster, where each command is written at once, at the end of the turn, so a turn's
 * results still make one command.
 */
export function deferWrites(target: RedisTarget): (write: () => void) => void {
  return target.cluster === "" ? (write) => process.nextTick(write) : (write) => void setImmediate(write);
}
