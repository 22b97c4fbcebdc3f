/**
 * Every frame of agentwire protocol v1, defined once. SPEC.md's field tables, protocol/schema/*.json,
 * the TypeScript types and runtime validation all come from these schemas.
 *
 * Each field's description is the "meaning" column of SPEC.md; `x-msgpack` metadata names the
 * MessagePack type where JSON Schema's data model cannot: `bin` payloads, and `int` on every integer
 * field (JSON Schema's `integer` also takes 1.0; MessagePack must carry an int, ENC-3).
 */
import { z } from "zod";
import { AGENT_STATUSES, PRIORITIES, SCALE_REASONS, STRATEGIES } from "./constants.js";
import { LIMITS } from "./constants.js";
import { isValidPattern, isValidTopic, TOPIC_PATTERN, TOPIC_PATTERN_PATTERN } from "./topic.js";
import { traceFields } from "./trace.js";
import { WORKFLOW_EVENTS } from "./workflow.js";
import { bin, capabilityName, errorCode, id, int, posInt, RANGE_RE, tags, text, uint, VERSION_RE } from "./fields.js";

export type Direction = "peer→broker" | "broker→peer" | "both";

/** Frame-level metadata kept in zod's registry for the spec and schema generators. */
export interface FrameMeta {
  direction: Direction;
  title: string;
  description: string;
}

// ---- field types -------------------------------------------------------------------------------

export { ID_RE, isId } from "./fields.js";
const tier = (description: string) => int(0, 9, description);
const timeMs = uint;
// The grammar is a `pattern` in the JSON Schema; the UTF-8 byte limit is only in the refinement
// (SCHEMA_LIMITS), and maxLength 256 bounds it from above (256 bytes are at most 256 code points).
const topic = (description: string) =>
  z.string().max(LIMITS.maxIdBytes).regex(new RegExp(TOPIC_PATTERN, "u")).refine(isValidTopic, "not a valid topic (see TOPIC-1)").describe(description);
const pattern = (description: string) =>
  z.string().max(LIMITS.maxIdBytes).regex(new RegExp(TOPIC_PATTERN_PATTERN, "u")).refine(isValidPattern, "not a valid topic pattern (see TOPIC-2)").describe(description);
const jsonSchema = (description: string) => z.record(z.string(), z.unknown()).describe(description);

export const PrioritySchema = z.enum(PRIORITIES).describe("Task priority: low, normal, high or critical.");
export const StrategySchema = z.enum(STRATEGIES).describe("Routing strategy.");
export const AgentStatusSchema = z.enum(AGENT_STATUSES).describe("Agent status.");

export const ErrorInfoSchema = z
  .object({
    code: errorCode("An error code of the registry (ERR-1), or an application code."),
    message: text(4096, "Human-readable text; never parsed."),
    retryable: z.boolean().optional().describe("Whether repeating may succeed."),
    details: z.record(z.string(), z.unknown()).optional().describe("Structured context."),
  })
  .describe("An error: code, message, and optional details.");
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const CapabilitySchema = z
  .object({
    name: capabilityName("Capability name, e.g. `price.quote`."),
    version: z.string().regex(VERSION_RE).optional().describe("Semantic version MAJOR.MINOR.PATCH; default `1.0.0`."),
    description: text(1024, "What the capability does, for people and LLM planners.").optional(),
    tags: tags("Free-form labels that `submit.tags` can require.").optional(),
    input_schema: jsonSchema("JSON Schema of the task input document.").optional(),
    output_schema: jsonSchema("JSON Schema of the task output document.").optional(),
  })
  .describe("A capability an agent offers.");
export type Capability = z.infer<typeof CapabilitySchema>;

