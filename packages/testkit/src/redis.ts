import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, run, type Child, type LocalServer } from "./process.js";

export const REDIS_SERVER = process.env.AGENTWIRE_REDIS_SERVER ?? "/usr/bin/redis-server";

export type RedisInstance = LocalServer;

export interface RedisOptions {
  port?: number;
  /** Extra `redis-server` arguments, e.g. ["--cluster-enabled", "yes"]. */
  args?: string[];
}

/**
 * A private redis-server on a free loopback port, in its own temp dir, persisting nothing. Tests never
 * touch a Redis they did not start: the port comes from the kernel, never 6379.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisInstance> {
  const port = options.port ?? (await freePort());
  if (port === 6379) throw new Error("refusing to use port 6379: it belongs to the machine's shared Redis");
  const dir = mkdtempSync(join(tmpdir(), "agentwire-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", ...(options.args ?? [])];
  const spawnOnce = async (): Promise<Child> => {
    const child = run(REDIS_SERVER, args, { label: `redis:${port}` });
    await child.waitForLine(/Ready to accept connections/i, 15_000);
    return child;
  };
  let child = await spawnOnce();
  const instance: RedisInstance = {
    host: "127.0.0.1",
    port,
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
