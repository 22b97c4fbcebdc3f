import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

/** A free TCP port on 127.0.0.1, as the kernel hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A private server a test starts on a free loopback port, in its own temp dir (Redis, PostgreSQL). */
export interface LocalServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The URL clients connect with. */
  readonly url: string;
  /** Its temp dir (data, sockets), removed on dispose. */
  readonly dir: string;
  /** The server process. */
  readonly child: Child;
  /** Stops the server (SIGKILL with `hard`), keeping its port and directory for `restart`. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
}

export interface Child extends AsyncDisposable {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Every line the child wrote so far, stdout and stderr interleaved. */
  readonly lines: string[];
  /** Resolves with the first line (past or future) that matches, or rejects at the deadline or exit. */
  waitForLine(match: RegExp | string, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the child is gone. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
  stop(graceMs?: number): Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export interface RunOptions extends SpawnOptions {
  /** Prefix for lines echoed to stderr when AGENTWIRE_TEST_VERBOSE is set. */
  label?: string;
}

/** Starts a child process and follows its output line by line. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Child {
  const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  const lines: string[] = [];
  const waiters = new Set<{ test: (line: string) => RegExpMatchArray | null; resolve: (m: RegExpMatchArray) => void }>();
  const verbose = process.env.AGENTWIRE_TEST_VERBOSE !== undefined;
  const onLine = (line: string): void => {
    lines.push(line);
    if (verbose) process.stderr.write(`[${options.label ?? command}] ${line}\n`);
    for (const w of waiters) {
      const m = w.test(line);
      if (m !== null) {
        waiters.delete(w);
        w.resolve(m);
      }
    }
  };
  for (const stream of [proc.stdout, proc.stderr]) if (stream !== null) createInterface({ input: stream }).on("line", onLine);

  let exitValue: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    proc.on("exit", (code, signal) => {
      exitValue = code ?? signal ?? -1;
      resolve(exitValue);
    });
    proc.on("error", (err) => {
      lines.push(`spawn error: ${err.message}`);
      exitValue = -1;
      resolve(-1);
    });
  });

  const waitForLine = (match: RegExp | string, timeoutMs = 15_000): Promise<RegExpMatchArray> => {
    const re = typeof match === "string" ? new RegExp(match.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : match;
    const test = (line: string): RegExpMatchArray | null => re.exec(line);
    for (const line of lines) {
      const m = test(line);
      if (m !== null) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve: (m: RegExpMatchArray) => (clearTimeout(timer), resolve(m)) };
      const fail = (why: string): void => {
        waiters.delete(waiter);
        reject(new Error(`${options.label ?? command}: ${why} waiting for ${re}; last output:\n${lines.slice(-20).join("\n")}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      waiters.add(waiter);
      void exited.then((code) => {
        if (waiters.has(waiter)) {
          clearTimeout(timer);
          fail(`exited with ${code}`);
        }
      });
    });
  };

  const stop = async (graceMs = 5_000): Promise<number | string> => {
    if (exitValue !== undefined) return exitValue;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  return {
    proc,
    pid: proc.pid ?? -1,
    lines,
    waitForLine,
    exited,
    stop,
    kill: (signal: NodeJS.Signals = "SIGKILL") => {
      if (exitValue === undefined) proc.kill(signal);
    },
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or rejects at the deadline. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
