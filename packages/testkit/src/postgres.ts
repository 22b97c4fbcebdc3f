import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, run, waitFor, type Child, type LocalServer } from "./process.js";

const READY = /database system is ready to accept connections/;

/**
 * The directory holding `initdb`, `postgres` and `psql`: `AGENTWIRE_PG_BIN`, else the highest version
 * under /usr/lib/postgresql/<version>/bin.
 */
export function postgresBinDir(): string {
  const override = process.env.AGENTWIRE_PG_BIN;
  if (override !== undefined && override !== "") return override;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "postgres")))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL under ${root}/*/bin; set AGENTWIRE_PG_BIN`);
  return join(root, versions[0]!, "bin");
}

/**
 * `url` is `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth, no password); `dir` the data
 * directory, which also holds the unix socket; `child` the postmaster. `stop()` is a fast shutdown
 * (SIGINT), `stop(true)` SIGKILL of the postmaster and every server process; either way no server
 * process is left when it resolves.
 */
export interface PostgresInstance extends LocalServer {
  /** Freezes the server (SIGSTOP to the postmaster and every server process): connections hang. */
  pause(): void;
  /** Undoes `pause` (SIGCONT). */
  resume(): void;
}

export interface PostgresOptions {
  port?: number;
}

interface RunAs {
  /** Command prefix, e.g. setpriv to drop root. */
  prefix: string[];
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: then initdb and postgres run as the `postgres` user, via setpriv (which execs, so the pid is the server's). */
function runAs(): RunAs {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const user = process.env.AGENTWIRE_PG_USER ?? "postgres";
  let entry: string;
  try {
    entry = execFileSync("getent", ["passwd", user], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`running as root, and there is no "${user}" user to run PostgreSQL as (set AGENTWIRE_PG_USER)`);
  }
  const [, , uid, gid] = entry.split(":");
  return { prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"], uid: Number(uid), gid: Number(gid) };
}

function spawnAs(as: RunAs, bin: string, args: string[], label: string, cwd: string): Child {
  const [command, ...rest] = as.prefix.length > 0 ? [...as.prefix, bin, ...args] : [bin, ...args];
  return run(command!, rest, { label, cwd });
}

/**
 * Every live process of the server: the postmaster, its children, and (after the postmaster died and
 * they were re-parented) any process whose working directory is the data directory. PostgreSQL puts
 * each child in its own session, so the postmaster's process group alone is not the server.
 */
function serverPids(postmaster: number, dataDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") continue;
    const ppid = Number(fields[1]);
    let inDir = false;
    if (pid !== postmaster && ppid !== postmaster) {
      try {
        inDir = readlinkSync(`/proc/${name}/cwd`) === dataDir;
      } catch {
        continue;
      }
    }
    if (pid === postmaster || ppid === postmaster || inDir) pids.push(pid);
  }
  return pids;
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    if (!(pid > 0)) continue; // never a process group, never -1 (every process)
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

function exitedWithin(child: Child, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    child.exited.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Kills the server if this process goes away without stopping it (a crashed or killed test worker):
 * a shell that waits for the end of a pipe only this process holds.
 */
function watchdog(postmaster: number): Child {
  const script = 'read _; kill -STOP "$1" 2>/dev/null; pkill -KILL -P "$1"; kill -KILL "$1" 2>/dev/null';
  const dog = run("/bin/sh", ["-c", script, "pg-watchdog", String(postmaster)], { stdio: ["pipe", "ignore", "ignore"] });
  dog.proc.unref();
  (dog.proc.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

/**
 * A private PostgreSQL server on a free loopback port, in a fresh data directory (initdb, trust auth,
 * fsync off), its unix socket inside that directory. Tests never touch a PostgreSQL they did not start:
 * the port comes from the kernel, never 5432.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresInstance> {
  const port = options.port ?? (await freePort());
  if (port === 5432) throw new Error("refusing to use port 5432: it belongs to the machine's shared PostgreSQL");
  const bin = postgresBinDir();
  const as = runAs();
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "agentwire-pg-")));
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!);
  const label = `postgres:${port}`;
  try {
    const initdb = spawnAs(as, join(bin, "initdb"), ["-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], `initdb:${port}`, dir);
    const done = await exitedWithin(initdb, 60_000);
    if (!done) initdb.kill("SIGKILL");
    const code = await initdb.exited;
    if (code !== 0) throw new Error(`initdb exited with ${code}:\n${initdb.lines.slice(-20).join("\n")}`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const args = ["-D", dir, "-p", String(port), "-h", "127.0.0.1", "-k", dir, "-c", "fsync=off", "-c", "listen_addresses=127.0.0.1"];
  let child!: Child;
  let dog: Child | undefined;
  const ended = new WeakSet<Child>();
  /** The postmaster's pid while it runs, else -1 (its pid may be reused once it is gone). */
  const postmaster = (): number => (ended.has(child) ? -1 : child.pid);

  const killAll = async (): Promise<void> => {
    const pm = postmaster();
    if (pm > 0) signal([pm], "SIGSTOP"); // no new children while we list them
    signal(serverPids(pm, dir), "SIGKILL");
    child.kill("SIGKILL");
    await child.exited;
    await waitFor(() => {
      const left = serverPids(postmaster(), dir);
      signal(left, "SIGKILL");
      return left.length === 0 ? true : undefined;
    }, 10_000, `the processes of ${label} to go`);
    // A SIGKILLed postmaster leaves its lock file; its pid could be reused before the next start.
    rmSync(join(dir, "postmaster.pid"), { force: true });
  };

  const spawnOnce = async (): Promise<Child> => {
    const started = spawnAs(as, join(bin, "postgres"), args, label, dir);
    const thisDog = watchdog(started.pid);
    child = started;
    dog = thisDog;
    void started.exited.then(() => {
      ended.add(started);
      thisDog.kill("SIGKILL");
    });
    try {
      await child.waitForLine(READY, 30_000);
    } catch (err) {
      await killAll();
      throw err;
    }
    return child;
  };

  const stop = async (hard = false): Promise<void> => {
    const pm = postmaster();
    signal(serverPids(pm, dir), "SIGCONT"); // a paused server cannot shut down
    if (hard || !(child.kill("SIGINT"), await exitedWithin(child, 15_000))) await killAll();
    else {
      // The postmaster waits for its children before it exits; anything left is killed.
      if (serverPids(postmaster(), dir).length > 0) await killAll();
    }
    dog?.kill("SIGKILL");
  };

  try {
    await spawnOnce();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const instance: PostgresInstance = {
    host: "127.0.0.1",
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    get child() {
      return child;
    },
    stop,
    async restart() {
      await stop();
      await spawnOnce();
    },
    pause() {
      const pm = postmaster();
      if (pm < 0) throw new Error(`${label} is not running`);
      signal([pm], "SIGSTOP");
      signal(serverPids(pm, dir), "SIGSTOP");
    },
    resume() {
      const pm = postmaster();
      signal(serverPids(pm, dir).filter((p) => p !== pm), "SIGCONT");
      signal([pm], "SIGCONT");
    },
    async [Symbol.asyncDispose]() {
      try {
        await stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return instance;
}
