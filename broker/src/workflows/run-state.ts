/**
 * A run's state as the engine keeps it and the store persists it [WF-15], and the view the HTTP API
 * answers with [WF-24].
 */
import { decodePayload, type ErrorInfo, type RunState, type StepState, type WorkflowDefinition } from "@agentwire/wire";

/** One step's state; `output` is the MessagePack document its last attempt returned. */
export interface StepRun {
  state: StepState;
  attempts: number;
  task_id?: string | undefined;
  started_at?: number | undefined;
  ended_at?: number | undefined;
  /** When the next attempt starts, while `waiting_retry`. */
  retry_at?: number | undefined;
  error?: ErrorInfo | undefined;
  output?: Uint8Array | undefined;
}

/** Everything that outlives the broker running it: the definition, the input, each step's state. */
export interface RunRecord {
  run_id: string;
  definition: WorkflowDefinition;
  input: Uint8Array;
  state: RunState;
  started_at: number;
  ended_at?: number | undefined;
  output?: Uint8Array | undefined;
  error?: ErrorInfo | undefined;
  /** `ownerTag` of the starting token; undefined when none. */
  owner?: string | undefined;
  /** The compensation step being run before the run fails, and the error it fails with. */
  compensating?: { step: string; error: ErrorInfo } | undefined;
  steps: Record<string, StepRun>;
}

/** A run in `GET /v1/runs` (no steps) and `GET /v1/runs/:id` (with them) [WF-23, WF-24]. */
export interface RunView {
  run_id: string;
  workflow: { name: string; version: string };
  state: RunState;
  started_at: number;
  ended_at?: number;
  output?: unknown;
  error?: ErrorInfo;
  /** Each step's state, with its capability and `after` edges from the definition (the DAG a viewer draws). */
  steps?: Record<string, Omit<StepRun, "output" | "retry_at"> & { capability: string; after?: string[] }>;
}

export function newRun(runId: string, definition: WorkflowDefinition, input: Uint8Array, owner: string | undefined, now: number): RunRecord {
  const steps: Record<string, StepRun> = {};
  for (const s of definition.steps) steps[s.id] = { state: "pending", attempts: 0 };
  return { run_id: runId, definition, input, state: "running", started_at: now, owner, steps };
}

export function viewOf(run: RunRecord, withSteps: boolean): RunView {
  const view: RunView = { run_id: run.run_id, workflow: { name: run.definition.name, version: run.definition.version }, state: run.state, started_at: run.started_at };
  if (run.ended_at !== undefined) view.ended_at = run.ended_at;
  if (run.output !== undefined) view.output = decodePayload(run.output);
  if (run.error !== undefined) view.error = run.error;
  if (withSteps) {
    view.steps = {};
    const defined = new Map(run.definition.steps.map((d) => [d.id, d] as const));
    for (const [id, s] of Object.entries(run.steps)) {
      const { output: _o, retry_at: _r, ...rest } = s;
      const d = defined.get(id);
      const state = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Omit<StepRun, "output" | "retry_at">;
      view.steps[id] = { capability: d?.capability ?? "", ...(d?.after !== undefined && d.after.length > 0 ? { after: [...d.after] } : {}), ...state };
    }
  }
  return view;
}

export const ENDED_STEP: ReadonlySet<StepState> = new Set(["succeeded", "failed", "cancelled", "skipped"]);