export const AgentInfoSchema = z
  .object({
    agent_id: id("The agent's id."),
    name: text(256, "The agent's display name."),
    broker_id: id("Id of the broker the agent is connected to."),
    status: AgentStatusSchema,
    in_flight: uint("Tasks the agent holds now."),
    capacity: uint("Tasks the agent takes at once."),
    tier: tier("Priority tier 0..9 the agent declared (PRIO-1)."),
    tags: tags("Agent tags."),
    capabilities: z.array(CapabilitySchema).describe("Capabilities offered."),
    connected_at: timeMs("When the agent registered."),
    pool: id("v1.2: the pool the agent is a member of (`register.pool`, POOL-1); absent when none.").optional(),
  })
  .describe("One agent in a registry answer.");
export type AgentInfo = z.infer<typeof AgentInfoSchema>;

// ---- frames ------------------------------------------------------------------------------------

type Rule<S extends z.ZodRawShape> = {
  check: (frame: z.output<z.ZodObject<S>>) => boolean;
  message: string;
  path: string;
  /** The same rule in JSON Schema words, merged into the generated schema. */
  jsonSchema: Record<string, unknown>;
};

const frame = <T extends string, S extends z.ZodRawShape>(type: T, meta: FrameMeta, shape: S, rule?: Rule<S>) => {
  const object = z.object({ type: z.literal(type).describe(`Always \`${type}\`.`), ...shape });
  const checked = rule === undefined ? object : object.refine((v) => rule.check(v as z.output<z.ZodObject<S>>), { message: rule.message, path: [rule.path] });
  return checked.meta({ ...meta, ...rule?.jsonSchema });
};

export const RegisterSchema = frame("register", {
  direction: "peer→broker",
  title: "register",
  description: "First frame of every session: an agent (with capabilities) or a plain client (without).",
}, {
  protocol: posInt(1_000, "Protocol version the peer speaks; default 1.").optional(),
  name: text(256, "Display name.").optional(),
  agent_id: id("Requested agent id; the broker assigns one when absent.").optional(),
  token: text(4096, "Bearer token, when not sent in the HTTP upgrade header.").optional(),
  capabilities: z.array(CapabilitySchema).max(256).optional().describe("Capabilities offered; absent or empty for a plain client."),
  capacity: posInt(1_000_000, "Most tasks the agent runs at once; default 16.").optional(),
  tier: tier("Priority tier 0..9 for the priority strategy; default 0.").optional(),
  tags: tags("Labels for the whole agent.").optional(),
  pool: id("v1.2: name of the pool this agent is a member of (POOL-1).").optional(),
}, {
  check: (r) => r.capabilities === undefined || new Set(r.capabilities.map((c) => c.name)).size === r.capabilities.length,
  message: "a capability name appears twice (REG-8)",
  path: "capabilities",
  // JSON Schema's uniqueItems compares whole items, not one property: SCHEMA_LIMITS lists REG-8.
  jsonSchema: {},
});

export const RegisteredSchema = frame("registered", {
  direction: "broker→peer",
  title: "registered",
  description: "The broker's answer to a successful `register`; carries the session's parameters and limits.",
}, {
  protocol: posInt(1_000, "Protocol version the broker speaks on this session."),
  agent_id: id("Id of this session's agent or client."),
  session_id: id("Unique id of this connection."),
  broker_id: id("Id of the broker."),
  heartbeat_interval_ms: posInt(3_600_000, "How often the peer sends `heartbeat`."),
  heartbeat_timeout_ms: posInt(3_600_000, "Silence after which the broker evicts the peer."),
  max_frame_bytes: posInt(1 << 30, "Largest message the broker accepts."),
  max_in_flight: posInt(1 << 30, "Most tasks and requests this session may have open at once."),
  max_subscriptions: posInt(1 << 30, "Most topic subscriptions this session may hold; absent when the broker sets no bound.").optional(),
  task_timeout_ms: posInt(86_400_000, "v1.1: the task timeout the broker applies when `submit.timeout_ms` is absent.").optional(),
  request_timeout_ms: posInt(86_400_000, "v1.1: the request timeout the broker applies when `request.timeout_ms` is absent.").optional(),
  max_attempts: posInt(100, "v1.1: the attempts the broker allows when `submit.max_attempts` is absent.").optional(),
});

