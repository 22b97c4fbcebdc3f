/**
 * The workflow definition document (SPEC §21), defined once: a versioned, JSON-Schema'd document
 * that names steps (each a task for a capability), their DAG edges, joins, retry policies, failure
 * strategies and the mappings that build each step's input and the run's output. The broker runs
 * it; every SDK builds it. protocol/schema/workflow.schema.json is generated from it.
 *
 * The zod schema checks the document's shape and its graph (unique ids, `after` names existing
 * steps, no cycles, compensation steps outside the DAG), each issue at the path of the field.
 */
import { z } from "zod";
import { PRIORITIES, STRATEGIES } from "./constants.js";
import { capabilityName, errorCode, id, posInt, RANGE_RE, tags, text, uint, VERSION_RE } from "./fields.js";

/** The document format this package writes and reads: `workflow: 1` [WF-1]. */
export const WORKFLOW_FORMAT = 1;

/** Bounds of a definition and the defaults of its limits [WF-3, WF-14]. */
export const WORKFLOW_LIMITS = {
  maxSteps: 256,
  /** Default of `limits.max_step_output_bytes`: a step output larger than this fails the step. */
  maxStepOutputBytes: 1 << 20,
  /** Highest `limits.max_step_output_bytes` a definition may ask for. */
  maxStepOutputBytesCeiling: 16 << 20,
  /** Default of `limits.max_run_ms`: a run still going after this fails with deadline_exceeded. */
  maxRunMs: 86_400_000,
  /** Highest `limits.max_run_ms`: 30 days. */
  maxRunMsCeiling: 30 * 86_400_000,
  /** Largest definition document, MessagePack-encoded. */
  maxDefinitionBytes: 256 * 1024,
} as const;

/** Defaults of a step's `retry` policy [WF-11]. */
export const RETRY_DEFAULTS = {
  max_attempts: 1,
  initial_interval_ms: 1_000,
  backoff_factor: 2,
  max_interval_ms: 60_000,
  jitter: 0,
} as const;

