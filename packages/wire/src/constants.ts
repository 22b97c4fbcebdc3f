/** The WebSocket subprotocol of agentwire protocol v1 [TRANS-2]. */
export const SUBPROTOCOL = "agentwire.v1";
/** Protocol version carried by `register.protocol` and `registered.protocol`. */
export const PROTOCOL_VERSION = 1;

/** Defaults a broker announces in `registered` unless configured otherwise. */
export const DEFAULTS = {
  port: 7420,
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 15_000,
  maxFrameBytes: 1 << 20,
  maxInFlight: 1_024,
  maxQueueLength: 100_000,
  taskTimeoutMs: 30_000,
  requestTimeoutMs: 10_000,
  maxAttempts: 3,
  capacity: 16,
  sendBufferBytes: 8 << 20,
  shutdownGraceMs: 10_000,
} as const;

/** Hard limits of the protocol itself (not configurable) [ENC-9]. */
export const LIMITS = {
  /** Longest id, name, capability, topic or key string, in UTF-8 bytes. */
  maxIdBytes: 256,
  /** Deepest nesting of arrays and maps in a frame envelope (payloads are opaque). */
  maxDepth: 16,
  /** Deepest nesting of arrays and objects in an HTTP JSON body, the body counting as 1 [HTTP-3]. */
  maxJsonDepth: 512,
  /** Most tokens in a topic or topic pattern. */
  maxTopicTokens: 32,
  /** Smallest max_frame_bytes a broker may announce. */
  minFrameBytes: 64 * 1024,
} as const;

export const PRIORITIES = ["low", "normal", "high", "critical"] as const;
export type Priority = (typeof PRIORITIES)[number];
/** Numeric rank of a priority: higher runs first [ROUTE-2]. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { low: 0, normal: 1, high: 2, critical: 3 };

export const STRATEGIES = ["round_robin", "capability", "least_loaded", "priority"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Why the broker asks a pool's supervisor to change its size [POOL-9]. */
export const SCALE_REASONS = ["utilization_high", "utilization_low", "below_min", "above_max", "queue_empty"] as const;
export type ScaleReason = (typeof SCALE_REASONS)[number];

export const AGENT_STATUSES = ["ready", "busy", "draining", "unhealthy"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const TASK_STATES = [
  "queued",
  "dispatched",
  "running",
  "requeued",
  "succeeded",
  "failed",
  "cancelled",
  "deadline_exceeded",
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "deadline_exceeded",
]);

/** WebSocket close codes the protocol uses [TRANS-8]. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  policyViolation: 1008,
  tooBig: 1009,
  internal: 1011,
  tryAgainLater: 1013,
} as const;
