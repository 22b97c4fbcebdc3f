/**
 * The workflow engine [SPEC §21]: starts runs (a definition inline or registered), runs their steps as
 * tasks it submits itself through the broker's one submit (BrokerCore.submit, so routing, deadlines,
 * cancel and the mesh apply), tells watchers, and in a mesh keeps each run's lease and takes over the
 * runs of brokers that died [WF-15].
 */
import {
  errorFromCode,
  scanDocument,
  UnknownRunError,
  UnknownWorkflowError,
  type RunState,
  type WorkflowDefinition,
} from "@agentwire/wire";
import type { Logger } from "pino";
import { Auth, ownerTag } from "../auth.js";
import type { TokenAcl } from "../config.js";
import type { BrokerCore } from "../core.js";
import type { EventBus } from "../events.js";
import { parseDefinition, parseWorkflowField } from "./definitions.js";
import { Execution, type ExecutionHost, type Transition } from "./execution.js";
import { submitStep } from "./submit.js";
import { newRun, viewOf, type RunRecord, type RunView } from "./run-state.js";
import type { WorkflowStore } from "./store.js";
import { RunWatchers, type RunWatcher } from "./watchers.js";

export interface EngineOptions {
  brokerId: string;
  /** Prefix of run ids, with this process's incarnation. */
  idPrefix: string;
  store: WorkflowStore;
  events: EventBus;
  log: Logger;
  /** Lease time of a run in a mesh; renewed every third of it. */
  leaseMs: number;
  /** The broker's max attempts of a task: how often a step attempt's task is dispatched again after an agent or broker loss. */
  maxAttempts: number;
  /** Most runs this broker runs at once; more are refused `overloaded` (bounded memory). */
  maxRuns: number;
}


export class WorkflowEngine {
  private seq = 0;
  private readonly local = new Map<string, Execution>();
  private readonly watchers: RunWatchers;
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;

  constructor(
    private readonly core: BrokerCore,
    private readonly options: EngineOptions,
  ) {
    this.watchers = new RunWatchers(options.store, (id) => this.local.has(id));
  }

  get store(): WorkflowStore {
    return this.options.store;
  }

  /** Runs this broker runs now. */
  get running(): number {
    return this.local.size;
  }

  /** Starts taking over runs of dead brokers (a shared store only). */
  start(): void {
    if (!this.store.shared) return;
    this.ticker = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.ticker.unref();
  }

  /**
   * Starts a run for token `acl` [WF-2, WF-17]: `accepted` is called with its id once it is stored,
   * and its steps start only after that.
   */
  async startRun(acl: TokenAcl | undefined, workflow: unknown, input: Uint8Array, watcher: RunWatcher | undefined, accepted: (runId: string) => void): Promise<string> {
    if (this.core.state.shuttingDown) throw errorFromCode("shutting_down", "broker is shutting down");
    if (this.local.size >= this.options.maxRuns) throw errorFromCode("overloaded", `this broker runs ${this.local.size} workflow runs, its most`);
    const definition = await this.resolve(workflow);
    for (const s of definition.steps) {
      if (!Auth.allows(acl, "submit", s.capability)) throw errorFromCode("forbidden", `token may not submit to ${s.capability} (step ${s.id})`);
    }
    try {
      scanDocument(input);
    } catch (err) {
      throw errorFromCode("bad_frame", `the workflow input is not one MessagePack document: ${(err as Error).message}`, { details: { path: "input" } });
    }
    const run = newRun(`${this.options.idPrefix}${(++this.seq).toString(36)}`, definition, input, acl === undefined ? undefined : ownerTag(acl.token), Date.now());
    const fence = await this.store.create(run);
    const exec = new Execution(run, fence, this.host);
    this.local.set(run.run_id, exec);
    if (watcher !== undefined) this.watchers.add(run.run_id, watcher);
    accepted(run.run_id);
    exec.start();
    return run.run_id;
  }

  /** A definition sent inline, or the registered one `{ name, version? }` names [WF-2]. */
  async resolve(workflow: unknown): Promise<WorkflowDefinition> {
    const parsed = parseWorkflowField(workflow);
    if ("definition" in parsed) return parsed.definition;
    const found = await this.store.definition(parsed.ref.name, parsed.ref.version);
    if (found === undefined) throw new UnknownWorkflowError(`no workflow ${parsed.ref.name}${parsed.ref.version === undefined ? "" : ` ${parsed.ref.version}`} is registered`);
    return found;
  }

  /** Registers a definition [WF-5]. */
  async register(acl: TokenAcl | undefined, body: unknown): Promise<"created" | "same"> {
    if (!Auth.mayAct(acl)) throw errorFromCode("forbidden", "a read-only token may not register workflows");
    const definition = parseDefinition(body);
    const outcome = await this.store.putDefinition(definition);
    if (outcome === "conflict") throw errorFromCode("workflow_exists", `workflow ${definition.name} ${definition.version} is registered with a different definition`);
    return outcome;
  }

  /** Cancels a run [WF-20]; one that ended stays as it ended. */
  async cancel(acl: TokenAcl | undefined, runId: string, reason = "cancelled by request"): Promise<void> {
    if (!Auth.mayAct(acl)) throw errorFromCode("forbidden", "a read-only token may not cancel runs");
    const exec = this.local.get(runId);
    if (exec !== undefined) {
      this.owned(acl, exec.run);
      return exec.cancel(reason);
    }
    const run = this.owned(acl, await this.store.load(runId));
    // Another broker of the mesh runs it: it cancels the run at its next lease renewal.
    if (run.state === "running") await this.store.requestCancel(runId, reason);
  }

