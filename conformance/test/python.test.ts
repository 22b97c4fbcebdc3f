/** The Python examples: the agent passes agent mode; the client gets a result from a TS agent via the broker. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type BrokerProcess, type Child } from "@agentwire/testkit";
import { runAgentSuite, type CaseResult } from "../src/index.js";
import { PYTHON, PY_AGENT, PY_CLIENT, fixture, pythonMissing, startReferenceBroker } from "./helpers.js";

const missing = pythonMissing();
if (missing !== undefined) console.warn(`skipping the Python examples: ${missing}`);
const exec = promisify(execFile);

describe.skipIf(missing !== undefined)("examples/python", () => {
  it("agent.py passes every agent case", async () => {
    const results: CaseResult[] = await runAgentSuite({ command: [PYTHON, PY_AGENT], timeoutMs: 10_000 });
    expect(results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.message ?? ""}`)).toEqual([]);
  }, 180_000);

  describe("client.py through the reference broker", () => {
    let broker: BrokerProcess;
    let agent: Child;
    beforeAll(async () => {
      broker = await startReferenceBroker();
      agent = run(process.execPath, [fixture("ts-agent")], { label: "ts-agent", env: { ...process.env, AGENTWIRE_URL: broker.url } });
      await agent.waitForLine(/"registered"/, 15_000);
    });
    afterAll(async () => {
      await agent?.stop();
      await broker?.stop();
    });

    it("submits text.upper to the TypeScript agent and prints the result", async () => {
      const { stdout } = await exec(PYTHON, [PY_CLIENT, "text.upper", '"hello from python"'], { env: { ...process.env, AGENTWIRE_URL: broker.url }, timeout: 30_000 });
      const result = JSON.parse(stdout.trim()) as { ok: boolean; output: unknown; task_id: string };
      expect(result).toMatchObject({ ok: true, output: "HELLO FROM PYTHON" });
    });

    it("carries TRACEPARENT and TRACESTATE from client.py through the broker to agent.py, unchanged [TRACE-4]", async () => {
      const py = run(PYTHON, [PY_AGENT], { label: "python agent", env: { ...process.env, AGENTWIRE_URL: broker.url } });
      try {
        await py.waitForLine(/registered as/, 15_000);
        const trace = { TRACEPARENT: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TRACESTATE: "vendor1=opaque" };
        const { stdout } = await exec(PYTHON, [PY_CLIENT, "trace.echo"], { env: { ...process.env, AGENTWIRE_URL: broker.url, ...trace }, timeout: 30_000 });
        expect(JSON.parse(stdout.trim())).toMatchObject({ ok: true, output: { traceparent: trace.TRACEPARENT, tracestate: trace.TRACESTATE } });
      } finally {
        await py.stop();
      }
    });

    it("reports a failed task with exit status 1", async () => {
      const err = await exec(PYTHON, [PY_CLIENT, "conformance.strict", '{"n": "x"}'], { env: { ...process.env, AGENTWIRE_URL: broker.url }, timeout: 30_000 }).catch((e: { code: number; stdout: string }) => e);
      expect((err as { code: number }).code).toBe(1);
      expect(JSON.parse((err as { stdout: string }).stdout)).toMatchObject({ ok: false, error: { code: "invalid_input" } });
    });
  });
});