export const HeartbeatSchema = frame("heartbeat", {
  direction: "peer→broker",
  title: "heartbeat",
  description: "Liveness and load, sent every heartbeat_interval_ms.",
}, {
  in_flight: uint("Tasks the agent runs now.").optional(),
  capacity: posInt(1_000_000, "Most tasks the agent runs at once.").optional(),
  status: AgentStatusSchema.optional(),
});

export const SubmitSchema = frame("submit", {
  direction: "peer→broker",
  title: "submit",
  description: "Ask the broker to run a task on some agent offering a capability.",
}, {
  ref: id("Submitter's correlation id, echoed by `accepted` or `error`."),
  capability: capabilityName("Capability the task needs."),
  version: z.string().regex(RANGE_RE).optional().describe("Version range the agent's capability must satisfy; default `*`."),
  tags: tags("Tags the capability or agent must all carry.").optional(),
  input: bin("Task input document."),
  priority: PrioritySchema.optional(),
  timeout_ms: posInt(86_400_000, "Time from acceptance to deadline; default is the broker's.").optional(),
  strategy: StrategySchema.optional(),
  idempotency_key: id("A repeated key returns the first task instead of a new one.").optional(),
  max_attempts: posInt(100, "Most times the task is dispatched; default is the broker's.").optional(),
  ...traceFields,
});

export const AcceptedSchema = frame("accepted", {
  direction: "broker→peer",
  title: "accepted",
  description: "The broker took a submitted task; it now owns it until a `result` is sent.",
}, {
  ref: id("The `submit.ref`."),
  task_id: id("Broker-assigned task id."),
  duplicate: z.boolean().optional().describe("True when an idempotency key matched an earlier task."),
});

export const TaskSchema = frame("task", {
  direction: "broker→peer",
  title: "task",
  description: "A task dispatched to an agent.",
}, {
  task_id: id("The task's id."),
  capability: capabilityName("Capability to run."),
  input: bin("Task input document, bytes as submitted."),
  priority: PrioritySchema,
  deadline: timeMs("Time after which the result no longer counts."),
  attempt: posInt(100, "1 on the first dispatch, +1 on each retry."),
  max_attempts: posInt(100, "Last attempt the broker will make."),
  remaining_ms: uint("v1.1: time left until `deadline` when the broker sent the frame, on its clock.").optional(),
  ...traceFields,
});

export const ProgressSchema = frame("progress", {
  direction: "both",
  title: "progress",
  description: "Intermediate data of a running task, from the agent, forwarded to the submitter in order.",
}, {
  task_id: id("The task's id."),
  data: bin("Progress document."),
});

export const ResultSchema = frame("result", {
  direction: "both",
  title: "result",
  description: "The end of one task attempt (agent → broker) or of the task (broker → submitter).",
}, {
  task_id: id("The task's id."),
  ok: z.boolean().describe("True on success: `output` may be present. False: `error` is present."),
  output: bin("Task output document.").optional(),
  error: ErrorInfoSchema.optional(),
  attempt: posInt(100, "Attempt this result ends.").optional(),
  ref: id("Broker → submitter: the `submit.ref`.").optional(),
}, {
  check: (r) => r.ok || r.error !== undefined,
  message: "a result with ok=false carries error",
  path: "error",
  jsonSchema: { if: { properties: { ok: { const: false } }, required: ["ok"] }, then: { required: ["error"] } },
});

export const CancelSchema = frame("cancel", {
  direction: "both",
  title: "cancel",
  description: "Submitter → broker: cancel a task. Broker → agent: stop working on it.",
}, {
  task_id: id("The task's id."),
  reason: text(1024, "Why.").optional(),
  ref: id("Correlation id, acknowledged by `ack`.").optional(),
});

export const AttachSchema = frame("attach", {
  direction: "peer→broker",
  title: "attach",
  description: "Follow a task accepted earlier, e.g. on a connection that dropped or on another broker of a mesh: its result, and its progress where the broker has it.",
}, {
  task_id: id("The task's id, from its `accepted`."),
  ref: id("Correlation id, echoed by `accepted` (then used by the task's `result`) or `error`."),
});

