/**
 * The Python SDK package (python/), as a user gets it: installed into a fresh virtualenv exactly as
 * python/README.md says, then (1) the conformance suite's agent mode against an agent built on it,
 * (2) its own unittest suite against a reference broker, which this test restarts when the suite
 * asks, and (3) the README.md agent and client snippets, run as written.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgentSuite } from "@agentwire/conformance";
import { agentsOn, repoRoot, run, startBroker, waitFor } from "@agentwire/testkit";

const exec = promisify(execFile);
const REPO = repoRoot();
const PYTHON = "/usr/bin/python3";
const README = readFileSync(join(REPO, "python", "README.md"), "utf8");
/** Short heartbeats, as the conformance suite's reference broker uses, so evictions are quick. */
const BROKER_ARGS = ["--heartbeat-interval-ms", "300", "--heartbeat-timeout-ms", "1500"];
/** What python/tests/support.py prints when its restart test wants the broker restarted. */
const RESTART_REQUEST = "@@agentwire-test: restart broker";

/** Why the package cannot be installed and run here, or undefined when it can. */
function pythonMissing(): string | undefined {
  try {
    execFileSync(PYTHON, ["-c", "import msgpack, websockets, venv, ensurepip, setuptools"], { stdio: "ignore" });
    return undefined;
  } catch {
    return `${PYTHON} lacks msgpack, websockets, venv or setuptools (apt-get install python3-msgpack python3-websockets python3-venv python3-setuptools)`;
  }
}

/** The body of the first fenced block of `lang` under the README heading `heading`. */
function block(heading: string, lang: string): string {
  const section = README.split(/^## /m).find((s) => s.startsWith(heading));
  const m = section === undefined ? null : new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(section);
  if (m === null) throw new Error(`python/README.md: no ${lang} block under "## ${heading}"`);
  return m[1]!;
}

/** The outputs a block promises in trailing `# → TEXT` comments. */
function promised(code: string): string[] {
  return [...code.matchAll(/# → (.+)$/gm)].map((m) => m[1]!.trim());
}

const missing = pythonMissing();
if (missing !== undefined) console.warn(`skipping the Python SDK tests: ${missing}`);

describe.skipIf(missing !== undefined)("python/: the agentwire Python package", () => {
  let dir: string;
  let python: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "agentwire-python-"));
    // The README's install commands as written, with its .venv in a temp dir (apt-get is ensure-python.sh's job).
    const commands = block("Install", "sh")
      .split("\n")
      .filter((line) => line.includes(".venv"));
    expect(commands).toHaveLength(2);
    for (const command of commands) {
      await exec("bash", ["-ec", command.replaceAll(".venv", join(dir, "venv"))], { cwd: REPO, timeout: 120_000 });
    }
    python = join(dir, "venv", "bin", "python");
  }, 180_000);

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("installs the package into the virtualenv, not onto the source path", async () => {
    const { stdout } = await exec(python, ["-c", "import agentwire, sys; print(agentwire.__file__); print(sys.prefix)"], { cwd: "/" });
    const [file, prefix] = stdout.trim().split("\n");
    expect(file).toContain(`${prefix}/lib/`);
    expect(file).toContain("site-packages/agentwire/__init__.py");
    const { stdout: typed } = await exec(python, ["-c", "import importlib.resources as r; print(r.files('agentwire').joinpath('py.typed').is_file())"]);
    expect(typed.trim()).toBe("True");
  });

  it("an agent built on it passes every conformance agent case", async () => {
    const results = await runAgentSuite({ command: [python, join(REPO, "python", "examples", "conformance_agent.py")], timeoutMs: 10_000 });
    expect(results.length).toBeGreaterThan(10);
    expect(results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.status} ${r.message ?? ""}`)).toEqual([]);
  }, 180_000);

  it("its unittest suite passes against a reference broker, a broker restart included", async () => {
    // A short shutdown grace: the restart ends the task held open across it with shutting_down [SHUT-5].
    await using broker = await startBroker([...BROKER_ARGS, "--shutdown-grace-ms", "500"], { label: "broker:python-tests" });
    const child = run(python, ["-m", "unittest", "discover", "-s", join(REPO, "python", "tests"), "-v"], {
      label: "python-tests",
      cwd: REPO,
      env: { ...process.env, AGENTWIRE_URL: broker.url, AGENTWIRE_TEST_CONTROL: "stdio" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let restarts = 0;
    const served = child.waitForLine(RESTART_REQUEST, 110_000).then(
      async () => {
        await broker.restart();
        restarts++;
        child.proc.stdin!.write("ok\n");
      },
      () => undefined, // the suite ended without asking: the assertions below say so
    );
    const code = await child.exited;
    await served;
    const out = child.lines.join("\n");
    expect(code, out).toBe(0);
    expect(restarts, out).toBe(1);
    expect(out).toMatch(/^Ran \d+ tests/m);
    expect(out).toMatch(/^OK$/m); // no skips: the restart test ran too
    expect(out).toMatch(/test_agent_and_client_reconnect_and_serve_again .*\.\.\. ok$/m);
    expect(out).toMatch(/test_task_of_a_killed_agent_is_answered_once_by_another .*\.\.\. ok$/m);
  }, 120_000);

  it("the README.md agent and client snippets run as written", async () => {
    await using broker = await startBroker(BROKER_ARGS, { label: "broker:python-readme" });
    const agentCode = block("An agent in a dozen lines", "python");
    const clientCode = block("A client", "python");
    expect(agentCode.trim().split("\n").length).toBeLessThanOrEqual(12);
    writeFileSync(join(dir, "agent.py"), agentCode);
    writeFileSync(join(dir, "client.py"), clientCode);
    const env = { ...process.env, AGENTWIRE_URL: broker.url };
    await using agent = run(python, [join(dir, "agent.py")], { label: "readme-agent", env });
    await waitFor(async () => ((await agentsOn(broker)).some((a) => a.capabilities.some((c) => c.name === "text.upper")) ? true : undefined), 15_000, "the README agent to register");
    const { stdout } = await exec(python, [join(dir, "client.py")], { env, timeout: 30_000 });
    const wanted = promised(clientCode);
    expect(wanted).toEqual(["progress {'chars': 5}", "HELLO"]);
    for (const text of wanted) expect(stdout).toContain(text);
    // SIGTERM drains and ends agent.run(): the process exits 0.
    expect(await agent.stop(10_000)).toBe(0);
  }, 60_000);
});
