/**
 * Where agents and tasks live across brokers. The session logic asks the backend only when the local
 * registry cannot answer; in-memory fast paths stay synchronous. `MemoryBackend` is a single broker:
 * nothing is remote. `RedisBackend` (src/redis/) joins a mesh of brokers over Redis.
 */
import type { AgentInfo, ErrorInfo, Priority, Strategy } from "@agentwire/wire";
import type { AgentFilter } from "./registry.js";

export interface RemoteTask {
  task_id: string;
  capability: string;
  input: Uint8Array;
  origin_broker: string;
  /** The broker whose agent should run it. */
  target_broker: string;
  timeout_ms: number;
  /** 1 on first handoff; a broker reclaiming it from a dead one runs it with attempt + 1. */
  attempt: number;
  /** The origin task's attempt limit, for retries on the executing broker (its default if absent). */
  max_attempts?: number | undefined;
  /** Version range and tags the executing broker's agent must match. */
  version?: string | undefined;
  tags?: readonly string[] | undefined;
  priority?: Priority | undefined;
  /** The submitter's routing strategy, applied among the executing broker's agents. */
  strategy?: Strategy | undefined;
  /** Open-task records only: the task's deadline (Unix ms) and its owner (a hash of its idempotency scope). */
  deadline?: number | undefined;
  owner?: string | undefined;
}

/** How a task handed to another broker ended. */
export interface RemoteOutcome {
  ok: boolean;
  output?: Uint8Array | undefined;
  error?: ErrorInfo | undefined;
  /**
   * The attempt that produced it: the handoff attempt plus retries on the executing broker (the
   * origin drops outcomes of older attempts and reports this one to the submitter).
   */
  attempt?: number | undefined;
  /** Who may follow the task (see `ownerTag`); absent when it was submitted without a token. */
  owner?: string | undefined;
}

/**
 * A control entry one broker sends another through the receiver's ready list (the same blocking
 * connection that reads responses, so the connection count stays constant and entries keep their
 * order: a task's progress entries precede its response). Binary fields are base64.
 */
export type MeshControl =
  /** To the executing broker: the origin cancelled (or timed out) a task it handed over. */
  | { k: "cancel"; origin: string; task: string; reason: string }
  /** To the origin: a broker reclaimed its handed-over task from a dead broker and handed it to `to` as `attempt`. */
  | { k: "moved"; task: string; to: string; attempt: number }
  /** To the origin: progress of a handed-over task (`task` is the origin's id). */
  | { k: "progress"; task: string; attempt: number; data: string }
  /** To the broker holding agent `to`: a direct message. */
  | { k: "message"; to: string; from: string; payload: string; cid?: string | undefined }
  /** To the broker holding the target: a request; `id` is the origin's request record id. */
  | { k: "request"; origin: string; id: string; to?: string | undefined; cap?: string | undefined; from: string; payload: string; deadline: number }
  /** To the origin: the answer to request `id`. */
  | { k: "response"; id: string; ok?: boolean | undefined; payload?: string | undefined; error?: ErrorInfo | undefined };

/** What a distributed backend needs from its broker; `startBroker` provides it via `attach`. */
export interface MeshHost {
  readonly brokerId: string;
  /** Sessions registered here (clients too, for direct messages), to publish to the shared registry. */
  localAgents(): AgentInfo[];
  /** Whether a local agent (not draining) offers what the task needs. */
  offers(task: RemoteTask): boolean;
  /** Delivers a publish from another broker to local subscribers; returns how many got it. */
  publishLocal(topic: string, from: string, payload: Uint8Array): number;
  /** Runs a task handed over by another broker on a local agent; `done` exactly once. */
  runTask(task: RemoteTask, done: (outcome: RemoteOutcome) => void): void;
  /** A task this broker handed to another broker has ended. */
  onRemoteResult(taskId: string, outcome: RemoteOutcome): void;
  /** A control entry from another broker (see `MeshControl`). */
  onControl?(entry: MeshControl): void;
}