export const SendSchema = frame("send", {
  direction: "peer→broker",
  title: "send",
  description: "A direct message to one agent.",
}, {
  to: id("Target agent id."),
  payload: bin("Message document."),
  correlation_id: id("Passed through to the target.").optional(),
  ref: id("When present the broker answers `ack` or `error`.").optional(),
  ...traceFields,
});

export const MessageSchema = frame("message", {
  direction: "broker→peer",
  title: "message",
  description: "A delivered direct message (no `topic`) or broadcast (with `topic`).",
}, {
  from: id("Sender's agent id, or the broker's id when `from_broker` is true."),
  payload: bin("Message document."),
  topic: topic("Topic it was published to; absent for direct messages.").optional(),
  correlation_id: id("From `send`.").optional(),
  from_broker: z.boolean().optional().describe("v1.1: true when the broker itself sent it (a publish over HTTP, HTTP-12); `from` is then a broker id."),
  ...traceFields,
});

export const SubscribeSchema = frame("subscribe", {
  direction: "peer→broker",
  title: "subscribe",
  description: "Receive every `publish` whose topic matches a pattern.",
}, {
  topic: pattern("Topic pattern; `*` matches one token, a final `>` one or more."),
  ref: id("When present the broker answers `ack` or `error`.").optional(),
});

export const UnsubscribeSchema = frame("unsubscribe", {
  direction: "peer→broker",
  title: "unsubscribe",
  description: "Stop a subscription made with the same pattern.",
}, {
  topic: pattern("The pattern given to `subscribe`."),
  ref: id("When present the broker answers `ack` or `error`.").optional(),
});

export const PublishSchema = frame("publish", {
  direction: "peer→broker",
  title: "publish",
  description: "Broadcast to every session subscribed to a matching pattern.",
}, {
  topic: topic("Topic, without wildcards."),
  payload: bin("Message document."),
  ref: id("When present the broker answers `ack` or `error`.").optional(),
  ...traceFields,
});

export const RequestSchema = frame("request", {
  direction: "both",
  title: "request",
  description: "Ask one agent (by id or capability) for a `response`.",
}, {
  id: id("Request id: the caller's own, or the broker's when forwarded."),
  to: id("Target agent id; exactly one of `to` and `capability`.").optional(),
  capability: capabilityName("Any agent offering this capability.").optional(),
  payload: bin("Request document."),
  timeout_ms: posInt(86_400_000, "Caller → broker: time to wait; default is the broker's.").optional(),
  deadline: timeMs("Broker → agent: when the caller stops waiting.").optional(),
  from: id("Broker → agent: the caller's agent id.").optional(),
  remaining_ms: uint("v1.1, broker → agent: time left until `deadline` when the broker sent the frame.").optional(),
  ...traceFields,
}, {
  check: (r) => (r.to === undefined) !== (r.capability === undefined),
  message: "exactly one of to and capability",
  path: "to",
  jsonSchema: { oneOf: [{ required: ["to"] }, { required: ["capability"] }] },
});

export const ResponseSchema = frame("response", {
  direction: "both",
  title: "response",
  description: "The answer to a `request`, or its failure (no_responders, timeout, ...).",
}, {
  id: id("The `request.id` it answers."),
  ok: z.boolean().optional().describe("False when `error` is present; default true."),
  payload: bin("Response document.").optional(),
  error: ErrorInfoSchema.optional(),
  ...traceFields,
}, {
  check: (r) => r.ok !== false || r.error !== undefined,
  message: "a response with ok=false carries error",
  path: "error",
  jsonSchema: { if: { properties: { ok: { const: false } }, required: ["ok"] }, then: { required: ["error"] } },
});

