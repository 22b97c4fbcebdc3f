/**
 * The mesh as a port: what the broker asks of the other brokers, and what they ask of it, in domain
 * terms. `LocalMesh` is a single broker (nothing is remote); `RedisBackend` (src/redis/) joins a mesh
 * over Redis, and keeps its wire formats (control entries, base64, keys) to itself. The broker asks the
 * port only when its own registry cannot answer; the in-memory fast paths stay synchronous.
 */
import type { AgentInfo, ErrorInfo, Priority, Strategy, TraceContext } from "@agentwire/wire";
import { LocalPools, type PoolMesh } from "./pools/pool-mesh.js";
import type { AgentFilter } from "./registry.js";
import type { TaskRecord } from "./tasks/task-table.js";
import { MemoryWorkflowStore, type WorkflowStore } from "./workflows/store.js";

/** A task as one broker hands it to another (or records it for the mesh). */
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
  /** The submit's trace context [TRACE-4]; absent (not encoded) when it carried none. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
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

/** A request forwarded to the broker holding its target; `id` is the origin's request record id. */
export interface ForwardedRequest {
  origin: string;
  id: string;
  to?: string | undefined;
  cap?: string | undefined;
  from: string;
  payload: Uint8Array;
  deadline: number;
  trace?: TraceContext | undefined;
}

/** The answer to a forwarded request. */
export interface RequestAnswer {
  ok?: boolean | undefined;
  payload?: Uint8Array | undefined;
  error?: ErrorInfo | undefined;
  /** The responder's trace context [TRACE-5]. */
  trace?: TraceContext | undefined;
}

/** The broker as the mesh sees it (inbound side); `startBroker` hands it to `attach`. */
export interface MeshHost {
  readonly brokerId: string;
  /** Sessions registered here (clients too, for direct messages), to publish to the shared registry. */
  localAgents(): AgentInfo[];
  /** Whether a local agent (not draining) offers what the task needs. */
  offers(task: RemoteTask): boolean;
  /** Delivers a publish from another broker to local subscribers; returns how many got it. */
  publishLocal(topic: string, from: string, payload: Uint8Array, fromBroker: boolean, trace: TraceContext | undefined): number;
  /** Runs a task handed over by another broker on a local agent; `done` exactly once. */
  runTask(task: RemoteTask, done: (outcome: RemoteOutcome) => void): void;
  /** A task this broker handed to another broker has ended. */
  onRemoteResult(taskId: string, outcome: RemoteOutcome): void;
  /** The mesh's view of other brokers' agents changed (tasks queued here may have a broker now). */
  remoteAgentsChanged(): void;
  /** The origin ended a task it handed here (cancel, deadline), or another broker took it over. */
  cancelRun(origin: string, taskId: string, reason: string): void;
  /** A broker reclaimed a task this broker handed over and runs it on `to` as `attempt`. */
  taskMoved(taskId: string, to: string, attempt: number): void;
  /** Progress of a task this broker handed over. */
  remoteProgress(taskId: string, attempt: number, data: Uint8Array): void;
  /** A direct message from another broker for local session `to`. */
  deliverMessage(to: string, from: string, payload: Uint8Array, correlationId: string | undefined, trace: TraceContext | undefined): void;
  /** A request from a caller on another broker, for a local session or capability. */
  serveRequest(request: ForwardedRequest): void;
  /** The answer to a request this broker forwarded. */
  requestAnswered(id: string, answer: RequestAnswer): void;
  /** Another broker (a pool's decider, an operator's HTTP drain) puts local agent `agentId` into DRAINING [DRAIN-7]. */
  drainAgent(agentId: string, cause: string): void;
}

/** The mesh port. Every member is required; `LocalMesh` answers "nothing remote" to each. */
export interface MeshPort {
  readonly kind: string;
  /** Connected and able to serve (GET /readyz). */
  readonly ready: boolean;
  /** Called once before `start` by `startBroker`. */
  attach(host: MeshHost): void;
  start(): Promise<void>;
  close(): Promise<void>;

  // ---- registry ----
  /** Agents registered on other brokers, from a local cache (no round trip, so answers keep their order). */
  remoteAgents(filter: AgentFilter): AgentInfo[];
  /**
   * Synchronously, from the registry cache: a broker with an agent offering `capability` in version
   * `range` with `tags` (round-robin among matching brokers; for `least_loaded`, the broker of the
   * least loaded matching agent), or undefined.
   */
  routeFor(capability: string, range: string | undefined, tags: readonly string[] | undefined, strategy?: Strategy): string | undefined;
  /** From the registry cache: the broker holding agent `agentId`, or undefined. */
  brokerOfAgent(agentId: string): string | undefined;
  /** The local registry changed (register, leave, status): publish it soon rather than on the next tick. */
  registryChanged(): void;
  /** Shutting down: take no new work from the mesh; hand what arrives to other brokers. */
  stopIntake(): void;

