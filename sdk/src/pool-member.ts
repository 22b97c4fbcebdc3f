/**
 * A pool member as its supervisor sees it, whatever runs it: an agent in this process (built by the
 * pool's template) or a child process (any language). The supervisor starts, drains and stops members
 * through this one interface and learns from `exited` whether a member left on purpose or died.
 */
import { AgentwireError, type AgentwireErrorOptions } from "@agentwire/wire";
import type { Agent } from "./agent.js";
import { unref } from "./log.js";

/** `createPool` options that cannot work: `details.issues` names each problem. Not a wire code: the SDK raises it. */
export class InvalidPoolOptionsError extends AgentwireError {
  constructor(message: string, options?: AgentwireErrorOptions) {
    super("invalid_pool_options", message, options);
  }
}

/** What a member is told about itself: its broker, its pool and its own agent id. */
export interface PoolInstance {
  /** The broker's WebSocket URL. */
  url: string;
  /** The pool's name: the member registers with `register.pool` = this [POOL-1]. */
  pool: string;
  /** This member's agent id, unique per start (a replacement gets a new one). */
  agentId: string;
  /** 0, 1, 2, ... in the order the pool started its members. */
  index: number;
}

/** How a member ended: `clean` when it left on purpose (drained, exit code 0), else it died. */
export interface MemberExit {
  clean: boolean;
  /** For logs and events: "exit code 1", "signal SIGKILL", "closed", the start failure. */
  detail: string;
}

export interface PoolMember {
  readonly id: string;
  /** The child's process id (child-process members). */
  readonly pid?: number | undefined;
  /** The agent (in-process members). */
  readonly agent?: Agent | undefined;
  /** Resolves once the member runs (an agent registered; a process spawned); rejects when it could not start. */
  readonly started: Promise<void>;
  /** Resolves once the member is gone. */
  readonly exited: Promise<MemberExit>;
  /** Finish the work and leave; a member still there after `graceMs` is stopped. Resolves once it is gone. */
  drain(graceMs: number): Promise<void>;
  /** Stops the member now (its tasks requeue as for any lost agent). */
  stop(): Promise<void>;
}

/** An in-process member: the agent the template built. */
export function agentMember(agent: Agent): PoolMember {
  const started = agent.start().then(() => undefined);
  const exited = started.then(
    () => agent.closed().then((err): MemberExit => (err === undefined ? { clean: true, detail: "closed" } : { clean: false, detail: err.message })),
    (err: unknown): MemberExit => ({ clean: false, detail: `start failed: ${err instanceof Error ? err.message : String(err)}` }),
  );
  started.catch(() => undefined); // `exited` reports it; `started` is awaited only for the first members
  return {
    id: agent.options.agentId!,
    agent,
    started,
    exited,
    drain: async (graceMs) => {
      await agent.drain({ timeoutMs: graceMs });
      await exited;
    },
    stop: async () => {
      await agent.close();
      await exited;
    },
  };
}

/** Resolves after `ms` or once `p` settles, whichever is first: true when `p` settled. */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = unref(setTimeout(() => resolve(false), ms))));
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}