export const QuerySchema = frame("query", {
  direction: "peer→broker",
  title: "query",
  description: "Ask the registry which agents there are.",
}, {
  ref: id("Echoed by `agents`."),
  capability: capabilityName("Only agents offering it.").optional(),
  status: AgentStatusSchema.optional(),
  tags: tags("Only agents carrying all of them.").optional(),
});

export const AgentsSchema = frame("agents", {
  direction: "broker→peer",
  title: "agents",
  description: "The registry's answer to `query`.",
}, {
  ref: id("The `query.ref`."),
  agents: z.array(AgentInfoSchema).describe("Matching agents."),
});

export const DrainSchema = frame("drain", {
  direction: "both",
  title: "drain",
  description: "The agent takes no new tasks; those it holds run to their end. Peer → broker: the agent asks for it. Broker → agent (v1.2): the broker put the agent into DRAINING (DRAIN-7).",
}, {
  ref: id("Peer → broker: when present the broker answers `ack`.").optional(),
  reason: text(1024, "v1.2, broker → agent: why, e.g. `pool scale-down`; for people, never parsed.").optional(),
});

/** A pool's autoscaler settings as its supervisor asks for them [POOL-6]; each is clamped to the broker's limits. */
export const AutoscaleSchema = z
  .object({
    up_threshold: z.number().min(0).max(100).describe("Scale up when utilization is above this; default 0.8.").optional(),
    down_threshold: z.number().min(0).max(100).describe("Scale down when utilization is below this; default 0.2.").optional(),
    step: posInt(10_000, "Most members one decision adds or removes; default 2.").optional(),
    interval_ms: posInt(3_600_000, "Time between evaluations; default 1000.").optional(),
    window_ms: posInt(86_400_000, "Look-back over which utilization is averaged; default 10000.").optional(),
    stabilization_ms: uint("Time utilization must stay below the band before a scale-down; default 30000.").optional(),
    cooldown_ms: uint("No decision within this time of the last one; default 5000.").optional(),
  })
  .describe("Autoscaler settings of one pool.");
export type Autoscale = z.infer<typeof AutoscaleSchema>;

export const PoolSchema = frame("pool", {
  direction: "peer→broker",
  title: "pool",
  description: "v1.2: declare (or update) a pool; the sender becomes its supervisor and receives its `scale` requests.",
}, {
  ref: id("Echoed by `ack` or `error`."),
  name: id("The pool's name; members register with `register.pool` = this name."),
  capabilities: z.array(capabilityName("A capability name.")).min(1).max(256).describe("Capability names the pool's members offer: tasks queued for them count as the pool's demand."),
  min: int(0, 100_000, "Fewest members the pool keeps."),
  max: posInt(100_000, "Most members the pool has."),
  autoscale: AutoscaleSchema.optional(),
}, {
  check: (p) => p.min <= p.max,
  message: "min is greater than max (POOL-3)",
  path: "min",
  // JSON Schema cannot compare two fields: SCHEMA_LIMITS lists POOL-3.
  jsonSchema: {},
});

export const ScaleSchema = frame("scale", {
  direction: "broker→peer",
  title: "scale",
  description: "v1.2: the broker asks a pool's supervisor to change the pool's size from `from` to `to` members.",
}, {
  pool: id("The pool's name."),
  from: uint("Live members the broker counted."),
  to: uint("Members the pool should have."),
  reason: z.enum(SCALE_REASONS).describe("Why: `utilization_high`, `utilization_low`, `below_min`, `above_max` or `queue_empty` (scale to zero)."),
  utilization: z.number().min(0).describe("(in_flight + queued) ÷ capacity, averaged over the look-back window."),
  in_flight: uint("Tasks the pool's members hold."),
  capacity: uint("Tasks the pool's members take at once, summed."),
  queued: uint("Tasks queued for the pool's capabilities."),
  drain: z.array(id("An agent id.")).max(100_000).optional().describe("On scale-down: the members the broker put into DRAINING (POOL-12)."),
});

