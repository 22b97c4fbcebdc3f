/**
 * Where runs and registered definitions live [WF-5, WF-15]: in memory for one broker; for a mesh in
 * Redis (broker/src/redis/workflow-store.ts), each run with a lease held by one broker at a time.
 */
import type { RunState, WorkflowDefinition } from "@agentwire/wire";
import { compareVersions, sameDefinition } from "./definitions.js";
import type { Transition } from "./execution.js";
import type { RunRecord } from "./run-state.js";

export interface RunQuery {
  state?: RunState | undefined;
  name?: string | undefined;
  limit: number;
}

export interface DefinitionSummary {
  name: string;
  version: string;
  description?: string | undefined;
}

export interface WorkflowStore {
  /** True when other brokers share it (a mesh): leases matter, and runs of dead brokers are taken over. */
  readonly shared: boolean;
  /** Registers a definition under its name and version [WF-5]. */
  putDefinition(definition: WorkflowDefinition): Promise<"created" | "same" | "conflict">;
  /** A registered definition: the given version, or the highest. */
  definition(name: string, version?: string): Promise<WorkflowDefinition | undefined>;
  definitions(): Promise<DefinitionSummary[]>;
  /** Stores a new run with this broker's lease on it; resolves with the lease's fence. */
  create(run: RunRecord): Promise<number>;
  /**
   * Writes the named steps, (`runFields`) the run's own fields and the transition they make (`event`),
   * only while `fence` still holds the lease; false when another broker took it.
   */
  write(run: RunRecord, fence: number, steps: readonly string[], runFields: boolean, event?: Transition): Promise<boolean>;
  /** How many transitions of the run are written (watchers on other brokers start there) [WF-21]. */
  eventCount(runId: string): Promise<number>;
  /** The run's transitions from the `from`th on. */
  events(runId: string, from: number): Promise<Transition[]>;
  /** The run as last written. */
  load(runId: string): Promise<RunRecord | undefined>;
  /** Only the run's state as last written (what a watcher's poll reads until the run ended). */
  state(runId: string): Promise<RunState | undefined>;
  /** Runs newest first, without their step outputs. */
  list(query: RunQuery): Promise<RunRecord[]>;
  /**
   * Renews this broker's leases; resolves with the runs whose lease another broker holds now (`lost`)
   * and those some broker was asked to cancel, with the reason.
   */
  renew(leases: ReadonlyMap<string, number>): Promise<{ lost: string[]; cancel: Array<[string, string]> }>;
  /** Asks the broker running a run (another of the mesh) to cancel it. */
  requestCancel(runId: string, reason: string): Promise<void>;
  /** Open runs whose lease lapsed (their broker died), each now leased here with its new fence. */
  orphans(): Promise<Array<{ run: RunRecord; fence: number }>>;
  /** The run ended: it leaves the open runs (its last write gave up the lease). */
  release(runId: string, fence: number): Promise<void>;
  /** This broker stops running the run without ending it (closing): another broker may take it at once. */
  giveUp(runId: string, fence: number): Promise<void>;
  close(): Promise<void>;
}

/** Ended runs a single broker keeps for GET /v1/runs, and the most bytes of inputs and outputs they hold. */
const KEPT_ENDED = 10_000;
const KEPT_ENDED_BYTES = 64 << 20;

/** One broker's store: the engine's own records, kept by reference; ended ones bounded. */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly shared = false;
  private readonly runs = new Map<string, RunRecord>();
  /** Ended runs, oldest first, with the bytes each holds. */
  private readonly ended = new Map<string, number>();
  private endedBytes = 0;
  private readonly defs = new Map<string, WorkflowDefinition[]>();

  async putDefinition(definition: WorkflowDefinition): Promise<"created" | "same" | "conflict"> {
    const versions = this.defs.get(definition.name) ?? [];
    const held = versions.find((d) => d.version === definition.version);
    if (held !== undefined) return sameDefinition(held, definition) ? "same" : "conflict";
    versions.push(definition);
    versions.sort((a, b) => compareVersions(a.version, b.version));
    this.defs.set(definition.name, versions);
    return "created";
  }

  async definition(name: string, version?: string): Promise<WorkflowDefinition | undefined> {
    const versions = this.defs.get(name) ?? [];
    return version === undefined ? versions[versions.length - 1] : versions.find((d) => d.version === version);
  }

  async definitions(): Promise<DefinitionSummary[]> {
    return [...this.defs.values()].flat().map((d) => ({ name: d.name, version: d.version, description: d.description }));
  }

  async create(run: RunRecord): Promise<number> {
    this.runs.set(run.run_id, run);
    return 1;
  }

  async write(run: RunRecord, _fence: number, _steps: readonly string[], runFields: boolean): Promise<boolean> {
    if (runFields && run.state !== "running" && !this.ended.has(run.run_id)) {
      let bytes = run.input.byteLength + (run.output?.byteLength ?? 0);
      for (const s of Object.values(run.steps)) bytes += s.output?.byteLength ?? 0;
      this.ended.set(run.run_id, bytes);
      this.endedBytes += bytes;
      for (const [id, size] of this.ended) {
        if (this.ended.size <= KEPT_ENDED && this.endedBytes <= KEPT_ENDED_BYTES) break;
        this.ended.delete(id);
        this.endedBytes -= size;
        this.runs.delete(id);
      }
    }
    return true;
  }

  async load(runId: string): Promise<RunRecord | undefined> {
    return this.runs.get(runId);
  }

  async state(runId: string): Promise<RunState | undefined> {
    return this.runs.get(runId)?.state;
  }

  // One broker runs every run itself: its watchers get its events directly.
  async eventCount(): Promise<number> {
    return 0;
  }

  async events(): Promise<Transition[]> {
    return [];
  }

  async list(query: RunQuery): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    const all = [...this.runs.values()];
    for (let i = all.length - 1; i >= 0 && out.length < query.limit; i--) {
      const r = all[i]!;
      if ((query.state === undefined || r.state === query.state) && (query.name === undefined || r.definition.name === query.name)) out.push(r);
    }
    return out;
  }

  async renew(): Promise<{ lost: string[]; cancel: Array<[string, string]> }> {
    return { lost: [], cancel: [] };
  }

  async requestCancel(): Promise<void> {}

  async orphans(): Promise<Array<{ run: RunRecord; fence: number }>> {
    return [];
  }

  async release(): Promise<void> {}

  async giveUp(): Promise<void> {}

  async close(): Promise<void> {}
}
