/**
 * The origin's side of a task's durability in the mesh (docs/decisions/004-crash-semantics.md): every
 * task a broker accepts has an open-task record under its hash tag until its outcome is stored in its
 * response key, so the task outlives the broker that accepted it. Also mesh-wide idempotency keys,
 * watches on tasks another broker accepted (a client that reconnected elsewhere), and the recovery
 * of a dead (or restarted) broker's open tasks.
 */
import type { Logger } from "pino";
import type { Redis } from "ioredis";
import { digest } from "../auth.js";
import type { ForeignTask, RemoteOutcome, RemoteTask } from "../backend.js";
import { incarnationOfTask, originOfTask } from "../tasks/task-table.js";
import { decodeOutcome, decodeTaskBytes, encodeTask } from "./envelope.js";
import { brokerKeys, meshKeys } from "./keys.js";
import type { MeshCommands } from "./scripts.js";

interface Watch {
  deadline: number;
  done: (outcome: RemoteOutcome | undefined) => void;
}

/** Period of the poll for the outcomes of watched tasks. */
const WATCH_POLL_MS = 100;

export class Ledger {
  /** Records queued this turn, encoded when written (a task handed over in the same turn never is: `forget`). */
  private readonly opened = new Map<string, RemoteTask>();
  private readonly ended: { id: string; body: Buffer | undefined; ttlMs: number }[] = [];
  private scheduled = false;
  private readonly watches = new Map<string, Watch[]>();
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly cmd: Redis & MeshCommands,
    private readonly brokerId: string,
    private readonly log: Logger,
    private readonly track: (p: Promise<void>) => void,
    /** When to write what this turn queued (connections.ts `deferWrites`). */
    private readonly defer: (write: () => void) => void,
  ) {}

  /** Records (or updates) an open task of this broker; written with the others of this callback (of this turn on Cluster). */
  open(task: RemoteTask): void {
    this.opened.set(task.task_id, task);
    this.schedule();
  }

  /** Drops a record `open` queued this turn and not written yet (the hand-off script writes it instead). */
  forget(taskId: string): void {
    this.opened.delete(taskId);
  }

  /** Records an open task now (not batched); resolves once Redis has it. */
  async record(task: RemoteTask): Promise<void> {
    this.opened.delete(task.task_id);
    await this.cmd.hset(brokerKeys(this.brokerId).open, task.task_id, encodeTask(task));
  }

  /**
   * A task of this broker ended: its outcome `body` (encodeOutcome) is stored unless another broker
   * already stored it (a handed-over task: undefined), and its record is forgotten.
   */
  end(taskId: string, body: Buffer | undefined, ttlMs: number): void {
    this.ended.push({ id: taskId, body, ttlMs });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(this.flush);
  }

  /** One HSET for the records queued since the last flush, then one end-tasks script: both on this broker's slot, in order. */
  readonly flush = (): void => {
    this.scheduled = false;
    const keys = brokerKeys(this.brokerId);
    if (this.opened.size > 0) {
      const args: (string | Buffer)[] = [];
      for (const [id, record] of this.opened) args.push(id, encodeTask(record));
      this.opened.clear();
      this.track(this.cmd.hset(keys.open, ...args).then(
        () => undefined,
        (err: unknown) => this.log.warn({ err, tasks: args.length / 2 }, "recording open tasks failed"),
      ));
    }
    if (this.ended.length > 0) {
      const batch = this.ended.splice(0);
      const stored = batch.filter((e) => e.body !== undefined);
      const argv: (string | number | Buffer)[] = [keys.open, ...stored.map((e) => keys.response(e.id))];
      for (const e of stored) argv.push(e.ttlMs, e.body!);
      for (const e of batch) argv.push(e.id);
      this.track(this.cmd.endTasks(stored.length + 1, ...argv).then(
        () => undefined,
        (err: unknown) => this.log.warn({ err, tasks: batch.length }, "storing ended tasks failed"),
      ));
    }
  };

  /**
   * Binds an idempotency key (scope + key) to `taskId` unless it is bound already: resolves undefined
   * when this call bound it, else with the task id it holds.
   */
  async claimKey(scopedKey: string, taskId: string, ttlMs: number): Promise<string | undefined> {
    const held = await this.cmd.set(meshKeys.idem(digest(scopedKey)), taskId, "PX", ttlMs, "NX", "GET");
    return held ?? undefined;
  }

  /**
   * Re-binds a key from a task that was never stored (`expected`) to `taskId` ("" unbinds it: the
   * submit that bound it failed); false when it changed meanwhile.
   */
  async rebindKey(scopedKey: string, expected: string, taskId: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd.swap(meshKeys.idem(digest(scopedKey)), "", expected, taskId, ttlMs)) === 1;
  }

  /** Stores the outcome of a task of broker `origin` that will not run again (out of attempts) and forgets its record. */
  async settle(origin: string, taskId: string, body: Buffer, ttlMs: number): Promise<void> {
    const k = brokerKeys(origin);
    await this.cmd.endTasks(2, k.open, k.response(taskId), ttlMs, body, taskId);
  }

  /** What the mesh knows of a task another broker (or an earlier process of this one) accepted. */
  async foreign(taskId: string): Promise<ForeignTask> {
    const origin = originOfTask(taskId);
    if (origin === undefined) return { kind: "unknown", originLive: false };
    const k = brokerKeys(origin);
    const [response, record, alive] = await Promise.all([this.cmd.lindexBuffer(k.response(taskId), -1), this.cmd.hgetBuffer(k.open, taskId), this.cmd.get(k.alive)]);
    if (response !== null) return { kind: "ended", outcome: decodeOutcome(response) };
    const task = record === null ? undefined : decodeTaskBytes(record);
    if (task !== undefined) return { kind: "open", deadline: task.deadline ?? Date.now() + task.timeout_ms, owner: task.owner };
    return { kind: "unknown", originLive: alive !== null && alive === incarnationOfTask(taskId) };
  }

  /** Calls `done` once with the task's outcome when it is stored, or with undefined after `deadline` (+ margin). */
  watch(taskId: string, deadline: number, done: (outcome: RemoteOutcome | undefined) => void): void {
    const list = this.watches.get(taskId);
    if (list === undefined) this.watches.set(taskId, [{ deadline, done }]);
    else list.push({ deadline, done });
    this.poller ??= setInterval(() => void this.poll(), WATCH_POLL_MS);
  }

  /** Outcomes stored for watched tasks, in one pipeline per poll. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = [...this.watches.keys()];
      const pipe = this.cmd.pipeline();
      for (const id of ids) pipe.lindexBuffer(brokerKeys(originOfTask(id) ?? "").response(id), -1);
      const replies = (await pipe.exec()) ?? [];
      const now = Date.now();
      ids.forEach((id, i) => {
        const body = replies[i]?.[1];
        const outcome = body instanceof Uint8Array ? decodeOutcome(body) : undefined;
        const list = this.watches.get(id) ?? [];
        const left = list.filter((w) => {
          if (outcome === undefined && now <= w.deadline) return true;
          w.done(outcome);
          return false;
        });
        if (left.length === 0) this.watches.delete(id);
        else this.watches.set(id, left);
      });
    } catch (err) {
      this.log.debug({ err }, "polling watched tasks failed");
    } finally {
      this.polling = false;
      if (this.watches.size === 0 && this.poller !== undefined) {
        clearInterval(this.poller);
        this.poller = undefined;
      }
    }
  }

  /**
   * The open tasks of broker `origin` (dead, or this broker's own earlier process: then `except` is
   * this process's incarnation, whose tasks are live). A task with a stored outcome, or past its
   * deadline, is forgotten; one handed to another broker is that broker's to finish; one that ran on
   * `origin`'s own agents is re-handed through `rehand` (which returns false when no agent offers it
   * yet). Records are taken with a compare-and-set, so two recovering brokers never both re-hand one.
   * Returns how many records remain.
   */
  async recover(origin: string, except: string | undefined, marginMs: number, rehand: (task: RemoteTask) => Promise<boolean>): Promise<number> {
    const k = brokerKeys(origin);
    let left = 0;
    let cursor = "0";
    do {
      const [next, flat] = (await this.cmd.hscanBuffer(k.open, cursor, "COUNT", 200)) as [Buffer, Buffer[]];
      cursor = next.toString();
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = flat[i]!.toString();
        const raw = flat[i + 1]!;
        if (except !== undefined && incarnationOfTask(id) === except) continue;
        const task = decodeTaskBytes(raw);
        const now = Date.now();
        if (task === undefined || (await this.cmd.exists(k.response(id))) === 1 || (task.deadline ?? 0) + marginMs < now) {
          await this.cmd.hdel(k.open, id);
          continue;
        }
        if (task.target_broker !== "" && task.target_broker !== origin) {
          left++; // its executing broker stores the outcome (or a survivor of it does)
          continue;
        }
        const claimed = { ...task, target_broker: this.brokerId };
        if ((await this.cmd.swap(k.open, id, raw, encodeTask(claimed), 0)) !== 1) continue; // another broker took it
        if (!(await rehand({ ...task, timeout_ms: Math.max(1, (task.deadline ?? now) - now) }))) {
          await this.cmd.swap(k.open, id, encodeTask(claimed), raw, 0);
          left++;
        }
      }
    } while (cursor !== "0");
    return left;
  }

  close(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
    for (const list of this.watches.values()) for (const w of list) w.done(undefined);
    this.watches.clear();
    this.flush();
  }
}
