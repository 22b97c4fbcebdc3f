/**
 * A real `agentwire-broker` process for tests and the chaos harness, and the HTTP agent listing. No
 * vitest import here, so scripts run outside vitest (broker/test/chaos/cli.ts) can use it too;
 * backends.ts re-exports all of it.
 */
import { fileURLToPath } from "node:url";
import type { AgentInfo } from "@agentwire/wire";
import { run, type Child } from "@agentwire/testkit";

export interface RunningBroker extends AsyncDisposable {
  readonly child: Child;
  readonly port: number;
  /** Where clients connect (and HTTP calls go). */
  readonly url: string;
  readonly http: string;
  /** Where agents (sessions with capabilities) connect: `url`, or another broker of the mesh. */
  readonly agentUrl: string;
  /** HTTP base of the agents' broker. */
  readonly agentHttp: string;
  /**
   * Resolves once the client-side broker lists agent `agentId` (with `status`, when given) — at once
   * for a single broker. A mesh shares its registry within milliseconds, not atomically; `token`
   * authorizes the HTTP probe.
   */
  visible(agentId: string, token?: string, status?: string): Promise<void>;
  /** Resolves once the client-side broker no longer lists agent `agentId` (at once for a single broker). */
  gone(agentId: string): Promise<void>;
  stop(): Promise<number | string>;
}

/** The agents a broker lists on GET /v1/agents (its own and, in a mesh, the others'); `token` authorizes. */
export async function agentsOn(broker: { readonly http: string }, token?: string): Promise<AgentInfo[]> {
  const res = await fetch(`${broker.http}/v1/agents`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { agents?: AgentInfo[] }).agents ?? [];
}

/**
 * Starts the `agentwire-broker` bin on port 0 (a later `--port` in `args` wins) and resolves once its
 * `listening` log line names the port. `label` prefixes its lines under AGENTWIRE_TEST_VERBOSE.
 */
export async function startBrokerProcess(args: string[] = [], env: Record<string, string> = {}, label = "broker"): Promise<RunningBroker> {
  const child = run(process.execPath, [brokerBin(), "--port", "0", ...args], { label, env: { ...process.env, ...env } });
  let m: RegExpMatchArray;
  try {
    m = await child.waitForLine(/"msg":"listening"/, 15_000);
  } catch (err) {
    child.kill("SIGKILL"); // a broker that did not come up in time is not left behind
    throw err;
  }
  const port = (JSON.parse(m.input!) as { port: number }).port;
  return {
    child,
    port,
    url: `ws://127.0.0.1:${port}/`,
    http: `http://127.0.0.1:${port}`,
    agentUrl: `ws://127.0.0.1:${port}/`,
    agentHttp: `http://127.0.0.1:${port}`,
    visible: async () => {},
    gone: async () => {},
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