export const RUN_STATES = ["running", "completed", "failed", "cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];
export const STEP_STATES = ["pending", "waiting_retry", "running", "succeeded", "failed", "cancelled", "skipped"] as const;
export type StepState = (typeof STEP_STATES)[number];

/** Every run and step transition's event type, stream `workflow-<run_id>` [WF-22]; docs/events.md. */
export const WORKFLOW_EVENTS = [
  "workflow.started",
  "workflow.step.started",
  "workflow.step.retrying",
  "workflow.step.succeeded",
  "workflow.step.failed",
  "workflow.step.cancelled",
  "workflow.completed",
  "workflow.failed",
  "workflow.cancelled",
] as const;
export type WorkflowEventType = (typeof WORKFLOW_EVENTS)[number];

/** The event a run's end in each state announces [WF-22]. */
export const RUN_END_EVENT = {
  completed: "workflow.completed",
  failed: "workflow.failed",
  cancelled: "workflow.cancelled",
} as const satisfies Record<Exclude<RunState, "running">, WorkflowEventType>;

/** The run's state an event type ends it in, or undefined when it does not end the run. */
export function runEndState(type: string): Exclude<RunState, "running"> | undefined {
  for (const [state, event] of Object.entries(RUN_END_EVENT)) if (event === type) return state as Exclude<RunState, "running">;
  return undefined;
}

/**
 * A mapping [WF-7]: any JSON value, in which `{ "$ref": "<JSON Pointer>" }` is replaced by the value
 * it points to in the run's context and `{ "$tpl": "text ${/pointer}" }` by the string with each part
 * substituted. Nothing else is evaluated.
 */
export const MappingSchema = z
  .unknown()
  .describe("A mapping: a JSON value whose `{\"$ref\": pointer}` and `{\"$tpl\": text}` objects are evaluated against the run's context (WF-7).");
export type Mapping = unknown;

export const RetryPolicySchema = z
  .object({
    max_attempts: posInt(100, "Most attempts of the step, the first included; default 1.").optional(),
    initial_interval_ms: uint("Delay before the second attempt; default 1000.").optional(),
    backoff_factor: z.number().min(1).max(100).describe("Each later delay is the previous one times this; default 2.").optional(),
    max_interval_ms: uint("Longest delay between attempts; default 60000.").optional(),
    jitter: z.number().min(0).max(1).describe("Each delay is multiplied by 1 ± jitter × random; 0..1, default 0.").optional(),
    non_retryable: z.array(errorCode("An error code.")).max(64).optional().describe("Error codes that fail the step at once, whatever attempts are left."),
  })
  .describe("When and how often a failed step is attempted again (WF-11).");
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

export const JoinSchema = z
  .union([
    z.enum(["all", "all_settled"]),
    z.object({ quorum: posInt(WORKFLOW_LIMITS.maxSteps, "Run once this many `after` steps succeeded.") }),
  ])
  .describe("When a step with `after` runs: `all` (default), `all_settled`, or `{ \"quorum\": n }` (WF-9).");
export type Join = z.infer<typeof JoinSchema>;

export const OnFailureSchema = z
  .union([
    z.enum(["fail", "continue"]),
    z.object({ compensate: id("Id of the step to run (once) before the run fails.") }),
  ])
  .describe("What a step's final failure does: `fail` the run (default), `continue`, or `{ \"compensate\": step id }` (WF-10).");
export type OnFailure = z.infer<typeof OnFailureSchema>;

export const StepSchema = z
  .object({
    id: id("The step's id, unique in the definition; `steps.<id>` in the context."),
    capability: capabilityName("Capability whose agents run the step."),
    version: z.string().regex(RANGE_RE).optional().describe("Version range of the capability; default `*`."),
    tags: tags("Tags the capability or agent must carry.").optional(),
    strategy: z.enum(STRATEGIES).optional().describe("Routing strategy of the step's tasks."),
    priority: z.enum(PRIORITIES).optional().describe("Priority of the step's tasks."),
    timeout_ms: posInt(86_400_000, "Timeout of each attempt's task; default is the broker's.").optional(),
    input: MappingSchema.optional().describe("Mapping that builds the step's input; default: the workflow input."),
    after: z.array(id("A step id.")).max(WORKFLOW_LIMITS.maxSteps).optional().describe("Steps this one waits for: the DAG's edges. None: it starts at once."),
    join: JoinSchema.optional(),
    retry: RetryPolicySchema.optional(),
    on_failure: OnFailureSchema.optional(),
  })
  .describe("One step of a workflow: a task for a capability.");
export type Step = z.infer<typeof StepSchema>;

export const WorkflowLimitsSchema = z
  .object({
    max_step_output_bytes: posInt(WORKFLOW_LIMITS.maxStepOutputBytesCeiling, "Largest step output, MessagePack bytes; default 1 MiB.").optional(),
    max_run_ms: posInt(WORKFLOW_LIMITS.maxRunMsCeiling, "Longest a run may take; default 24 h.").optional(),
  })
  .describe("A definition's explicit limits (WF-14).");

const WorkflowShape = z
  .object({
    workflow: z.literal(WORKFLOW_FORMAT).describe("Document format version: 1."),
    name: id("The workflow's name."),
    version: z.string().regex(VERSION_RE).describe("Semantic version MAJOR.MINOR.PATCH of this definition."),
    description: text(4096, "What the workflow does.").optional(),
    steps: z.array(StepSchema).min(1).max(WORKFLOW_LIMITS.maxSteps).describe("The steps; their `after` edges form a DAG."),
    output: MappingSchema.optional().describe("Mapping that builds the run's output; default: the output of the last step listed."),
    limits: WorkflowLimitsSchema.optional(),
  })
  .meta({ title: "workflow", description: "A workflow definition document (SPEC §21)." });

/** The graph rules of WF-3, each issue at its field's path. */
function checkGraph(doc: z.output<typeof WorkflowShape>, ctx: z.RefinementCtx): void {
  const index = new Map<string, number>();
  doc.steps.forEach((s, i) => {
    if (index.has(s.id)) ctx.addIssue({ code: "custom", path: ["steps", i, "id"], message: `step id "${s.id}" appears twice` });
    else index.set(s.id, i);
  });
  doc.steps.forEach((s, i) => {
    s.after?.forEach((a, j) => {
      if (!index.has(a)) ctx.addIssue({ code: "custom", path: ["steps", i, "after", j], message: `after names "${a}", which is no step` });
      else if (a === s.id) ctx.addIssue({ code: "custom", path: ["steps", i, "after", j], message: `step "${a}" waits for itself` });
    });
    if (typeof s.join === "object" && s.join.quorum > (s.after?.length ?? 0)) {
      ctx.addIssue({ code: "custom", path: ["steps", i, "join", "quorum"], message: `quorum ${s.join.quorum} exceeds the ${s.after?.length ?? 0} steps of after` });
    }
  });
  const cycle = findCycle(doc.steps, index);
  if (cycle !== undefined) ctx.addIssue({ code: "custom", path: ["steps", cycle, "after"], message: `step "${doc.steps[cycle]!.id}" is on a cycle` });
  const compensators = new Set<string>();
  doc.steps.forEach((s, i) => {
    if (typeof s.on_failure !== "object") return;
    const c = s.on_failure.compensate;
    if (!index.has(c)) ctx.addIssue({ code: "custom", path: ["steps", i, "on_failure", "compensate"], message: `compensate names "${c}", which is no step` });
    else compensators.add(c);
  });
  // A compensation step runs only on failure: it must not also be part of the DAG [WF-3].
  doc.steps.forEach((s, i) => {
    if (compensators.has(s.id) && s.after !== undefined && s.after.length > 0) {
      ctx.addIssue({ code: "custom", path: ["steps", i, "after"], message: `compensation step "${s.id}" has after; it runs only when compensating` });
    }
    s.after?.forEach((a, j) => {
      if (compensators.has(a)) ctx.addIssue({ code: "custom", path: ["steps", i, "after", j], message: `step "${s.id}" waits for compensation step "${a}"` });
    });
    if (typeof s.on_failure === "object" && compensators.has(s.id)) {
      ctx.addIssue({ code: "custom", path: ["steps", i, "on_failure"], message: `compensation step "${s.id}" has a compensation of its own` });
    }
  });
}

/** Index of a step on a cycle of `after` edges, if any (iterative DFS, white/grey/black). */
function findCycle(steps: ReadonlyArray<{ id: string; after?: string[] | undefined }>, index: Map<string, number>): number | undefined {
  const colour = new Uint8Array(steps.length);
  for (let root = 0; root < steps.length; root++) {
    if (colour[root] !== 0) continue;
    const stack: Array<[number, number]> = [[root, 0]];
    colour[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const after = steps[top[0]]!.after ?? [];
      if (top[1] >= after.length) {
        colour[top[0]] = 2;
        stack.pop();
        continue;
      }
      const next = index.get(after[top[1]++]!);
      if (next === undefined || next === top[0]) continue;
      if (colour[next] === 1) return next;
      if (colour[next] === 0) {
        colour[next] = 1;
        stack.push([next, 0]);
      }
    }
  }
  return undefined;
}

export const WorkflowSchema = WorkflowShape.superRefine(checkGraph);
export type WorkflowDefinition = z.infer<typeof WorkflowSchema>;

/** A registered definition named instead of sent inline: the highest version when `version` is absent. */
export const WorkflowRefSchema = z
  .object({
    name: id("Name of a registered workflow."),
    version: z.string().regex(VERSION_RE).optional().describe("Its version; default: the highest registered."),
  })
  .describe("A registered workflow by name and version.");
export type WorkflowRef = z.infer<typeof WorkflowRefSchema>;

/** One step's entry in the run context [WF-6]: `output` once it succeeded, `error` once it failed. */
export interface StepContext {
  output?: unknown;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  attempts: number;
}

/** The document mappings are evaluated against [WF-6]. */
export interface RunContext {
  input: unknown;
  steps: Record<string, StepContext>;
}

/** A step's final retry settings with every default applied. */
export function retryPolicy(step: Step): Required<Omit<RetryPolicy, "non_retryable">> & { non_retryable: readonly string[] } {
  const r = step.retry ?? {};
  return {
    max_attempts: r.max_attempts ?? RETRY_DEFAULTS.max_attempts,
    initial_interval_ms: r.initial_interval_ms ?? RETRY_DEFAULTS.initial_interval_ms,
    backoff_factor: r.backoff_factor ?? RETRY_DEFAULTS.backoff_factor,
    max_interval_ms: r.max_interval_ms ?? RETRY_DEFAULTS.max_interval_ms,
    jitter: r.jitter ?? RETRY_DEFAULTS.jitter,
    non_retryable: r.non_retryable ?? [],
  };
}

/**
 * The delay before attempt `attempt + 1` after attempt `attempt` failed [WF-12]:
 * min(max_interval, initial × factor^(attempt−1)) × (1 ± jitter·random), `random` in [0, 1).
 */
export function retryDelayMs(policy: ReturnType<typeof retryPolicy>, attempt: number, random: number = Math.random()): number {
  const base = Math.min(policy.max_interval_ms, policy.initial_interval_ms * policy.backoff_factor ** (attempt - 1));
  const spread = policy.jitter * (2 * random - 1);
  return Math.max(0, Math.round(base * (1 + spread)));
}
