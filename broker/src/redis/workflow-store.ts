/**
 * Workflow runs and definitions in Redis, for a mesh [WF-5, WF-15], on the broker's `cmd` connection.
 * Each run is one hash under its own hash tag `{wf:<run_id>}` (so each script works on Cluster) with
 * a lease "<broker>|<fence>" beside it; every write is fenced (workflow-write-3). Mesh-wide indexes:
 * the open runs (a set, which surviving brokers scan for lapsed leases), all runs by start time (a
 * sorted set, for GET /v1/runs) and the registered definitions (a hash).
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { ErrorInfo, RunState, WorkflowDefinition } from "@agentwire/wire";
import { compareVersions, sameDefinition } from "../workflows/definitions.js";
import type { Transition } from "../workflows/execution.js";
import type { RunRecord, StepRun } from "../workflows/run-state.js";
import type { DefinitionSummary, RunQuery, WorkflowStore } from "../workflows/store.js";
import { defineScripts } from "./scripts.js";

export const workflowKeys = {
  run: (runId: string) => `aw:{wf:${runId}}:run`,
  lease: (runId: string) => `aw:{wf:${runId}}:lease`,
  /** List of the run's transitions as JSON, for watchers on other brokers. */
  events: (runId: string) => `aw:{wf:${runId}}:events`,
  /** Set of the runs not ended. */
  open: "aw:{wf}:open",
  /** Sorted set run id -> started_at. */
  runs: "aw:{wf}:runs",
  /** Hash "<name> <version>" -> definition JSON. */
  definitions: "aw:{wf}:definitions",
} as const;

interface WorkflowCommands {
  workflowCreate(lease: string, run: string, brokerId: string, ttlMs: number, ...pairs: (string | Buffer)[]): Promise<number>;
  workflowTake(lease: string, run: string, brokerId: string, ttlMs: number): Promise<number>;
  workflowRenew(lease: string, run: string, holder: string, ttlMs: number): Promise<string | null>;
  workflowWrite(lease: string, run: string, events: string, holder: string, endedTtlMs: number, event: string, ...pairs: (string | Buffer)[]): Promise<number>;
  workflowRelease(lease: string, holder: string): Promise<number>;
}

/** Open runs one lease tick looks at. */
const ORPHAN_SCAN = 500;

/** Runs GET /v1/runs can list; older ones leave the index (their hashes expire on their own). */
const RUNS_INDEXED = 10_000;

/** The run's own fields, apart from its steps. */
interface RunMeta {
  started_at: number;
  ended_at?: number | undefined;
  owner?: string | undefined;
  error?: ErrorInfo | undefined;
  compensating?: RunRecord["compensating"];
}

export class RedisWorkflowStore implements WorkflowStore {
  readonly shared = true;
  private readonly cmd: Redis & WorkflowCommands;
  /** Where the scan of open runs goes on (`orphans`). */
  private cursor = "0";

  constructor(
    cmd: Redis,
    private readonly brokerId: string,
    private readonly leaseMs: number,
    /** How long an ended run stays readable. */
    private readonly endedTtlMs: number,
    private readonly log: Logger,
  ) {
    this.cmd = defineScripts<WorkflowCommands>(cmd, {
      workflowCreate: "workflow-create-2",
      workflowTake: "workflow-take-2",
      workflowRenew: "workflow-renew-2",
      workflowWrite: "workflow-write-3",
      workflowRelease: "workflow-release-1",
    });
  }

  async putDefinition(definition: WorkflowDefinition): Promise<"created" | "same" | "conflict"> {
    const field = `${definition.name} ${definition.version}`;
    if ((await this.cmd.hsetnx(workflowKeys.definitions, field, JSON.stringify(definition))) === 1) return "created";
    const held = await this.cmd.hget(workflowKeys.definitions, field);
    return held !== null && sameDefinition(JSON.parse(held) as WorkflowDefinition, definition) ? "same" : "conflict";
  }

