/**
 * The README's "Replaying what happened" snippets, run as written (the port 7420 replaced by a free
 * one): the shell block starts a broker on a private PostgreSQL and replays with curl; the SDK block
 * runs as an `.mjs` file against it.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";
import { freePort, repoRoot, startPostgres, waitFor, type PostgresInstance } from "./helpers/backends.js";
import { freshDatabase } from "./helpers/postgres.js";

const ROOT = repoRoot();
const section = readFileSync(join(ROOT, "README.md"), "utf8").split("## Replaying what happened")[1]!.split("\n## ")[0]!;
const [shell, js] = [/```sh\n([\s\S]*?)```/.exec(section)![1]!, /```js\n([\s\S]*?)```/.exec(section)![1]!];

let server: PostgresInstance | undefined;
afterAll(async () => {
  await server?.stop();
});

it("README: --events postgres://..., a replay by time range with curl, and the SDK iterator run as written", async () => {
  server = await startPostgres();
  const env = { ...process.env, DATABASE_URL: await freshDatabase(server) };
  const port = String(await freePort());
  const lines = shell.replaceAll("7420", port).split("\n");
  const start = lines.filter((l) => !l.startsWith("curl")).join("\n"); // start the broker, wait until it is ready
  const replay = lines.filter((l) => l.startsWith("curl")).join("\n");
  expect(start).toContain(`--port ${port} --events "$DATABASE_URL"`);

  // The broker the snippet starts in the background lives in this process group until the test ends.
  const starter = spawn("bash", ["-c", start], { cwd: ROOT, env, detached: true, stdio: "ignore" });
  try {
    const started = await new Promise<number | null | "late">((resolve) => {
      const timer = setTimeout(() => resolve("late"), 20_000);
      starter.once("exit", (code) => (clearTimeout(timer), resolve(code)));
    });
    expect(started).toBe(0);
    // A task that fails, for the replay to find.
    const agent = await Peer.register(`ws://127.0.0.1:${port}/`, { agent_id: "readme-agent", capabilities: [{ name: "readme.fail" }] });
    agent.serve((task, peer) => peer.send({ type: "result", task_id: task.task_id, ok: false, error: { code: "x-readme", message: "it failed" } }));
    const client = await Peer.register(`ws://127.0.0.1:${port}/`, {});
    client.send({ type: "submit", ref: "r", capability: "readme.fail", input: encodePayload(1) });
    const { task_id } = await client.next("accepted");
    await client.next("result", (r) => r.task_id === task_id);
    await client.close();
    await agent.close();

    const out = spawnSync("bash", ["-c", replay], { cwd: ROOT, env, encoding: "utf8", timeout: 20_000 });
    const records = out.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { type: string; data: { task_id?: string } });
    expect(records.filter((r) => r.data.task_id === task_id).map((r) => r.type)).toEqual(["task.failed"]);
    expect(out.stdout).toContain(": following"); // the live tail answered

    const file = join(ROOT, "sdk", `.readme-events-${process.pid}.mjs`); // inside the package: @agentwire/sdk resolves to itself
    writeFileSync(file, js.replaceAll("7420", port));
    try {
        const run = spawnSync(process.execPath, [file], { cwd: join(ROOT, "sdk"), encoding: "utf8", timeout: 20_000 });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(task_id);
      expect(run.stdout).toContain("x-readme");
    } finally {
      rmSync(file, { force: true });
    }
  } finally {
    try {
      process.kill(-starter.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    await waitFor(() => {
      try {
        process.kill(-starter.pid!, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 10_000, "the README's broker to stop");
  }
}, 60_000);
