/** A routing strategy picks one agent among the candidates that can take a task now [ROUTE-1]. */
import type { Session } from "../session.js";
import type { TaskRecord } from "../tasks/task-table.js";

/** Per-capability routing state shared by strategies (the round-robin cursor). */
export interface Pool {
  /** Registration seq of the agent picked last. */
  lastSeq: number;
}

export interface Strategy {
  /**
   * `candidates` are eligible agents with free capacity, in registration order, never empty.
   * Returns the chosen one (and advances `pool` if it rotates).
   */
  pick(candidates: readonly Session[], task: TaskRecord, pool: Pool): Session | undefined;
}

/**
 * Round robin over the candidates for which `keep` holds: the first one registered after the last
 * pick, wrapping around. Shared by every strategy as its final tie-break.
 */
export function rotate(candidates: readonly Session[], pool: Pool, keep?: (s: Session) => boolean): Session | undefined {
  let first: Session | undefined;
  for (const s of candidates) {
    if (keep !== undefined && !keep(s)) continue;
    if (s.seq > pool.lastSeq) {
      pool.lastSeq = s.seq;
      return s;
    }
    first ??= s;
  }
  if (first !== undefined) pool.lastSeq = first.seq;
  return first;
}