  // ---- tasks this broker accepted ----
  /** Hands `task` (accepted here) to broker `target`, whose agents run it; resolves once that broker's queue holds it. */
  handOff(task: TaskRecord, target: string): Promise<void>;
  /** The origin ended a task it handed to `broker`: stop the run there (at most once: MESH-3). */
  cancelRemote(broker: string, taskId: string, reason: string): void;
  /**
   * Records (or updates: attempt, executing broker `handedTo`) a task this broker accepted, until it
   * ends, so another broker can finish it if this one dies [MESH-7]. Batched per event-loop turn.
   */
  recordTask(task: TaskRecord, handedTo?: string): void;
  /** The same, written now: resolves once the record is stored. */
  recordTaskNow(task: TaskRecord): Promise<void>;
  /**
   * A task this broker accepted ended: its outcome is stored for every broker of the mesh (unless the
   * executing broker stored it: `storedByMesh`), and its record forgotten.
   */
  taskEnded(task: TaskRecord, storedByMesh: boolean): void;
  /**
   * Closing with an open task of its own that no local agent will finish: hands it to a broker whose
   * agent offers it (attempt + 1 when `ran`); false when none can take it.
   */
  handOver(task: TaskRecord, ran: boolean): boolean;
  /**
   * Mesh-wide idempotency (MESH-4): binds `scopedKey` to `taskId`, or resolves with the task id already
   * bound. Undefined (at once): keys are this broker's alone (a single broker).
   */
  claimKey(scopedKey: string, taskId: string): Promise<string | undefined> | undefined;
  /** Re-binds a key from a task that was never stored to `taskId` ("" unbinds); false when it changed. */
  rebindKey(scopedKey: string, expected: string, taskId: string): Promise<boolean>;
  /** What the mesh knows of a task another broker (or an earlier process) accepted. */
  foreignTask(taskId: string): Promise<ForeignTask>;
  /** Calls `done` once with a foreign task's outcome when stored, or undefined after `deadline`. */
  watchForeign(taskId: string, deadline: number, done: (outcome: RemoteOutcome | undefined) => void): void;
  /**
   * The stored outcome of a task another broker originated (its response key, kept until timeout +
   * margin), for GET /v1/tasks/:id when this broker holds no record of it.
   */
  storedOutcome(taskId: string): Promise<RemoteOutcome | undefined>;

  // ---- tasks run here for other brokers ----
  /** Progress of a task run here for broker `origin`, sent to it (ahead of the result). */
  forwardProgress(origin: string, taskId: string, attempt: number, data: Uint8Array): void;
  /**
   * A task of the mesh open here that this broker cannot run (`ran`: its attempt went to an agent):
   * hand it to another broker with an agent, or, when `closing`, leave it for reclaim. False when it
   * stays here (not a task of the mesh, or no other broker can take it).
   */
  release(taskId: string, ran: boolean, closing: boolean): boolean;
  /**
   * Before an agent gets a task of the mesh as `attempt`: true to go ahead, or a promise of whether it
   * may (the attempt is recorded mesh-wide first; a broker that may have been taken for dead checks it
   * still owns the task). A false means the task was taken over: it is cancelled here.
   */
  beforeRun(taskId: string, attempt: number): true | Promise<boolean>;

  // ---- messaging ----
  /** A direct message for session `to` on broker `broker`. */
  deliverMessage(broker: string, to: string, from: string, payload: Uint8Array, correlationId: string | undefined, trace: TraceContext | undefined): void;
  /** A request for a session or capability on broker `broker`. */
  forwardRequest(broker: string, request: ForwardedRequest): void;
  /** The answer to request `id` forwarded here by broker `origin`. */
  answerRequest(origin: string, id: string, answer: RequestAnswer): void;
  /** Asks broker `broker` to put its agent `agentId` into DRAINING [DRAIN-7]. */
  drainAgent(broker: string, agentId: string, cause: string): void;
  /** Broadcasts a publish to other brokers; resolves with how many remote sessions got it (when known). */
  publish(topic: string, from: string, payload: Uint8Array, fromBroker: boolean, trace: TraceContext | undefined): Promise<number>;

  /** Mesh figures for /metrics, as of the last refresh (no round trip); undefined for a single broker. */
  stats(): MeshStats | undefined;
  /** What the pools share with the other brokers (made once, before `start`) [POOL-15]. */
  poolMesh(): PoolMesh;
  /** Where workflow runs and definitions live (made once, before `start`) [WF-15]. */
  workflowStore(): WorkflowStore;
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

/** A single broker: nothing is remote, nothing is recorded elsewhere. */
export class LocalMesh implements MeshPort {
  readonly kind = "memory";
  readonly ready = true;
  attach(): void {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  remoteAgents(): AgentInfo[] {
    return [];
  }
  routeFor(): undefined {
    return undefined;
  }
  brokerOfAgent(): undefined {
    return undefined;
  }
  registryChanged(): void {}
  stopIntake(): void {}
  drainAgent(): void {}
  async handOff(task: TaskRecord, target: string): Promise<void> {
    throw new Error(`a single broker has no broker ${target} for task ${task.id}`);
  }
  cancelRemote(): void {}
  recordTask(): void {}
  async recordTaskNow(): Promise<void> {}
  taskEnded(): void {}
  handOver(): boolean {
    return false;
  }
  claimKey(): undefined {
    return undefined;
  }
  async rebindKey(): Promise<boolean> {
    return true;
  }
  async foreignTask(): Promise<ForeignTask> {
    return { kind: "unknown", originLive: false };
  }
  watchForeign(_taskId: string, _deadline: number, done: (outcome: RemoteOutcome | undefined) => void): void {
    done(undefined);
  }
  async storedOutcome(): Promise<undefined> {
    return undefined;
  }
  forwardProgress(): void {}
  release(): boolean {
    return false;
  }
  beforeRun(): true {
    return true;
  }
  deliverMessage(): void {}
  forwardRequest(): void {}
  answerRequest(): void {}
  async publish(): Promise<number> {
    return 0;
  }
  stats(): undefined {
    return undefined;
  }
  poolMesh(): PoolMesh {
    return new LocalPools();
  }
  workflowStore(): WorkflowStore {
    return new MemoryWorkflowStore();
  }
}