  async definition(name: string, version?: string): Promise<WorkflowDefinition | undefined> {
    if (version !== undefined) {
      const held = await this.cmd.hget(workflowKeys.definitions, `${name} ${version}`);
      return held === null ? undefined : (JSON.parse(held) as WorkflowDefinition);
    }
    const all = (await this.allDefinitions()).filter((d) => d.name === name);
    return all.sort((a, b) => compareVersions(a.version, b.version)).at(-1);
  }

  async definitions(): Promise<DefinitionSummary[]> {
    return (await this.allDefinitions()).map((d) => ({ name: d.name, version: d.version, description: d.description }));
  }

  private async allDefinitions(): Promise<WorkflowDefinition[]> {
    return Object.values(await this.cmd.hgetall(workflowKeys.definitions)).map((json) => JSON.parse(json) as WorkflowDefinition);
  }

  async create(run: RunRecord): Promise<number> {
    // Open first: a run stored but not in the set could never be taken over.
    await this.cmd.sadd(workflowKeys.open, run.run_id);
    const pairs: (string | Buffer)[] = ["def", JSON.stringify(run.definition), "input", Buffer.from(run.input), "name", run.definition.name, "version", run.definition.version];
    pairs.push(...this.runFields(run));
    for (const id of Object.keys(run.steps)) pairs.push(...stepFields(id, run.steps[id]!));
    const fence = await this.cmd.workflowCreate(workflowKeys.lease(run.run_id), workflowKeys.run(run.run_id), this.brokerId, this.leaseMs, ...pairs);
    // The index and its trim, in order on the connection, in one round trip.
    await Promise.all([this.cmd.zadd(workflowKeys.runs, run.started_at, run.run_id), this.cmd.zremrangebyrank(workflowKeys.runs, 0, -RUNS_INDEXED - 1)]);
    return fence;
  }

  async write(run: RunRecord, fence: number, steps: readonly string[], runFields: boolean, event?: Transition): Promise<boolean> {
    const pairs: (string | Buffer)[] = [];
    for (const id of steps) pairs.push(...stepFields(id, run.steps[id]!));
    if (runFields) pairs.push(...this.runFields(run));
    if (run.output !== undefined && runFields) pairs.push("output", Buffer.from(run.output));
    if (pairs.length === 0 && event === undefined) return true;
    const ended = runFields && run.state !== "running";
    const id = run.run_id;
    const written = await this.cmd.workflowWrite(workflowKeys.lease(id), workflowKeys.run(id), workflowKeys.events(id), `${this.brokerId}|${fence}`, ended ? this.endedTtlMs : 0, event === undefined ? "" : JSON.stringify(event), ...pairs);
    return written === 1;
  }

  async eventCount(runId: string): Promise<number> {
    return this.cmd.llen(workflowKeys.events(runId));
  }

  async events(runId: string, from: number): Promise<Transition[]> {
    return (await this.cmd.lrange(workflowKeys.events(runId), from, -1)).map((json) => JSON.parse(json) as Transition);
  }

  private runFields(run: RunRecord): string[] {
    const meta: RunMeta = { started_at: run.started_at, ended_at: run.ended_at, owner: run.owner, error: run.error, compensating: run.compensating };
    return ["state", run.state, "meta", JSON.stringify(meta)];
  }

  async state(runId: string): Promise<RunState | undefined> {
    return ((await this.cmd.hget(workflowKeys.run(runId), "state")) ?? undefined) as RunState | undefined;
  }

  async load(runId: string): Promise<RunRecord | undefined> {
    const hash = await this.cmd.hgetallBuffer(workflowKeys.run(runId));
    if (hash.def === undefined || hash.meta === undefined) return undefined;
    const meta = JSON.parse(hash.meta.toString()) as RunMeta;
    const definition = JSON.parse(hash.def.toString()) as WorkflowDefinition;
    const steps: Record<string, StepRun> = {};
    for (const s of definition.steps) {
      const json = hash[`s:${s.id}`];
      const step = json === undefined ? { state: "pending" as const, attempts: 0 } : (JSON.parse(json.toString()) as StepRun);
      const output = hash[`o:${s.id}`];
      if (output !== undefined && step.state === "succeeded") step.output = new Uint8Array(output);
      steps[s.id] = step;
    }
    return {
      run_id: runId,
      definition,
      input: new Uint8Array(hash.input ?? Buffer.alloc(0)),
      state: hash.state!.toString() as RunState,
      ...meta,
      output: hash.output === undefined ? undefined : new Uint8Array(hash.output),
      steps,
    };
  }

