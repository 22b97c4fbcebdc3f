/**
 * The WebSocket side of workflows [WF-17..WF-21]: `run`, `run_cancel` and `run_watch` from a session,
 * and the `run_event`s and `run_result` it receives as a run's watcher.
 */
import type { Run, RunCancel, RunWatch } from "@agentwire/wire";
import type { Session } from "../session.js";
import type { WorkflowEngine } from "./engine.js";
import type { RunWatcher } from "./watchers.js";

/** A session as a run's watcher; `quiet`: the result only (`run.watch` false). */
export function sessionWatcher(s: Session, quiet: boolean): RunWatcher {
  return {
    quiet,
    live: () => s.state !== "closed",
    event: (runId, t, at) => s.send({ type: "run_event", run_id: runId, event: t.type, step: t.step, attempt: t.attempt, task_id: t.task_id, delay_ms: t.delay_ms, at, error: t.error }),
    result: (run) =>
      s.send(run.state === "completed" ? { type: "run_result", run_id: run.run_id, ok: true, output: run.output } : { type: "run_result", run_id: run.run_id, ok: false, error: run.error ?? { code: "internal", message: "the run ended without an error" } }),
  };
}

/** A `run`: answered `run_accepted` once stored, the session's later frames held until then [WF-17]. */
export function onRun(engine: WorkflowEngine, s: Session, f: Run): void {
  const work = engine.startRun(s.acl, f.workflow, f.input, sessionWatcher(s, f.watch === false), (runId) => s.send({ type: "run_accepted", ref: f.ref, run_id: runId }));
  s.hold(work.then(() => undefined), f.ref);
}

export function onRunCancel(engine: WorkflowEngine, s: Session, f: RunCancel): void {
  const work = engine.cancel(s.acl, f.run_id, "cancelled by its client").then(() => {
    if (f.ref !== undefined) s.send({ type: "ack", ref: f.ref });
  });
  s.hold(work, f.ref ?? f.run_id);
}

export function onRunWatch(engine: WorkflowEngine, s: Session, f: RunWatch): void {
  s.hold(engine.watch(s.acl, f.run_id, sessionWatcher(s, false), () => s.send({ type: "ack", ref: f.ref })), f.ref);
}
