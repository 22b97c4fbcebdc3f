import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, run, type Child, type LocalServer } from "./process.js";

export const REDIS_SERVER = process.env.AGENTWIRE_REDIS_SERVER ?? "/usr/bin/redis-server";

export interface RedisInstance extends LocalServer {
  /** The cluster bus port of a Cluster node (`clusterBus`), else undefined. */
  readonly busPort?: number | undefined;
}

export interface RedisOptions {
  port?: number;
  /** Extra `redis-server` arguments, e.g. ["--cluster-enabled", "yes"]. */
  args?: string[];
  /** A Cluster node: also binds a cluster bus port (`--cluster-port`), a free one chosen with the port. */
  clusterBus?: boolean;
}

/** Attempts at a server whose free port another process took between its choice and the bind. */
const BIND_ATTEMPTS = 5;

/**
 * A private redis-server on a free loopback port, in its own temp dir, persisting nothing. Tests never
 * touch a Redis they did not start: the port comes from the kernel, never 6379. A port chosen here
 * (not given) that another process bound meanwhile is chosen again.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisInstance> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const bus = options.clusterBus === true ? await freePort() : undefined;
    try {
      return await launch(port, bus, options.args ?? []);
    } catch (err) {
      const taken = /Address already in use/.test(String(err));
      if (!taken || attempt === BIND_ATTEMPTS || options.port !== undefined) throw err;
    }
  }
}

async function launch(port: number, bus: number | undefined, extra: readonly string[]): Promise<RedisInstance> {
  if (port === 6379) throw new Error("refusing to use port 6379: it belongs to the machine's shared Redis");
  const dir = mkdtempSync(join(tmpdir(), "agentwire-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", ...(bus === undefined ? [] : ["--cluster-port", String(bus)]), ...extra];
  const spawnOnce = async (): Promise<Child> => {
    const child = run(REDIS_SERVER, args, { label: `redis:${port}` });
    await child.waitForLine(/Ready to accept connections/i, 15_000);
    return child;
  };
  let child: Child;
  try {
    child = await spawnOnce();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const instance: RedisInstance = {
    host: "127.0.0.1",
    port,
    busPort: bus,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get child() {
      return child;
    },
    async stop(hard = false) {
      if (hard) {
        child.kill("SIGKILL");
        await child.exited;
      } else await child.stop();
    },
    async restart() {
      child = await spawnOnce();
    },
    async [Symbol.asyncDispose]() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return instance;
}
