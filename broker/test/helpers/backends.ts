/**
 * Broker factories for the shared suite: each starts the real `agentwire-broker` bin as a child
 * process on port 0 and reads the port from its `listening` log line. `memory` is the default
 * backend, `redis` the same bin joined to a mesh (`--redis`) on a private redis-server. Both talk to
 * one broker URL, so the shared suites do not route across brokers yet (docs/decisions/003).
 */
import { fileURLToPath } from "node:url";
import { run, startRedis, type Child } from "@agentwire/testkit";

export interface RunningBroker extends AsyncDisposable {
  readonly child: Child;
  readonly port: number;
  readonly url: string;
  readonly http: string;
  stop(): Promise<number | string>;
}

export async function startBrokerProcess(args: string[] = [], env: Record<string, string> = {}): Promise<RunningBroker> {
  const child = run(process.execPath, [brokerBin(), "--port", "0", ...args], { label: "broker", env: { ...process.env, ...env } });
  const m = await child.waitForLine(/"msg":"listening"/, 15_000);
  const port = (JSON.parse(m.input!) as { port: number }).port;
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}/`,
    http: `http://127.0.0.1:${port}`,
    stop: () => child.stop(),
    [Symbol.asyncDispose]: async () => {
      await child.stop();
    },
  };
}

/** The bin path, whether this file runs from test/ (vitest) or dist/test/. */
export function brokerBin(): string {
  const here = fileURLToPath(import.meta.url);
  const root = here.slice(0, here.lastIndexOf("/broker/") + "/broker/".length);
  return `${root}dist/src/bin.js`;
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

export const BACKENDS: BackendFactory[] = [
  { name: "memory", start: (args) => startBrokerProcess(args) },
  { name: "redis", start: (args) => startRedisBroker(args) },
];
