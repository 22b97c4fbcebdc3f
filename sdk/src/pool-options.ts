/** What `createPool` takes and reports, and the check of the options that are not the `pool` frame's. */
import type { Autoscale, Scale } from "@agentwire/wire";
import { z } from "zod";
import type { Agent } from "./agent.js";
import type { BackoffOptions } from "./connection.js";
import type { Logger } from "./log.js";
import { InvalidPoolOptionsError, type PoolInstance } from "./pool-member.js";
import type { Transport } from "./transport.js";

/** Restarts of members that died: `min_ms × 2^(n-1)` before the n-th restart in a row, at most `max_ms`. */
export interface RestartOptions {
  /** Delay before the first restart, ms (default 100). */
  min_ms?: number;
  /** Longest delay, ms (default 30000). */
  max_ms?: number;
  /** A member that stayed up this long resets the count, ms (default 10000). */
  reset_after_ms?: number;
}

interface CommonPoolOptions {
  /** The broker's WebSocket URL (the supervisor's and every member's). */
  url: string;
  /** The pool's name (id syntax); members register with `register.pool` = this. */
  name: string;
  /** Fewest members (0 allows scale to zero). */
  min: number;
  /** Most members. */
  max: number;
  token?: string;
  /** Capability names the members offer; a template's default: those of the agent it builds (built once to read them, never started). */
  capabilities?: string[];
  /** The broker's autoscaler settings for this pool, clamped to the operator's limits [POOL-6]. */
  autoscale?: Autoscale;
  /** How long a member being drained may take to finish its tasks before it is stopped, ms (default 30000). */
  grace_ms?: number;
  restart?: RestartOptions;
  logger?: Logger;
  /** Reconnect backoff of the supervisor session and of template members built from the instance. */
  backoff?: BackoffOptions;
  transport?: Transport;
}

/** Members built in this process: `template(instance)` returns `createAgent({ ...instance, name })` with its capabilities. */
export interface TemplatePoolOptions extends CommonPoolOptions {
  template: (instance: PoolInstance) => Agent;
}

/**
 * Members as child processes: `command args`, with AGENTWIRE_URL, AGENTWIRE_POOL and
 * AGENTWIRE_INSTANCE_ID (its agent id) added to `env`. Draining it is the broker's `drain` frame;
 * stopping it is SIGTERM, then SIGKILL after `kill_grace_ms`.
 */
export interface ProcessPoolOptions extends CommonPoolOptions {
  command: string;
  args?: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  /** The children's stdout and stderr: this process's (default) or nowhere. */
  stdio?: "inherit" | "ignore";
  /** After SIGTERM, how long before SIGKILL, ms (default 5000). */
  kill_grace_ms?: number;
  capabilities: string[];
}

export type PoolOptions = TemplatePoolOptions | ProcessPoolOptions;

/** What `pool.watch()` reports. */
export type PoolEvent =
  | { type: "declared"; again: boolean }
  | { type: "scale"; frame: Scale }
  | { type: "started"; id: string; index: number }
  | { type: "draining"; id: string }
  /** `restartInMs`: a replacement starts after that long; `left`: it was drained or left on purpose. */
  | { type: "exited"; id: string; clean: boolean; detail: string; left: boolean; restartInMs: number | undefined }
  | { type: "closed" };

export interface PoolMemberInfo {
  id: string;
  index: number;
  state: "running" | "draining";
  pid: number | undefined;
  agent: Agent | undefined;
}

const ms = z.number().int().min(0).max(86_400_000);
export const OptionsSchema = z
  .object({
    url: z.string(),
    grace_ms: ms.optional(),
    kill_grace_ms: ms.optional(),
    restart: z.object({ min_ms: ms.optional(), max_ms: ms.optional(), reset_after_ms: ms.optional() }).strict().optional(),
    template: z.custom<(i: PoolInstance) => Agent>((v) => typeof v === "function", "a function (instance) => Agent").optional(),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    stdio: z.enum(["inherit", "ignore"]).optional(),
    // The ranges are the `pool` frame's (checked with PoolSchema); this is the one rule across two fields.
    autoscale: z.looseObject({ up_threshold: z.unknown().optional(), down_threshold: z.unknown().optional() }).optional(),
  })
  .refine((o) => (o.template === undefined) !== (o.command === undefined), { message: "give exactly one of template and command", path: ["template"] })
  .refine((o) => !(typeof o.autoscale?.down_threshold === "number" && typeof o.autoscale.up_threshold === "number" && o.autoscale.down_threshold >= o.autoscale.up_threshold), {
    message: "down_threshold must be below up_threshold (POOL-6)",
    path: ["autoscale"],
  });

export function invalid(what: string, error: z.ZodError): InvalidPoolOptionsError {
  return new InvalidPoolOptionsError(`${what}: ${z.prettifyError(error)}`, { details: { issues: error.issues } });
}
