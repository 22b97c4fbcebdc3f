/**
 * The error-code registry of protocol v1 [ERR-1]: one entry per code, one class per code.
 * SPEC.md's registry table is generated from ERROR_CODES, so this file is the single definition.
 */

export interface ErrorCodeInfo {
  /** When the code is sent. */
  readonly when: string;
  /** Whether the WebSocket connection stays open after an `error` frame with this code. */
  readonly survives: boolean;
  /** HTTP status the HTTP API answers with for this code. */
  readonly http: number;
  /** Whether repeating the same action later may succeed. */
  readonly retryable: boolean;
  /** The WebSocket close code when an error with this code ends the connection [TRANS-8, ERR-6]. */
  readonly close: number;
}

export const ERROR_CODES = {
  bad_frame: {
    when: "A message is not valid MessagePack, not a map, uses a forbidden type (extension, 0xc1, non-str key), or a field is missing or of the wrong type.",
    survives: true, http: 400, retryable: false, close: 1008,
  },
  frame_too_large: {
    when: "A message is longer than the announced max_frame_bytes.",
    survives: false, http: 413, retryable: false, close: 1009,
  },
  unknown_type: {
    when: "A map's `type` is a string that names no frame this receiver accepts.",
    survives: true, http: 400, retryable: false, close: 1008,
  },
  unsupported_version: {
    when: "`register.protocol` names a protocol version the broker does not speak.",
    survives: false, http: 400, retryable: false, close: 1002,
  },
  unauthorized: {
    when: "`register` carries no token, or a token the broker does not know, while auth is on.",
    survives: false, http: 401, retryable: false, close: 1008,
  },
  forbidden: {
    when: "The token does not allow this agent id, capability, submit or request target, message target or topic; or the request's Origin is not allowed (TRANS-11, HTTP-18).",
    survives: true, http: 403, retryable: false, close: 1008,
  },
  not_registered: {
    when: "A frame other than `register` arrives before `registered` was sent.",
    survives: true, http: 409, retryable: false, close: 1008,
  },
  already_registered: {
    when: "A second `register` arrives on a registered session.",
    survives: true, http: 409, retryable: false, close: 1008,
  },
  duplicate_agent: {
    when: "`register` asks for an agent_id that a live session holds.",
    survives: false, http: 409, retryable: true, close: 1013,
  },
  invalid_input: {
    when: "An agent rejects a task's input before running it (sent by agents inside `result.error`).",
    survives: true, http: 422, retryable: false, close: 1008,
  },
  invalid_output: {
    when: "A capability's handler returned output that does not satisfy the capability's output schema (sent by agents inside `result.error`).",
    survives: true, http: 502, retryable: false, close: 1008,
  },
  no_agents: {
    when: "`submit` names a capability (with version range and tags) that no registered agent offers.",
    survives: true, http: 503, retryable: true, close: 1008,
  },
  no_responders: {
    when: "`request` or `send` targets an agent id or capability with no live session to receive it.",
    survives: true, http: 503, retryable: true, close: 1008,
  },
  unknown_task: {
    when: "`cancel`, `progress` or `result` names a task id this session may not act on, or one that is not known.",
    survives: true, http: 404, retryable: false, close: 1008,
  },
  not_found: {
    when: "An HTTP path or method that the HTTP API does not define.",
    survives: true, http: 404, retryable: false, close: 1008,
  },
  timeout: {
    when: "A request got no response before its deadline.",
    survives: true, http: 504, retryable: true, close: 1008,
  },
  deadline_exceeded: {
    when: "A task's deadline passed before it ended (sent as the task's `result.error`).",
    survives: true, http: 504, retryable: true, close: 1008,
  },
  cancelled: {
    when: "A task was cancelled (sent as the task's `result.error`).",
    survives: true, http: 409, retryable: false, close: 1008,
  },
  agent_lost: {
    when: "A task's agent went away and the task has no attempts left (sent as the task's `result.error`).",
    survives: true, http: 502, retryable: true, close: 1008,
  },
  overloaded: {
    when: "A queue is at max length, the session has max_in_flight tasks or requests open, or it holds max_subscriptions subscriptions.",
    survives: true, http: 503, retryable: true, close: 1008,
  },
  rate_limited: {
    when: "The session sends faster than the broker allows.",
    survives: true, http: 429, retryable: true, close: 1008,
  },
  slow_consumer: {
    when: "The broker's send buffer for this session passed its bound; the session is closed.",
    survives: false, http: 503, retryable: true, close: 1008,
  },
  shutting_down: {
    when: "The broker is draining for shutdown and takes no new sessions, tasks or requests.",
    survives: true, http: 503, retryable: true, close: 1001,
  },
  pool_supervised: {
    when: "v1.2: a `pool` frame names a pool whose supervisor is another live session (POOL-4).",
    survives: true, http: 409, retryable: true, close: 1008,
  },
  bad_workflow: {
    when: "v1.2: a workflow definition breaks WF-1..WF-4 (shape, graph or size); `details.path` names the field.",
    survives: true, http: 400, retryable: false, close: 1008,
  },
  unknown_workflow: {
    when: "v1.2: `run` or `POST /v1/workflows/:name/runs` names a workflow (name and version) that is not registered.",
    survives: true, http: 404, retryable: false, close: 1008,
  },
  workflow_exists: {
    when: "v1.2: a definition is registered under a name and version that already hold a different one (WF-5).",
    survives: true, http: 409, retryable: false, close: 1008,
  },
  unknown_run: {
    when: "v1.2: `run_cancel`, `run_watch` or an HTTP run path names a run id that is not known.",
    survives: true, http: 404, retryable: false, close: 1008,
  },
  mapping_failed: {
    when: "v1.2: a workflow mapping points at a missing value (sent as a step's or run's error; `details.pointer` names it).",
    survives: true, http: 422, retryable: false, close: 1008,
  },
  join_failed: {
    when: "v1.2: a workflow step's join can no longer be met (a quorum out of reach); sent as the step's error.",
    survives: true, http: 409, retryable: false, close: 1008,
  },
  limit_exceeded: {
    when: "v1.2: a workflow step's output or a run's duration passed a limit of its definition (sent as a step's or run's error; `details.limit` names it).",
    survives: true, http: 413, retryable: false, close: 1008,
  },
  internal: {
    when: "The broker failed in a way that is not the peer's fault.",
    survives: true, http: 500, retryable: true, close: 1011,
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

export interface AgentwireErrorOptions {
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
  /** Correlation of the frame that failed (`ref`, `task_id` or request `id`), when known. */
  ref?: string | undefined;
  /** Whether repeating may succeed, when the sender said so; absent: the registry's value [ERR-4]. */
  retryable?: boolean | undefined;
}

/** Base of every agentwire error: branch on `code` or the class, never on the message. */
export class AgentwireError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly ref: string | undefined;
  private readonly sentRetryable: boolean | undefined;

  constructor(code: string, message: string, options: AgentwireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.ref = options.ref;
    this.sentRetryable = options.retryable;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** Whether repeating may succeed: as the sender said, else the registry's value; application codes are not [ERR-4]. */
  get retryable(): boolean {
    return this.sentRetryable ?? (isErrorCode(this.code) ? ERROR_CODES[this.code].retryable : false);
  }
}

/** A violation of the wire format itself: what `decode` throws. */
export class ProtocolError extends AgentwireError {}

type Ctor<C extends ErrorCode> = new (message?: string, options?: AgentwireErrorOptions) => AgentwireError & {
  readonly code: C;
};

function defineError<C extends ErrorCode>(code: C, name: string, base: typeof AgentwireError = AgentwireError): Ctor<C> {
  const cls = class extends base {
    constructor(message: string = ERROR_CODES[code].when, options?: AgentwireErrorOptions) {
      super(code, message, options);
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return cls as unknown as Ctor<C>;
}

export const BadFrameError = defineError("bad_frame", "BadFrameError", ProtocolError);
export const FrameTooLargeError = defineError("frame_too_large", "FrameTooLargeError", ProtocolError);
export const UnknownTypeError = defineError("unknown_type", "UnknownTypeError", ProtocolError);
export const UnsupportedVersionError = defineError("unsupported_version", "UnsupportedVersionError", ProtocolError);
export const UnauthorizedError = defineError("unauthorized", "UnauthorizedError");
export const ForbiddenError = defineError("forbidden", "ForbiddenError");
export const NotRegisteredError = defineError("not_registered", "NotRegisteredError");
export const AlreadyRegisteredError = defineError("already_registered", "AlreadyRegisteredError");
export const DuplicateAgentError = defineError("duplicate_agent", "DuplicateAgentError");
export const InvalidInputError = defineError("invalid_input", "InvalidInputError");
export const InvalidOutputError = defineError("invalid_output", "InvalidOutputError");
export const NoAgentsError = defineError("no_agents", "NoAgentsError");
export const NoRespondersError = defineError("no_responders", "NoRespondersError");
export const UnknownTaskError = defineError("unknown_task", "UnknownTaskError");
export const NotFoundError = defineError("not_found", "NotFoundError");
export const TimeoutError = defineError("timeout", "TimeoutError");
export const DeadlineExceededError = defineError("deadline_exceeded", "DeadlineExceededError");
export const CancelledError = defineError("cancelled", "CancelledError");
export const AgentLostError = defineError("agent_lost", "AgentLostError");
export const OverloadedError = defineError("overloaded", "OverloadedError");
export const RateLimitedError = defineError("rate_limited", "RateLimitedError");
export const SlowConsumerError = defineError("slow_consumer", "SlowConsumerError");
export const ShuttingDownError = defineError("shutting_down", "ShuttingDownError");
export const PoolSupervisedError = defineError("pool_supervised", "PoolSupervisedError");
export const BadWorkflowError = defineError("bad_workflow", "BadWorkflowError");
export const UnknownWorkflowError = defineError("unknown_workflow", "UnknownWorkflowError");
export const WorkflowExistsError = defineError("workflow_exists", "WorkflowExistsError");
export const UnknownRunError = defineError("unknown_run", "UnknownRunError");
export const MappingFailedError = defineError("mapping_failed", "MappingFailedError");
export const JoinFailedError = defineError("join_failed", "JoinFailedError");
export const LimitExceededError = defineError("limit_exceeded", "LimitExceededError");
export const InternalError = defineError("internal", "InternalError");

const CLASSES: { readonly [C in ErrorCode]: Ctor<C> } = {
  bad_frame: BadFrameError,
  frame_too_large: FrameTooLargeError,
  unknown_type: UnknownTypeError,
  unsupported_version: UnsupportedVersionError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_registered: NotRegisteredError,
  already_registered: AlreadyRegisteredError,
  duplicate_agent: DuplicateAgentError,
  invalid_input: InvalidInputError,
  invalid_output: InvalidOutputError,
  no_agents: NoAgentsError,
  no_responders: NoRespondersError,
  unknown_task: UnknownTaskError,
  not_found: NotFoundError,
  timeout: TimeoutError,
  deadline_exceeded: DeadlineExceededError,
  cancelled: CancelledError,
  agent_lost: AgentLostError,
  overloaded: OverloadedError,
  rate_limited: RateLimitedError,
  slow_consumer: SlowConsumerError,
  shutting_down: ShuttingDownError,
  pool_supervised: PoolSupervisedError,
  bad_workflow: BadWorkflowError,
  unknown_workflow: UnknownWorkflowError,
  workflow_exists: WorkflowExistsError,
  unknown_run: UnknownRunError,
  mapping_failed: MappingFailedError,
  join_failed: JoinFailedError,
  limit_exceeded: LimitExceededError,
  internal: InternalError,
};

/**
 * The error for a code received from a peer: the registry's class for registry codes, a plain
 * AgentwireError for application codes an agent chose.
 */
export function errorFromCode(code: string, message: string, options?: AgentwireErrorOptions): AgentwireError {
  return isErrorCode(code) ? new CLASSES[code](message, options) : new AgentwireError(code, message, options);
}

/** The `code`, `message` and `details` of an error, as carried in `error` frames and `result.error`. */
export function errorInfo(
  err: unknown,
  fallbackCode = "internal",
): { code: string; message: string; retryable: boolean; details?: Record<string, unknown> } {
  if (err instanceof AgentwireError) {
    return err.details === undefined
      ? { code: err.code, message: err.message, retryable: err.retryable }
      : { code: err.code, message: err.message, retryable: err.retryable, details: err.details };
  }
  return { code: fallbackCode, message: err instanceof Error ? err.message : String(err), retryable: false };
}