  /** Follows a run [WF-21]: its events from now on and its result; an ended run's result at once. */
  async watch(acl: TokenAcl | undefined, runId: string, watcher: RunWatcher, acked: () => void): Promise<void> {
    const exec = this.local.get(runId);
    const run = this.owned(acl, exec?.run ?? (await this.store.load(runId)));
    acked();
    if (run.state !== "running") return watcher.result(run);
    if (exec === undefined) await this.watchers.addRemote(runId, watcher);
    else this.watchers.add(runId, watcher);
  }

  async view(acl: TokenAcl | undefined, runId: string): Promise<RunView> {
    return viewOf(this.owned(acl, this.local.get(runId)?.run ?? (await this.store.load(runId))), true);
  }

  async list(acl: TokenAcl | undefined, query: { state?: RunState | undefined; name?: string | undefined; limit: number }): Promise<RunView[]> {
    const runs = await this.store.list({ ...query, limit: Auth.readsAll(acl) ? query.limit : Math.min(1_000, query.limit * 10) });
    return runs.filter((r) => Auth.ownsTagged(acl, r.owner)).slice(0, query.limit).map((r) => viewOf(this.local.get(r.run_id)?.run ?? r, false));
  }

  /**
   * The broker closes: its runs stop here unended (their tasks end with the broker), and in a mesh
   * their leases are given up so that another broker takes them over at once [WF-15].
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.ticker);
    this.watchers.close();
    const runs = [...this.local.values()];
    for (const exec of runs) exec.abandon();
    await Promise.allSettled(runs.map((exec) => this.store.giveUp(exec.id, exec.fence)));
  }

  /** The run, when `acl` may see it; unknown_run otherwise (another's run is not revealed). */
  private owned(acl: TokenAcl | undefined, run: RunRecord | undefined): RunRecord {
    if (run === undefined || !Auth.ownsTagged(acl, run.owner)) throw new UnknownRunError("no such run, or not yours");
    return run;
  }

  private readonly host: ExecutionHost = {
    submit: (exec, step, attempt, input) => {
      if (this.core.state.shuttingDown) {
        // A broker shutting down takes no task: the run waits for another broker of the mesh (or ends with this one).
        exec.abandon();
        void this.store.giveUp(exec.id, exec.fence).catch(() => undefined);
        return;
      }
      submitStep(this.core, exec, step, attempt, input, this.options.maxAttempts);
    },
    cancelTask: (taskId, reason) => {
      const task = this.core.tasks.table.get(taskId);
      if (task !== undefined && task.endedAt === 0) this.core.tasks.cancel(task, reason);
    },
    persist: (exec, steps, runFields, t) => this.persist(exec, steps, runFields, t),
    announce: (exec, t) => this.announce(exec, t),
    finished: (exec, lost) => {
      this.local.delete(exec.id);
      if (lost) {
        this.options.log.info({ run_id: exec.id }, this.closed ? "run left to the mesh" : "run taken over by another broker");
        this.watchers.moved(exec.id);
        return;
      }
      this.watchers.ended(exec.id);
      void this.store.release(exec.id, exec.fence).catch((err: unknown) => this.options.log.warn({ err, run_id: exec.id }, "run lease not released"));
    },
  };

  private async persist(exec: Execution, steps: readonly string[], runFields: boolean, t: Transition | undefined): Promise<boolean> {
    for (let tries = 0; ; tries++) {
      try {
        return await this.store.write(exec.run, exec.fence, steps, runFields, t);
      } catch (err) {
        // The store refused it for now (Redis restarting): try again while the lease can still hold.
        if (tries * 250 > this.options.leaseMs || this.closed) {
          this.options.log.warn({ err, run_id: exec.id }, "run state not written; leaving the run to the mesh");
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  private announce(exec: Execution, t: Transition): void {
    const at = t.at ?? Date.now();
    const { name, version } = exec.run.definition;
    if (this.options.events.active) {
      this.options.events.workflow({ ...t, at, broker_id: this.options.brokerId, run_id: exec.id, workflow: name, version });
    }
    this.watchers.announce(exec.run, t, at);
  }

  /** Keeps leases, hands runs another broker took to it, takes over runs of dead brokers, obeys cancels. */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const leases = new Map([...this.local].map(([id, e]) => [id, e.fence] as const));
      const { lost, cancel } = await this.store.renew(leases);
      for (const id of lost) this.local.get(id)?.abandon();
      for (const [id, reason] of cancel) void this.local.get(id)?.cancel(reason);
      if (this.core.state.shuttingDown) return;
      for (const { run, fence } of await this.store.orphans()) {
        const mine = this.local.get(run.run_id);
        if (mine !== undefined) {
          // Its own lease lapsed (a long pause) and it took it again: go on under the new fence.
          mine.fence = fence;
          continue;
        }
        this.options.log.info({ run_id: run.run_id }, "resuming a run whose broker is gone");
        const exec = new Execution(run, fence, this.host);
        this.local.set(run.run_id, exec);
        exec.resume();
      }
    } catch (err) {
      this.options.log.warn({ err }, "workflow lease tick failed");
    } finally {
      this.ticking = false;
    }
  }
}
