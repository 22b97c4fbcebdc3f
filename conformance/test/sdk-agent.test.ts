/**
 * The TypeScript SDK passes agent mode: examples/conformance-agent/index.mjs, written with the built SDK,
 * passes every MUST and SHOULD agent case through the bin, and exits on its own after goaway.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { CLOSE_CODES, decodePayload, encodePayload } from "@agentwire/wire";
import { afterEach, describe, expect, it } from "vitest";
import { MockBroker, agentCases, type CaseResult } from "../src/index.js";
import { CLI, REPO } from "./helpers.js";

const exec = promisify(execFile);
const SDK_AGENT = `${REPO}examples/conformance-agent/index.mjs`;
const SDK_DIST = `${REPO}sdk/dist/src/index.js`;

describe("SDK agent (examples/conformance-agent)", () => {
  it("is runnable: the SDK is built", () => {
    expect(existsSync(SDK_DIST), `${SDK_DIST} missing: run pnpm build`).toBe(true);
  });

  it("passes every MUST and SHOULD agent case through the bin", async () => {
    const r = await exec(process.execPath, [CLI, "agent", "--json", "--", process.execPath, SDK_AGENT], { timeout: 170_000, maxBuffer: 16 << 20 }).then(
      (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
    const { results } = JSON.parse(r.stdout) as { results: CaseResult[] };
    const failures = results.filter((x) => x.status !== "passed").map((x) => `${x.id} [${x.level}]: ${x.status} ${x.message ?? ""}`);
    expect(failures).toEqual([]);
    // Every case ran (none filtered or skipped), and all MUST and SHOULD cases are among them.
    const expected = agentCases.filter((c) => c.level === "MUST" || c.level === "SHOULD").map((c) => c.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(results.map((x) => x.id)).toEqual(agentCases.map((c) => c.id));
    expect(results.filter((x) => x.status === "passed").map((x) => x.id)).toEqual(expect.arrayContaining(expected));
    expect(r.code).toBe(0);
  }, 180_000);

  describe("on goaway", () => {
    let broker: MockBroker | undefined;
    afterEach(async () => {
      await broker?.close();
    });

    it("finishes the running task, closes with 1000 and the process exits 0", async () => {
      broker = await MockBroker.start();
      const child = spawn(process.execPath, [SDK_AGENT], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AGENTWIRE_URL: broker.url } });
      const exited = new Promise<number | string | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
      try {
        const s = await broker.nextSession(15_000);
        expect(s.register?.capabilities?.map((c) => c.name)).toEqual(expect.arrayContaining(["conformance.echo", "conformance.slow", "conformance.strict"]));
        const id = "t-goaway-1";
        s.peer.send({ type: "task", task_id: id, capability: "conformance.slow", input: encodePayload({ ms: 500, steps: 1 }), priority: "normal", deadline: Date.now() + 30_000, attempt: 1, max_attempts: 3 });
        await s.peer.next("progress", (p) => p.task_id === id, 5_000);
        s.peer.send({ type: "goaway", reason: "sdk-agent test", grace_ms: 5_000 });
        const r = await s.peer.next("result", (x) => x.task_id === id, 5_000);
        expect([r.ok, r.output === undefined ? undefined : decodePayload(r.output)]).toEqual([true, { slept_ms: 500 }]);
        // It said so before going: a drain (acked by the mock broker), status draining.
        expect(s.peer.all("drain").length).toBe(1);
        expect(s.peer.all("heartbeat").some((h) => h.status === "draining")).toBe(true);
        expect((await s.peer.closedWithin(5_000)).code).toBe(CLOSE_CODES.normal);
        const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running after 5 s"), 5_000))]);
        expect(code).toBe(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
    }, 30_000);
  });
});
