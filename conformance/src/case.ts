/** What a conformance case is, and how it signals failure or skip. Cases are plain async functions. */

export type Level = "MUST" | "SHOULD" | "MAY";
export const LEVELS: readonly Level[] = ["MUST", "SHOULD", "MAY"];
export type Mode = "broker" | "agent";
export type Status = "passed" | "failed" | "skipped";

export interface Case<Ctx> {
  /** Stable id, e.g. `broker.task.cancel`; tests and `--filter` use it. */
  id: string;
  title: string;
  /** SPEC.md statement ids the case checks. */
  spec: string[];
  level: Level;
  mode: Mode;
  run(ctx: Ctx): Promise<void>;
}

export interface CaseResult {
  id: string;
  title: string;
  spec: string[];
  level: Level;
  mode: Mode;
  status: Status;
  /** Why it failed or was skipped. */
  message?: string;
  durationMs: number;
}

/**
 * The implementation under test broke the case. The runner reports a `PeerError` of the test peer
 * (`@agentwire/testkit/peer`: a wait's deadline passed, the connection closed first, a malformed
 * message came) the same way.
 */
export class Failure extends Error {
  override name = "Failure";
}

/** The case cannot run against this implementation or configuration. */
export class Skip extends Error {
  override name = "Skip";
}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Failure(message);
}

export function checkEqual(actual: unknown, expected: unknown, what: string): void {
  if (!deepEqual(actual, expected)) throw new Failure(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

export function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString("hex")})`;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `bin(${Buffer.from(x).toString("hex")})` : typeof x === "bigint" ? String(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "bigint" || typeof b === "bigint") return (typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number") && BigInt(a) === BigInt(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));
}

/** Resolves with `promise`, or fails the case after `ms` (the timer is always cleared). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Failure(`${what} within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