export interface Backend {
  readonly kind: string;
  /** False for a single broker: callers skip every remote (async) step and stay synchronous. */
  readonly distributed: boolean;
  /** Connected and able to serve (GET /readyz). */
  readonly ready: boolean;
  /** Called once before `start` by `startBroker`; the memory backend ignores it. */
  attach?(host: MeshHost): void;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Agents registered on other brokers, from a local cache (no round trip, so answers keep their order). */
  remoteAgents(filter: AgentFilter): AgentInfo[];
  /** Whether another broker has an agent for this capability (consulted when none is local). */
  hasRemoteAgent(capability: string): Promise<boolean>;
  /**
   * The stored outcome of a task another broker originated and a broker of the mesh ran (its response
   * key, kept until timeout + margin), for GET /v1/tasks/:id when this broker holds no record of it.
   */
  storedOutcome?(taskId: string): Promise<RemoteOutcome | undefined>;
  /**
   * Synchronously, from the backend's registry cache: a broker with an agent offering `capability`
   * in version `range` with `tags` (round-robin among matching brokers; for `least_loaded`, the broker
   * of the least loaded matching agent), or undefined.
   */
  remoteBrokerFor?(capability: string, range: string | undefined, tags: readonly string[] | undefined, strategy?: Strategy): string | undefined;
  /** From the registry cache: the broker holding agent `agentId`, or undefined. */
  brokerOfAgent?(agentId: string): string | undefined;
  /** The local registry changed (register, leave, status): publish it soon rather than on the next tick. */
  changed?(): void;
  /** Shutting down: take no new work from the mesh; hand what arrives to other brokers. */
  stopIntake?(): void;
  /**
   * A task of the mesh open here that this broker cannot run (`ran`: its attempt went to an agent):
   * hand it to another broker with an agent, or, when `closing`, leave it for reclaim. False when it
   * stays here (not a task of the mesh, or no other broker can take it).
   */
  release?(taskId: string, ran: boolean, closing: boolean): boolean;
  /**
   * Before an agent gets a task of the mesh as `attempt`: true to go ahead, or a promise of whether it
   * may (the attempt is recorded mesh-wide first; a broker that may have been taken for dead checks it
   * still owns the task). A false means the task was taken over: it is cancelled here.
   */
  beforeRun?(taskId: string, attempt: number): true | Promise<boolean>;
  /**
   * A task this broker accepted (or updated: attempt, executing broker): recorded in the mesh until it
   * ends, so another broker can finish it if this one dies [MESH-7]. Batched per event-loop turn.
   */
  taskOpened?(record: RemoteTask): void;
  /** The same, written now: resolves once the record is stored. */
  recordOpen?(record: RemoteTask): Promise<void>;
  /**
   * A task this broker accepted ended: its outcome is stored for every broker of the mesh (undefined
   * when the executing broker stored it), and its open record forgotten.
   */
  taskEnded?(taskId: string, outcome: RemoteOutcome | undefined, timeoutMs: number): void;
  /**
   * Closing with an open task of its own that no local agent will finish: hands it to a broker whose
   * agent offers it (attempt + 1 when `ran`); false when none can take it.
   */
  handOver?(record: RemoteTask, ran: boolean): boolean;
  /** Mesh-wide idempotency (MESH-4): binds `scopedKey` to `taskId`, or resolves with the task id already bound. */
  claimKey?(scopedKey: string, taskId: string): Promise<string | undefined>;
  /** Re-binds a key from a task that was never stored to `taskId` ("" unbinds); false when it changed. */
  rebindKey?(scopedKey: string, expected: string, taskId: string): Promise<boolean>;
  /** What the mesh knows of a task another broker (or an earlier process) accepted. */
  foreignTask?(taskId: string): Promise<ForeignTask>;
  /** Calls `done` once with a foreign task's outcome when stored, or undefined after `deadline`. */
  watchForeign?(taskId: string, deadline: number, done: (outcome: RemoteOutcome | undefined) => void): void;
  /** Sends a control entry to another broker (fire and forget; failures are logged). */
  control?(broker: string, entry: MeshControl): void;
  /** Hands a task to the broker holding a remote agent. */
  enqueueRemote(task: RemoteTask): Promise<void>;
  /** Broadcasts a publish to other brokers; resolves with how many remote sessions got it. */
  publishRemote(topic: string, from: string, payload: Uint8Array): Promise<number>;
  /** Mesh figures for /metrics, as of the backend's last refresh (no Redis call). */
  stats?(): MeshStats;
}

/** What is known of a task another broker (or an earlier process of this one) accepted. */
export type ForeignTask =
  | { kind: "ended"; outcome: RemoteOutcome }
  | { kind: "open"; deadline: number; owner: string | undefined }
  /** No record and no outcome: never stored (its broker died first), or forgotten after its TTL. */
  | { kind: "unknown"; originLive: boolean };

export interface MeshStats {
  /** Entries in this broker's task stream (unread + pending). */
  streamLength: number;
  /** Pending entries of the stream's consumer group: the processing list. */
  pending: number;
  /** Entries waiting in this broker's ready list. */
  readyLength: number;
  /** Response keys under this broker's hash tag (bounded SCAN in the sweep). */
  responseKeys: number;
  /** Tasks this broker reclaimed from dead brokers. */
  reclaimed: number;
  /** Orphaned keys of dead brokers removed by the sweep. */
  swept: number;
}

export class MemoryBackend implements Backend {
  readonly kind = "memory";
  readonly distributed = false;
  readonly ready = true;
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  remoteAgents(): AgentInfo[] {
    return [];
  }
  async hasRemoteAgent(): Promise<boolean> {
    return false;
  }
  async enqueueRemote(task: RemoteTask): Promise<void> {
    throw new Error(`memory backend has no remote broker for task ${task.task_id}`);
  }
  async publishRemote(): Promise<number> {
    return 0;
  }
}
