/**
 * Who may serve what, defined once. The dispatcher, the no_agents check, requests and the mesh's
 * choice of broker all ask these questions, of a local session or of another broker's agent record;
 * the answers depend on the agent's status as SPEC 5 defines it [ROUTE-4, REQ-2, REQ-3, CONN-1]:
 *
 * | status    | a task waits for it | a task goes to it now | request by capability | request by id |
 * |-----------|---------------------|-----------------------|-----------------------|---------------|
 * | ready     | yes                 | yes (below capacity)  | yes                   | yes           |
 * | busy      | yes                 | yes (below capacity)  | yes                   | yes           |
 * | unhealthy | yes (it may recover)| no                    | no                    | no            |
 * | draining  | no                  | no                    | no                    | yes           |
 *
 * A local session must also be live and registered (`state === "ready"`; a draining session's state is
 * `draining`, which the table's status column already excludes for tasks).
 */
import semver from "semver";
import type { AgentStatus } from "@agentwire/wire";
import type { Session } from "./session.js";

/** A task may be queued for an agent of this status: it takes new work, perhaps later. */
export function awaitsWork(status: AgentStatus): boolean {
  return status !== "draining";
}

/** An agent of this status is given work now (tasks, within its capacity; requests by capability). */
export function takesWorkNow(status: AgentStatus): boolean {
  return status === "ready" || status === "busy";
}

/** A request addressed to this agent by id reaches it: a draining agent still answers its own. */
export function answersById(status: AgentStatus): boolean {
  return status !== "unhealthy";
}

/** A local session that could serve a matching task, now or once it recovers (no_agents otherwise). */
export function mayServe(s: Session): boolean {
  return s.state === "ready" && awaitsWork(s.status);
}

/** A local session a task can be dispatched to right now. */
export function hasRoomNow(s: Session): boolean {
  return s.state === "ready" && takesWorkNow(s.status) && s.tasks.size < s.capacity;
}

/** A local session a request by capability may go to. */
export function takesRequest(s: Session): boolean {
  return s.state === "ready" && takesWorkNow(s.status);
}

/** A local session a request by id may go to. */
export function takesRequestById(s: Session): boolean {
  return s.state === "ready" && answersById(s.status);
}

/**
 * Whether a capability at `version` with `capTags` (and the agent's own `agentTags`) satisfies a
 * task's version `range` and required `tags`. `cache` memoises range results for one capability.
 */
export function capabilityMatches(
  version: string,
  capTags: readonly string[],
  agentTags: readonly string[],
  range: string | undefined,
  tags: readonly string[] | undefined,
  cache?: Map<string, boolean>,
): boolean {
  if (range !== undefined && range !== "*") {
    let ok = cache?.get(range);
    if (ok === undefined) {
      ok = semver.satisfies(version, range);
      cache?.set(range, ok);
    }
    if (!ok) return false;
  }
  if (tags !== undefined) for (const t of tags) if (!capTags.includes(t) && !agentTags.includes(t)) return false;
  return true;
}
