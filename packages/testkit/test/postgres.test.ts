import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { postgresBinDir, run, startPostgres, type Child, type PostgresInstance } from "../src/index.js";

const PSQL = join(postgresBinDir(), "psql");

function psqlArgs(pg: PostgresInstance): string[] {
  return ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", "postgres", "-d", "postgres"];
}

/** One psql command under a 2 s connect timeout; resolves with its exit code and output. */
async function psql(pg: PostgresInstance, sql: string): Promise<{ code: number | string; out: string }> {
  const child = run(PSQL, [...psqlArgs(pg), "-c", sql], { label: "psql", env: { ...process.env, PGCONNECT_TIMEOUT: "2" } });
  const code = await child.exited;
  return { code, out: child.lines.join("\n").trim() };
}

/** Live (not zombie) processes among `pids`. */
function alive(pids: readonly number[]): number[] {
  const out = execFileSync("ps", ["-e", "-o", "pid=,stat="], { encoding: "utf8" });
  const live = new Set(
    out
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter(([pid, stat]) => pid !== undefined && pid !== "" && !stat?.startsWith("Z"))
      .map(([pid]) => Number(pid)),
  );
  return pids.filter((p) => live.has(p));
}

/** The postmaster and its children (each in its own session, so not the postmaster's process group). */
function serverProcesses(pg: PostgresInstance): number[] {
  const out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  const children = out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, ppid]) => ppid === pg.child.pid)
    .map(([pid]) => pid!);
  return [pg.child.pid, ...children];
}

describe("startPostgres", () => {
  it("starts a private PostgreSQL, keeps its data across a hard restart, freezes on pause, and leaves nothing on dispose", async () => {
    let port: number;
    let dir: string;
    let pids: number[];
    let session: Child | undefined;
    {
      await using pg = await startPostgres();
      ({ port, dir } = pg);
      expect(port).not.toBe(5432);
      expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`);
      expect(existsSync(join(dir, `.s.PGSQL.${port}`))).toBe(true);
      expect(await psql(pg, "select 1")).toEqual({ code: 0, out: "1" });
      expect((await psql(pg, "create table t (v text); insert into t values ('kept')")).code).toBe(0);

      const first = pg.child;
      await pg.stop(true);
      expect(await first.exited).toBe("SIGKILL");
      expect((await psql(pg, "select 1")).code).not.toBe(0);
      await pg.restart();
      expect(pg.child.pid).not.toBe(first.pid);
      expect(await psql(pg, "select v from t")).toEqual({ code: 0, out: "kept" });

      // An open session, to show pause freezes the backends too, not only the postmaster.
      session = run(PSQL, psqlArgs(pg), { label: "psql-session", stdio: ["pipe", "pipe", "pipe"] });
      session.proc.stdin!.write("select 'before';\n");
      await session.waitForLine("before", 10_000);

      pg.pause();
      session.proc.stdin!.write("select 'during';\n");
      const frozen = await psql(pg, "select 1"); // the 2 s connect timeout is the wait
      expect(frozen.code).not.toBe(0);
      expect(frozen.out).toMatch(/timeout/i);
      expect(session.lines).not.toContain("during");
      pg.resume();
      await session.waitForLine("during", 10_000);
      expect(await psql(pg, "select 1")).toEqual({ code: 0, out: "1" });

      // Dispose with the session still open (a fast shutdown disconnects it) and the server paused.
      pids = serverProcesses(pg);
      expect(pids.length).toBeGreaterThan(1);
      pg.pause();
    }
    session.proc.stdin!.end();
    await session.exited;
    expect(existsSync(dir)).toBe(false);
    expect(alive(pids)).toEqual([]);
    const after = execFileSync("ps", ["-e", "-o", "args="], { encoding: "utf8" });
    expect(after.split("\n").filter((a) => a.includes(`-p ${port} `))).toEqual([]);
  });

  it("stops cleanly (fast shutdown) and restarts on the same port and data", async () => {
    await using pg = await startPostgres();
    expect((await psql(pg, "create table u (n int); insert into u values (7)")).code).toBe(0);
    const first = pg.child;
    const pids = serverProcesses(pg);
    await pg.stop();
    expect(await first.exited).toBe(0);
    expect(alive(pids)).toEqual([]);
    expect(first.lines.some((l) => /database system is shut down/.test(l))).toBe(true);
    await pg.restart();
    expect(await psql(pg, "select n from u")).toEqual({ code: 0, out: "7" });
  });
});
