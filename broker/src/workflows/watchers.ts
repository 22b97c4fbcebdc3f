/**
 * Who follows which run [WF-18, WF-19, WF-21]: sessions that started or watch it. Watchers of a run
 * this broker runs get its transitions as they happen; watchers of a run another broker of the mesh
 * runs get what that broker wrote to the store, read every REMOTE_POLL_MS, and then its result.
 */
import { runEndState } from "@agentwire/wire";
import type { Transition } from "./execution.js";
import type { RunRecord } from "./run-state.js";
import type { WorkflowStore } from "./store.js";

/** A follower of a run: told of its transitions (unless `quiet`) and of its result. */
export interface RunWatcher {
  readonly quiet: boolean;
  /** False once the watcher is gone (a closed session): it is dropped. */
  live(): boolean;
  event(runId: string, t: Transition, at: number): void;
  result(run: RunRecord): void;
}

/** How often watchers of runs another broker runs are brought up to date. */
const REMOTE_POLL_MS = 500;

const isEnd = (t: Transition): boolean => runEndState(t.type) !== undefined;

export class RunWatchers {
  private readonly byRun = new Map<string, Set<RunWatcher>>();
  /** Watchers of runs another broker runs: how many of the run's written transitions each has had. */
  private readonly positions = new Map<RunWatcher, number>();
  private poller: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: WorkflowStore,
    /** Whether this broker runs the run now. */
    private readonly isLocal: (runId: string) => boolean,
  ) {}

  /** Follows a run this broker runs. */
  add(runId: string, w: RunWatcher): void {
    let set = this.byRun.get(runId);
    if (set === undefined) this.byRun.set(runId, (set = new Set()));
    set.add(w);
  }

  /** Follows a run another broker runs, from the transitions written so far on. */
  async addRemote(runId: string, w: RunWatcher): Promise<void> {
    this.positions.set(w, await this.store.eventCount(runId));
    this.add(runId, w);
    this.poll();
  }

  /** A transition of a run this broker runs; its end also sends the result. */
  announce(run: RunRecord, t: Transition, at: number): void {
    const set = this.byRun.get(run.run_id);
    if (set === undefined) return;
    for (const w of set) {
      if (!w.live()) {
        set.delete(w);
        continue;
      }
      if (!w.quiet) w.event(run.run_id, t, at);
      if (isEnd(t)) w.result(run);
    }
  }

  /** The run ended here: its watchers had their result. */
  ended(runId: string): void {
    for (const w of this.byRun.get(runId) ?? []) this.positions.delete(w);
    this.byRun.delete(runId);
  }

  /** Another broker runs the run now: its watchers here follow it through the store. */
  moved(runId: string): void {
    if (this.byRun.has(runId)) this.poll();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.poller);
  }

  private poll(): void {
    if (this.poller !== undefined || this.closed) return;
    this.poller = setTimeout(() => {
      this.poller = undefined;
      void (async () => {
        for (const [runId, set] of this.byRun) {
          if (this.isLocal(runId)) continue;
          // The state first: a run that ended has its last transition written with it. The whole run
          // (its outputs) is read only once it ended.
          const state = await this.store.state(runId).catch(() => undefined);
          await this.relay(runId, set).catch(() => undefined);
          if (state === undefined || state === "running") continue;
          const run = await this.store.load(runId).catch(() => undefined);
          if (run === undefined) continue;
          for (const w of set) if (w.live()) w.result(run);
          this.ended(runId);
        }
        if ([...this.byRun.keys()].some((id) => !this.isLocal(id))) this.poll();
      })();
    }, REMOTE_POLL_MS);
    this.poller.unref();
  }

  /** Sends each remote watcher of `runId` the transitions written since its last. */
  private async relay(runId: string, set: Set<RunWatcher>): Promise<void> {
    for (const w of set) {
      if (w.live()) continue;
      set.delete(w);
      this.positions.delete(w);
    }
    const known = [...set].flatMap((w) => this.positions.get(w) ?? []);
    // Watchers of a run this broker gave up have no position yet: they go on from what is written now.
    const from = known.length === 0 ? await this.store.eventCount(runId) : Math.min(...known);
    const events = known.length === 0 ? [] : await this.store.events(runId, from);
    for (const w of set) {
      const at = this.positions.get(w) ?? from + events.length;
      if (!w.quiet) for (const t of events.slice(at - from)) w.event(runId, t, t.at ?? Date.now());
      this.positions.set(w, from + events.length);
    }
  }
}
