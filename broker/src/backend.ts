/**
 * Where agents and tasks live across brokers. The session logic asks the backend only when the local
 * registry cannot answer; in-memory fast paths stay synchronous. `MemoryBackend` is a single broker:
 * nothing is remote. A Redis mesh backend implements the same interface later.
 */
import type { AgentInfo } from "@agentwire/wire";
import type { AgentFilter } from "./registry.js";

export interface RemoteTask {
  task_id: string;
  capability: string;
  input: Uint8Array;
  origin_broker: string;
}

export interface Backend {
  readonly kind: string;
  /** False for a single broker: callers skip every remote (async) step and stay synchronous. */
  readonly distributed: boolean;
  /** Connected and able to serve (GET /readyz). */
  readonly ready: boolean;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Agents registered on other brokers. */
  remoteAgents(filter: AgentFilter): Promise<AgentInfo[]>;
  /** Whether another broker has an agent for this capability (consulted when none is local). */
  hasRemoteAgent(capability: string): Promise<boolean>;
  /** Hands a task to the broker holding a remote agent. */
  enqueueRemote(task: RemoteTask): Promise<void>;
  /** Broadcasts a publish to other brokers; resolves with how many remote sessions got it. */
  publishRemote(topic: string, from: string, payload: Uint8Array): Promise<number>;
}

export class MemoryBackend implements Backend {
  readonly kind = "memory";
  readonly distributed = false;
  readonly ready = true;
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async remoteAgents(): Promise<AgentInfo[]> {
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
