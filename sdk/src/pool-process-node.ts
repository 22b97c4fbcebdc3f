/**
 * Child-process pool members (Node): any program in any language, told its broker, pool and agent id
 * in its environment. The SDK agent and the Python agent read those variables themselves.
 */
import { spawn } from "node:child_process";
import { settlesWithin, type MemberExit, type PoolInstance, type PoolMember } from "./pool-member.js";

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  /** Added to this process's environment. */
  env: Record<string, string>;
  cwd: string | undefined;
  /** Where the child's stdout and stderr go. */
  stdio: "inherit" | "ignore";
  /** After SIGTERM, how long before SIGKILL, ms. */
  killGraceMs: number;
}

export function processMember(spec: ProcessSpec, instance: PoolInstance): PoolMember {
  const child = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    stdio: ["ignore", spec.stdio, spec.stdio],
    env: { ...process.env, ...spec.env, AGENTWIRE_URL: instance.url, AGENTWIRE_POOL: instance.pool, AGENTWIRE_INSTANCE_ID: instance.agentId },
  });
  const exited = new Promise<MemberExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ clean: code === 0, detail: code === null ? `signal ${signal}` : `exit code ${code}` }));
    child.once("error", (err) => resolve({ clean: false, detail: `${spec.command}: ${err.message}` }));
  });
  const started = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  started.catch(() => undefined);
  let gone = false;
  void exited.then(() => (gone = true));
  const terminate = async (): Promise<void> => {
    if (gone) return;
    child.kill("SIGTERM");
    if (!(await settlesWithin(exited, spec.killGraceMs))) child.kill("SIGKILL");
    await exited;
  };
  return {
    id: instance.agentId,
    pid: child.pid,
    started,
    exited,
    // The broker already told the member to drain [DRAIN-7]: it finishes its tasks and exits.
    drain: async (graceMs) => {
      if (!(await settlesWithin(exited, graceMs))) await terminate();
    },
    stop: terminate,
  };
}
