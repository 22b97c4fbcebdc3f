/** Paths and process starters shared by the suite's own tests. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { run, type Child } from "@agentwire/testkit";

const here = fileURLToPath(import.meta.url);
/** The conformance package directory, whether this runs from test/ or dist/test/. */
export const ROOT = here.slice(0, here.lastIndexOf("/conformance/") + "/conformance/".length);
export const REPO = `${ROOT}../`;
export const fixture = (name: string): string => `${ROOT}dist/test/fixtures/${name}.js`;
export const CLI = `${ROOT}dist/src/cli.js`;
export const PYTHON = "/usr/bin/python3";
export const PY_AGENT = `${REPO}examples/python/agent.py`;
export const PY_CLIENT = `${REPO}examples/python/client.py`;

export interface Started {
  child: Child;
  url: string;
  http: string;
}

async function listening(child: Child): Promise<Started> {
  const m = await child.waitForLine(/"listening"/, 15_000);
  const port = (JSON.parse(m.input!) as { port: number }).port;
  return { child, url: `ws://127.0.0.1:${port}/`, http: `http://127.0.0.1:${port}` };
}

/** The reference broker with short heartbeat settings, so eviction cases run. */
export function startReferenceBroker(): Promise<Started> {
  const child = run(process.execPath, [`${REPO}broker/dist/src/bin.js`, "--port", "0", "--heartbeat-interval-ms", "300", "--heartbeat-timeout-ms", "1500", "--log-level", "info"], { label: "broker" });
  return listening(child);
}

export function startToyBroker(fault?: string): Promise<Started> {
  return listening(run(process.execPath, [fixture("toy-broker"), ...(fault === undefined ? [] : ["--fault", fault])], { label: `toy-broker:${fault ?? "ok"}` }));
}

/** Why the Python examples cannot run here, or undefined when they can. */
export function pythonMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ["-c", "import msgpack, websockets"], { stdio: "ignore" });
    return undefined;
  } catch {
    return `${PYTHON} lacks msgpack or websockets (apt-get install python3-msgpack python3-websockets)`;
  }
}
