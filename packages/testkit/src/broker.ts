/**
 * The one way tests, the chaos harness, the conformance suite's tests and the bench start a real
 * `agentwire-broker`: the bin as a child process, on port 0 unless told otherwise, its port read from
 * its JSON `listening` log line. No vitest import here: scripts outside vitest use it too.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentInfo } from "@agentwire/wire";
import { run, type Child } from "./process.js";

/** The broker's `listening` log line (pino JSON: `{"level":30,...,"port":N,...,"msg":"listening"}`). */
export const LISTENING = /"msg":"listening"/;

/** The workspace root (the folder with pnpm-workspace.yaml), from this file in src/ or dist/src/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("testkit: workspace root (pnpm-workspace.yaml) not found");
    dir = up;
  }
  return dir;
}

/** The built `agentwire-broker` bin of this workspace (`pnpm build` makes it). */
export function brokerBin(): string {
  return join(repoRoot(), "broker", "dist", "src", "bin.js");
}

/**
 * What a test talks to: one broker, or (a mesh backend) the broker clients use plus the broker agents
 * register on. For one broker `agentUrl` is `url` and `visible`/`gone` resolve at once.
 */
export interface RunningBroker extends AsyncDisposable {
  /** The (client-side) broker's process. */
  readonly child: Child;
  readonly port: number;
  /** Where clients connect (and HTTP calls go): `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly http: string;
  /** Where agents (sessions with capabilities) connect: `url`, or another broker of the mesh. */
  readonly agentUrl: string;
  /** HTTP base of the agents' broker. */
  readonly agentHttp: string;
  /**
   * Resolves once the client-side broker lists agent `agentId` (with `status`, when given) — at once
   * for a single broker. A mesh shares its registry within milliseconds, not atomically (MESH-1);
   * `token` authorizes the HTTP probe.
   */
  visible(agentId: string, token?: string, status?: string): Promise<void>;
  /** Resolves once the client-side broker no longer lists agent `agentId` (at once for a single broker). */
  gone(agentId: string): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); resolves with the exit (of A, for a pair). */
  stop(graceMs?: number): Promise<number | string>;
}

/** One broker process, which can be started again on its port. */
export interface BrokerProcess extends RunningBroker {
  /** Stops the current process if it still runs, then starts a new one with the same arguments on the same port. */
  restart(): Promise<void>;
}

export interface BrokerOptions {
  /** Extra environment, over this process's. */
  env?: Record<string, string>;
  /** Prefix of its lines under AGENTWIRE_TEST_VERBOSE (default `broker`). */
  label?: string;
  /** The port (default 0: the kernel picks one). A `--port` in `args` wins over it. */
  port?: number;
  /** The bin (default: this workspace's `broker/dist/src/bin.js`). */
  bin?: string;
  /** Node flags before the bin, e.g. `--inspect=127.0.0.1:0` or `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** How long to wait for the `listening` line (default 20 s). */
  timeoutMs?: number;
  /** Called with every process started (the first and each restart), e.g. to kill it on exit. */
  onSpawn?: (child: Child) => void;
}

/**
 * Starts the `agentwire-broker` bin with `args` and resolves once its `listening` log line names the
 * port. A broker that exits or does not log `listening` in time is killed and the promise rejects
 * with its last output. Dispose (or `stop`) ends it: SIGTERM, SIGKILL after the grace.
 */
export async function startBroker(args: readonly string[] = [], options: BrokerOptions = {}): Promise<BrokerProcess> {
  const bin = options.bin ?? brokerBin();
  const spawnOnce = async (port: number): Promise<{ child: Child; port: number }> => {
    const child = run(process.execPath, [...(options.nodeArgs ?? []), bin, "--port", String(port), ...args], {
      label: options.label ?? "broker",
      env: { ...process.env, ...options.env },
    });
    options.onSpawn?.(child);
    try {
      const m = await child.waitForLine(LISTENING, options.timeoutMs ?? 20_000);
      return { child, port: (JSON.parse(m.input!) as { port: number }).port };
    } catch (err) {
      child.kill("SIGKILL"); // a broker that did not come up in time is not left behind
      await child.exited;
      throw err;
    }
  };
  let { child, port } = await spawnOnce(options.port ?? 0);
  const url = `ws://127.0.0.1:${port}/`;
  const http = `http://127.0.0.1:${port}`;
  return {
    get child() {
      return child;
    },
    port,
    url,
    http,
    agentUrl: url,
    agentHttp: http,
    visible: async () => {},
    gone: async () => {},
    stop: (graceMs?: number) => child.stop(graceMs),
    async restart() {
      await child.stop();
      ({ child } = await spawnOnce(port));
    },
    async [Symbol.asyncDispose]() {
      await child.stop();
    },
  };
}

/** The agents a broker lists on GET /v1/agents (its own and, in a mesh, the others'); `token` authorizes. */
export async function agentsOn(broker: { readonly http: string }, token?: string): Promise<AgentInfo[]> {
  const res = await fetch(`${broker.http}/v1/agents`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { agents?: AgentInfo[] }).agents ?? [];
}
