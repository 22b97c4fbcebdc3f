/**
 * Workflows as data: a typed builder for the definition document the broker stores and runs (SPEC §21),
 * and the helpers of its mapping language. The builder only writes the document; `client.run` starts it.
 *
 *   const trade = workflow("trade")
 *     .step("analyze", "market_analyzer", { input: ref("/input") })
 *     .step("risk", "assess_risk", { input: ref("/steps/analyze/output"), retry: retry({ maxAttempts: 3 }) })
 *     .output({ risk: ref("/steps/risk/output") })
 *     .build();
 *
 * A `.step` without `after` runs after the previous stage (the step before it, or every branch of the
 * `.parallel` before it); `after: []` starts it at once. Inputs default to the workflow input, as in the
 * document. With a contract (defineCapability) as the capability, the run's output is typed as that
 * step's output until `.output` names another.
 */
import { BadWorkflowError, WorkflowSchema, type Join, type OnFailure, type Priority, type RetryPolicy, type Step, type Strategy, type WorkflowDefinition } from "@agentwire/wire";
import { capabilityName, type CapabilityContract, type OutputOf } from "./contract.js";

/** `{ "$ref": pointer }`: the value at a JSON Pointer (RFC 6901) into the run's context `{ input, steps: { <id>: { output, error, attempts } } }`. */
export function ref(pointer: string): { $ref: string } {
  return { $ref: pointer };
}

/** `{ "$tpl": text }`: the text with each `${/json/pointer}` replaced by the value it points to. */
export function tpl(text: string): { $tpl: string } {
  return { $tpl: text };
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 1: no retry). */
  maxAttempts?: number;
  /** Delay before the second attempt, ms (default 1000). */
  initialIntervalMs?: number;
  /** Each further delay is the previous × this (default 2). */
  backoffFactor?: number;
  /** Cap on one delay, ms (default 60000). */
  maxIntervalMs?: number;
  /** 0..1: each delay is moved by up to ± this share at random (default 0). */
  jitter?: number;
  /** Error codes that fail the step at once, whatever attempts are left. */
  nonRetryable?: string[];
}

/** A step's retry policy: delay = min(maxInterval, initial × factor^(attempt−1)) × (1 ± jitter·random). */
export function retry(options: RetryOptions): RetryPolicy {
  return omitUndefined({
    max_attempts: options.maxAttempts ?? 1,
    initial_interval_ms: options.initialIntervalMs,
    backoff_factor: options.backoffFactor,
    max_interval_ms: options.maxIntervalMs,
    jitter: options.jitter,
    non_retryable: options.nonRetryable,
  }) as RetryPolicy;
}

/** A step's options, in the SDK's spelling of the document's fields. */
export interface StepOptions<Ids extends string = string> {
  /** The step's input: a mapping (any JSON value with `ref`/`tpl` parts); default the workflow input. */
  input?: unknown;
  /** Steps this one waits for; default the previous stage (`[]`: start at once). */
  after?: Ids[];
  /** When it runs after its `after` steps: "all" (default), "all_settled", or { quorum: n }. */
  join?: Join;
  retry?: RetryPolicy;
  /** What a failure (after its retries) does: "fail" (default), "continue", or { compensate: stepId }. */
  onFailure?: OnFailure;
  /** Version range of the capability, e.g. "^1.2". */
  version?: string;
  tags?: string[];
  strategy?: Strategy;
  priority?: Priority;
  timeoutMs?: number;
}

export interface WorkflowOptions {
  /** Semantic version of this definition (default 1.0.0). */
  version?: string;
  description?: string;
  limits?: { maxStepOutputBytes?: number; maxRunMs?: number };
}

/** A definition document carrying its output type for `client.run` (the type exists only at compile time). */
export type TypedWorkflow<O = unknown> = WorkflowDefinition & { readonly __output?: O };
/** The output type of a built workflow. */
export type WorkflowOutput<W> = W extends TypedWorkflow<infer O> ? O : unknown;

type Capability = string | CapabilityContract;
type Out<C, Fallback> = C extends CapabilityContract ? OutputOf<C> : Fallback;

/** Starts a workflow definition named `name`. */
export function workflow(name: string, options: WorkflowOptions = {}): WorkflowBuilder {
  return new WorkflowBuilder({ name, options, steps: [], frontier: [], output: undefined, typedFrom: undefined, defaults: {} });
}

/** What a builder holds; each call makes a new one, so a shared prefix can start several workflows. */
interface State {
  readonly name: string;
  readonly options: WorkflowOptions;
  readonly steps: readonly Step[];
  /** The previous stage: what a step without `after` waits for. */
  readonly frontier: readonly string[];
  readonly output: unknown;
  /** The step whose output types the run's (the last `.step`), unless `.output` or a `.parallel` came after it. */
  readonly typedFrom: string | undefined;
  readonly defaults: { readonly retry?: RetryPolicy; readonly onFailure?: OnFailure };
}

export class WorkflowBuilder<O = unknown, Ids extends string = never> {
  /** @internal */
  constructor(private readonly state: State) {}

  /** A step running `capability` after the previous stage (or `options.after`). */
  step<Id extends string, C extends Capability>(id: Id, capability: C, options: StepOptions<Ids> = {}): WorkflowBuilder<Out<C, unknown>, Ids | Id> {
    const { steps, frontier } = this.state;
    return this.with({ steps: [...steps, stepDocument(id, capability, options, frontier)], frontier: [id], typedFrom: id });
  }