export const RunSchema = frame("run", {
  direction: "peer→broker",
  title: "run",
  description: "v1.2: start a workflow run (§21): a definition sent inline, or a registered one by name and version.",
}, {
  ref: id("Echoed by `run_accepted` or `error`."),
  // A map here; the broker checks it against WorkflowSchema or WorkflowRefSchema and answers
  // bad_workflow with the definition's own path, not bad_frame (WF-2).
  workflow: z.record(z.string(), z.unknown()).describe("The definition document (WF-1, workflow.schema.json), or `{ name, version? }` of a registered one (WF-2)."),
  input: bin("The workflow input document: `/input` in the run's context."),
  watch: z.boolean().optional().describe("False: send this session no `run_event`s (the `run_result` still comes); default true."),
});

export const RunAcceptedSchema = frame("run_accepted", {
  direction: "broker→peer",
  title: "run_accepted",
  description: "v1.2: the broker took a run; it now owns it until its `run_result`.",
}, {
  ref: id("The `run.ref`."),
  run_id: id("Broker-assigned run id."),
});

export const RunEventSchema = frame("run_event", {
  direction: "broker→peer",
  title: "run_event",
  description: "v1.2: one transition of a run or of one of its steps (WF-22), to the session that started it and to those that sent `run_watch`.",
}, {
  run_id: id("The run's id."),
  event: z.enum(WORKFLOW_EVENTS).describe("The event's type, e.g. `workflow.step.started`."),
  step: id("The step, on `workflow.step.*` events.").optional(),
  attempt: posInt(100, "The step's attempt, on `workflow.step.*` events.").optional(),
  task_id: id("The attempt's task, on `workflow.step.started`.").optional(),
  delay_ms: uint("Time until the next attempt, on `workflow.step.retrying`.").optional(),
  at: timeMs("When it happened."),
  error: ErrorInfoSchema.optional(),
});

export const RunResultSchema = frame("run_result", {
  direction: "broker→peer",
  title: "run_result",
  description: "v1.2: the end of a run, to the session that started it and to those that sent `run_watch`.",
}, {
  run_id: id("The run's id."),
  ok: z.boolean().describe("True when the run completed: `output` is present. False: `error` is present."),
  output: bin("The run's output document: its `output` mapping evaluated.").optional(),
  error: ErrorInfoSchema.optional(),
}, {
  check: (r) => r.ok || r.error !== undefined,
  message: "a run_result with ok=false carries error",
  path: "error",
  jsonSchema: { if: { properties: { ok: { const: false } }, required: ["ok"] }, then: { required: ["error"] } },
});

export const RunCancelSchema = frame("run_cancel", {
  direction: "peer→broker",
  title: "run_cancel",
  description: "v1.2: cancel a run: its running steps' tasks are cancelled and no step starts.",
}, {
  run_id: id("The run's id."),
  ref: id("Correlation id, acknowledged by `ack`.").optional(),
});

export const RunWatchSchema = frame("run_watch", {
  direction: "peer→broker",
  title: "run_watch",
  description: "v1.2: follow a run started elsewhere (another session, HTTP, another broker of a mesh): its `run_event`s from now on and its `run_result`.",
}, {
  ref: id("Acknowledged by `ack`, or answered by `error`."),
  run_id: id("The run's id."),
});

export const GoawaySchema = frame("goaway", {
  direction: "broker→peer",
  title: "goaway",
  description: "The broker is shutting down: finish in-flight work, then reconnect (elsewhere).",
}, {
  reason: text(1024, "Why."),
  grace_ms: uint("Time the broker still waits for in-flight results before closing."),
});

export const AckSchema = frame("ack", {
  direction: "broker→peer",
  title: "ack",
  description: "A frame carrying `ref` was carried out.",
}, {
  ref: id("The frame's `ref`."),
});

