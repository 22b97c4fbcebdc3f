/**
 * Commands the packaging and docs tests run (pnpm pack, npm install, tsc, node, bash): the exit code
 * and both outputs, never a throw, with a deadline. Children get this process's environment without
 * npm's and pnpm's script variables, so an `npm install` in a temp project acts as a user's would.
 */
import { execFile } from "node:child_process";

export interface Ran {
  /** Exit code, or the signal's name when it was killed (at the deadline: SIGTERM). */
  code: number | string;
  stdout: string;
  stderr: string;
}

/** The environment for children: ours, less `npm_*` (pnpm run sets them) and NODE_OPTIONS, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "NODE_OPTIONS") env[k] = v;
  return { ...env, ...extra };
}

export function exec(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? cleanEnv(), timeout: options.timeoutMs, maxBuffer: 64 << 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string | null }) | null;
        const code = e === null ? 0 : typeof e.code === "number" ? e.code : (e.signal ?? String(e.code ?? -1));
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A command's output for an assertion message. */
export function show(r: Ran): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}