  async list(query: RunQuery): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    const page = Math.max(query.limit, 100);
    for (let start = 0; out.length < query.limit; start += page) {
      const ids = await this.cmd.zrevrange(workflowKeys.runs, start, start + page - 1);
      if (ids.length === 0) break;
      const rows = await Promise.all(ids.map((id) => this.cmd.hmget(workflowKeys.run(id), "state", "name", "version", "meta")));
      ids.forEach((id, i) => {
        const [state, name, version, meta] = rows[i]! as (string | null | undefined)[];
        if (state == null || name == null || version == null || meta == null) return;
        if (out.length >= query.limit) return;
        if ((query.state !== undefined && state !== query.state) || (query.name !== undefined && name !== query.name)) return;
        const definition = { workflow: 1, name, version, steps: [] } as unknown as WorkflowDefinition;
        out.push({ run_id: id, definition, input: new Uint8Array(0), state: state as RunState, ...(JSON.parse(meta) as RunMeta), steps: {} });
      });
      if (ids.length < page) break;
    }
    return out;
  }

  async renew(leases: ReadonlyMap<string, number>): Promise<{ lost: string[]; cancel: Array<[string, string]> }> {
    const lost: string[] = [];
    const cancel: Array<[string, string]> = [];
    await Promise.all(
      [...leases].map(async ([id, fence]) => {
        const answer = await this.cmd.workflowRenew(workflowKeys.lease(id), workflowKeys.run(id), `${this.brokerId}|${fence}`, this.leaseMs);
        if (answer === null) lost.push(id);
        else if (answer !== "") cancel.push([id, answer]);
      }),
    );
    return { lost, cancel };
  }

  async requestCancel(runId: string, reason: string): Promise<void> {
    await this.cmd.hset(workflowKeys.run(runId), "cancel", reason);
  }

  /**
   * A slice of the open runs per call (SSCAN, resumed at the next call), so a tick costs the same
   * however many runs the mesh holds; only those without a lease are asked for one.
   */
  async orphans(): Promise<Array<{ run: RunRecord; fence: number }>> {
    const [cursor, ids] = await this.cmd.sscan(workflowKeys.open, this.cursor, "COUNT", ORPHAN_SCAN);
    this.cursor = cursor;
    const leased = await Promise.all(ids.map((id) => this.cmd.exists(workflowKeys.lease(id))));
    const taken: Array<{ run: RunRecord; fence: number }> = [];
    for (const [i, id] of ids.entries()) {
      if (leased[i] === 1) continue;
      const fence = await this.cmd.workflowTake(workflowKeys.lease(id), workflowKeys.run(id), this.brokerId, this.leaseMs);
      if (fence === -1) await this.cmd.srem(workflowKeys.open, id);
      if (fence <= 0) continue;
      const run = await this.load(id);
      if (run !== undefined) taken.push({ run, fence });
      else this.log.warn({ run_id: id }, "took the lease of a run that could not be read");
    }
    return taken;
  }

  async release(runId: string): Promise<void> {
    await this.cmd.srem(workflowKeys.open, runId);
  }

  async giveUp(runId: string, fence: number): Promise<void> {
    await this.cmd.workflowRelease(workflowKeys.lease(runId), `${this.brokerId}|${fence}`);
  }

  async close(): Promise<void> {}
}

/** A step's hash fields: its state as JSON, its output as its own MessagePack bytes. */
function stepFields(id: string, s: StepRun): (string | Buffer)[] {
  const { output, ...rest } = s;
  const fields: (string | Buffer)[] = [`s:${id}`, JSON.stringify(rest)];
  if (output !== undefined) fields.push(`o:${id}`, Buffer.from(output));
  return fields;
}