export const ErrorFrameSchema = frame("error", {
  direction: "broker→peer",
  title: "error",
  description: "A frame failed, or the session ends.",
}, {
  ref: id("`ref`, `task_id` or `id` of the frame that failed, when known.").optional(),
  code: errorCode("A code of the registry (ERR-1)."),
  message: text(4096, "Human-readable text; never parsed."),
  details: z.record(z.string(), z.unknown()).optional().describe("Structured context, e.g. `path` of a bad field."),
  fatal: z.boolean().optional().describe("True when the broker closes the connection after this frame."),
});

/** Every frame schema by `type`, in the order SPEC.md lists them. */
export const FRAME_SCHEMAS = {
  register: RegisterSchema,
  registered: RegisteredSchema,
  heartbeat: HeartbeatSchema,
  submit: SubmitSchema,
  accepted: AcceptedSchema,
  task: TaskSchema,
  progress: ProgressSchema,
  result: ResultSchema,
  cancel: CancelSchema,
  attach: AttachSchema,
  send: SendSchema,
  message: MessageSchema,
  subscribe: SubscribeSchema,
  unsubscribe: UnsubscribeSchema,
  publish: PublishSchema,
  request: RequestSchema,
  response: ResponseSchema,
  query: QuerySchema,
  agents: AgentsSchema,
  drain: DrainSchema,
  pool: PoolSchema,
  scale: ScaleSchema,
  run: RunSchema,
  run_accepted: RunAcceptedSchema,
  run_event: RunEventSchema,
  run_result: RunResultSchema,
  run_cancel: RunCancelSchema,
  run_watch: RunWatchSchema,
  goaway: GoawaySchema,
  ack: AckSchema,
  error: ErrorFrameSchema,
} as const;

export type FrameType = keyof typeof FRAME_SCHEMAS;
export const FRAME_TYPES = Object.keys(FRAME_SCHEMAS) as FrameType[];
export type FrameOf<T extends FrameType> = z.infer<(typeof FRAME_SCHEMAS)[T]>;
export type Frame = { [T in FrameType]: FrameOf<T> }[FrameType];

export type Register = FrameOf<"register">;
export type Registered = FrameOf<"registered">;
export type Heartbeat = FrameOf<"heartbeat">;
export type Submit = FrameOf<"submit">;
export type Accepted = FrameOf<"accepted">;
export type Task = FrameOf<"task">;
export type Progress = FrameOf<"progress">;
export type Result = FrameOf<"result">;
export type Cancel = FrameOf<"cancel">;
export type Attach = FrameOf<"attach">;
export type Send = FrameOf<"send">;
export type Message = FrameOf<"message">;
export type Subscribe = FrameOf<"subscribe">;
export type Unsubscribe = FrameOf<"unsubscribe">;
export type Publish = FrameOf<"publish">;
export type Request = FrameOf<"request">;
export type Response = FrameOf<"response">;
export type Query = FrameOf<"query">;
export type Agents = FrameOf<"agents">;
export type Drain = FrameOf<"drain">;
export type Pool = FrameOf<"pool">;
export type Scale = FrameOf<"scale">;
export type Run = FrameOf<"run">;
export type RunAccepted = FrameOf<"run_accepted">;
export type RunEvent = FrameOf<"run_event">;
export type RunResult = FrameOf<"run_result">;
export type RunCancel = FrameOf<"run_cancel">;
export type RunWatch = FrameOf<"run_watch">;
export type Goaway = FrameOf<"goaway">;
export type Ack = FrameOf<"ack">;
export type ErrorFrame = FrameOf<"error">;

/** Frame types a broker accepts from peers [CONN-3]. */
export const PEER_TO_BROKER: ReadonlySet<FrameType> = new Set(
  FRAME_TYPES.filter((t) => frameMeta(t).direction !== "broker→peer"),
);
/** Frame types a peer accepts from a broker. */
export const BROKER_TO_PEER: ReadonlySet<FrameType> = new Set(
  FRAME_TYPES.filter((t) => frameMeta(t).direction !== "peer→broker"),
);

export function frameMeta(type: FrameType): FrameMeta {
  return z.globalRegistry.get(FRAME_SCHEMAS[type]) as unknown as FrameMeta;
}
