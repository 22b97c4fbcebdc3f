/**
 * Broker factories for the shared suite: each starts the real `agentwire-broker` bin as a child
 * process on port 0 and reads the port from its `listening` log line. Only `memory` exists now; a
 * Redis mesh factory joins this list later.
 */
import { fileURLToPath } from "node:url";
import { run, type Child } from "@agentwire/testkit";

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

export const BACKENDS: BackendFactory[] = [{ name: "memory", start: (args) => startBrokerProcess(args) }];
