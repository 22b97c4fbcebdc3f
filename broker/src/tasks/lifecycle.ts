/**
 * The task state machine of SPEC §6.1 [TASK-13]: the only transitions a task may take. `TaskService`
 * moves tasks through `canMove`; anything else is a bug and throws there.
 */
import type { TaskState } from "@agentwire/wire";

const ENDS = ["succeeded", "failed", "cancelled", "deadline_exceeded"] as const;

export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  queued: ["dispatched", "cancelled", "deadline_exceeded", "failed"],
  dispatched: ["running", "requeued", ...ENDS],
  running: ["requeued", ...ENDS],
  requeued: ["queued", "cancelled", "deadline_exceeded", "failed"],
  succeeded: [],
  failed: [],
  cancelled: [],
  deadline_exceeded: [],
};

export function canMove(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}
