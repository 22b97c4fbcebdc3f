/** The bin: usage errors exit 2, MUST failures exit 1, --json and --junit write results. */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startMeshPair, type RunningBroker } from "@agentwire/testkit";
import { CLI, REFERENCE_ARGS, fixture } from "./helpers.js";

const exec = promisify(execFile);
const cli = (args: string[]) =>
  exec(process.execPath, [CLI, ...args], { timeout: 120_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe("agentwire-conformance", () => {
  it("prints help with the agent convention", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("conformance.strict");
  });

  it.each([[[]], [["bogus"]], [["broker"]], [["agent"]], [["broker", "--url", "ws://x", "--level", "SOMETIMES"]], [["broker", "--nope"]], [["broker", "--url", "ws://x", "--agent-url", "http://y"]], [["agent", "--agent-url", "ws://y", "--", "true"]]])("exits 2 on bad usage %j", async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits 1 on a MUST failure and writes --json and --junit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-"));
    try {
      const r = await cli(["agent", "--json", "--junit", join(dir, "out.xml"), "--filter", "/heartbeat|echo/", "--", process.execPath, fixture("ts-agent"), "--fault", "no-heartbeat"]);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { results: { id: string; status: string }[] };
      expect(out.results.map((x) => [x.id, x.status])).toEqual([["agent.heartbeat", "failed"], ["agent.echo", "passed"]]);
      const xml = readFileSync(join(dir, "out.xml"), "utf8");
      expect(xml).toContain('failures="1"');
      expect(xml).toContain("agent.heartbeat [MUST] HB-2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 0 when only SHOULD cases fail, and --level selects", async () => {
    const r = await cli(["agent", "--level", "SHOULD", "--filter", "cancel", "--", process.execPath, fixture("ts-agent"), "--fault", "ignore-cancel"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/FAIL\s+SHOULD\s+agent\.cancel/);
  });

  it("--agent-url puts the cases' agents on another broker of a mesh: they pass, and a case MESH-2 relaxes skips", async () => {
    let mesh: RunningBroker | undefined;
    try {
      mesh = await startMeshPair(REFERENCE_ARGS);
      const r = await cli(["broker", "--url", mesh.url, "--agent-url", mesh.agentUrl, "--json", "--filter", "/^broker\\.(task\\.roundtrip|route\\.priority-order)$/"]);
      const out = JSON.parse(r.stdout) as { results: { id: string; status: string; message?: string }[] };
      expect(out.results.map((x) => [x.id, x.status, x.message?.slice(0, 8)])).toEqual([
        ["broker.task.roundtrip", "passed", undefined],
        ["broker.route.priority-order", "skipped", "MESH-2: "],
      ]);
      expect(r.code).toBe(0);
    } finally {
      await mesh?.stop();
    }
  });
});
