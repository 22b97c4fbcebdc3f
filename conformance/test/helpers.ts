/** Paths and process starters shared by the suite's own tests. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startBroker, type BrokerProcess } from "@agentwire/testkit";

const here = fileURLToPath(import.meta.url);
/** The conformance package directory, whether this runs from test/ or dist/test/. */
export const ROOT = here.slice(0, here.lastIndexOf("/conformance/") + "/conformance/".length);
export const REPO = `${ROOT}../`;
export const fixture = (name: string): string => `${ROOT}dist/test/fixtures/${name}.js`;
export const CLI = `${ROOT}dist/src/cli.js`;
export const PYTHON = "/usr/bin/python3";
export const PY_AGENT = `${REPO}examples/python/agent.py`;
export const PY_CLIENT = `${REPO}examples/python/client.py`;

/** Short heartbeat settings for the reference broker, so the eviction and deadline cases run. */
export const REFERENCE_ARGS = ["--heartbeat-interval-ms", "300", "--heartbeat-timeout-ms", "1500", "--log-level", "info"];

/** The reference broker alone (memory), with REFERENCE_ARGS. */
export function startReferenceBroker(): Promise<BrokerProcess> {
  return startBroker(REFERENCE_ARGS);
}

/** The toy broker fixture, through the same helper (it logs the same `listening` line). */
export function startToyBroker(fault?: string): Promise<BrokerProcess> {
  return startBroker(fault === undefined ? [] : ["--fault", fault], { bin: fixture("toy-broker"), label: `toy-broker:${fault ?? "ok"}` });
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