  /**
   * Fan-out: every step added inside `branches` runs after the current stage, side by side; the next
   * step waits for all of them (its `join` says how: `.join(...)`).
   */
  parallel<More extends string>(branches: (p: ParallelBuilder<Ids>) => ParallelBuilder<Ids | More>): WorkflowBuilder<unknown, Ids | More> {
    const p = branches(new ParallelBuilder<Ids>(this.state.frontier, []));
    if (p.steps.length === 0) throw new TypeError("parallel() needs at least one step");
    return this.with({ steps: [...this.state.steps, ...p.steps], frontier: p.steps.map((s) => s.id), typedFrom: undefined });
  }

  /** The step after a fan-out: `.step` with its join policy first ("all" unless given). */
  join<Id extends string, C extends Capability>(id: Id, capability: C, policy: Join, options: Omit<StepOptions<Ids>, "join"> = {}): WorkflowBuilder<Out<C, unknown>, Ids | Id> {
    return this.step(id, capability, { ...options, join: policy });
  }

  /**
   * A compensation step: it runs only when a step with `onFailure: { compensate: id }` failed, then the
   * run fails. Not part of the DAG: it waits for nothing and nothing waits for it.
   */
  compensation<Id extends string>(id: Id, capability: Capability, options: Omit<StepOptions<Ids>, "after" | "join" | "onFailure"> = {}): WorkflowBuilder<O, Ids | Id> {
    return this.with({ steps: [...this.state.steps, stepDocument(id, capability, { ...options, after: [] }, [])] });
  }

  /**
   * The defaults of every step that sets none of its own: a retry policy (`retry({...})`) or a failure
   * strategy ("fail", "continue", { compensate }). As in `.onFailure(retry({ maxAttempts: 3 }))`.
   */
  onFailure(what: RetryPolicy | OnFailure): WorkflowBuilder<O, Ids> {
    const retries = typeof what === "object" && !("compensate" in what);
    return this.with({ defaults: { ...this.state.defaults, ...(retries ? { retry: what } : { onFailure: what }) } });
  }

  /** The run's output: a mapping over the context (default: the last step's output). */
  output<T = unknown>(mapping: unknown): WorkflowBuilder<T, Ids> {
    return this.with({ output: mapping });
  }

  private with<T, More extends string>(change: Partial<State>): WorkflowBuilder<T, More> {
    return new WorkflowBuilder<T, More>({ ...this.state, ...change });
  }

  /** The definition document, checked as the broker checks it (BadWorkflowError naming the path). */
  build(): TypedWorkflow<O> {
    const { name, options, steps, output, defaults, typedFrom } = this.state;
    const doc = omitUndefined({
      workflow: 1,
      name,
      version: options.version ?? "1.0.0",
      description: options.description,
      steps: steps.map((s) =>
        omitUndefined({
          ...s,
          retry: s.retry ?? defaults.retry,
          on_failure: s.on_failure ?? (defaults.onFailure === undefined || isCompensation(steps, s.id) ? undefined : defaults.onFailure),
        }),
      ),
      // The document's default output is the last step listed's; the type follows the last `.step`.
      output: output ?? (typedFrom !== undefined && typedFrom !== steps.at(-1)?.id ? ref(`/steps/${escapePointer(typedFrom)}/output`) : undefined),
      limits:
        options.limits === undefined
          ? undefined
          : omitUndefined({ max_step_output_bytes: options.limits.maxStepOutputBytes, max_run_ms: options.limits.maxRunMs }),
    }) as WorkflowDefinition;
    return checkedWorkflow(doc) as TypedWorkflow<O>;
  }
}

/** The branches of a `.parallel`: each step runs after the stage before the fan-out. */
export class ParallelBuilder<Ids extends string = never> {
  /** @internal */
  constructor(
    private readonly base: readonly string[],
    /** @internal the branches so far */
    readonly steps: readonly Step[],
  ) {}

  step<Id extends string>(id: Id, capability: Capability, options: StepOptions<Ids> = {}): ParallelBuilder<Ids | Id> {
    return new ParallelBuilder<Ids | Id>(this.base, [...this.steps, stepDocument(id, capability, options, this.base)]);
  }
}

function stepDocument(id: string, capability: Capability, o: StepOptions, frontier: readonly string[]): Step {
  const after = o.after ?? frontier;
  return omitUndefined({
    id,
    capability: capabilityName(capability),
    version: o.version,
    tags: o.tags,
    strategy: o.strategy,
    priority: o.priority,
    timeout_ms: o.timeoutMs,
    input: o.input,
    after: after.length === 0 ? undefined : [...after],
    join: o.join,
    retry: o.retry,
    on_failure: o.onFailure,
  }) as Step;
}

/** The document as the broker checks it [WF-2, WF-3]: BadWorkflowError naming the first problem's path. */
export function checkedWorkflow(doc: unknown): WorkflowDefinition {
  const parsed = WorkflowSchema.safeParse(doc);
  if (parsed.success) return parsed.data;
  // details.path is dot-separated from the definition's root, as the broker answers it [WF-2].
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join(".");
  throw new BadWorkflowError(`${path === "" ? "the definition" : path}: ${issue.message}`, { details: { path, issues: parsed.error.issues } });
}

/** One JSON Pointer token (RFC 6901: ~ and / escaped). */
function escapePointer(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

function isCompensation(steps: readonly Step[], id: string): boolean {
  return steps.some((s) => typeof s.on_failure === "object" && s.on_failure.compensate === id);
}

/** The document leaves absent fields out (undefined is not a JSON value, and MessagePack would write nil). */
function omitUndefined<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
