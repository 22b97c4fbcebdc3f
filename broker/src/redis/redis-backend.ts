/**
 * The Redis mesh backend (docs/decisions/003-redis-mesh.md). Four connections, whatever the load:
 * `cmd` for every non-blocking command and script, `tasks` blocked on this broker's task stream
 * (XREADGROUP), `ready` blocked on this broker's ready list (BLMPOP), `sub` for change notices and
 * cross-broker publishes.
 */
import type { Logger } from "pino";
import type { Cluster, Redis } from "ioredis";
import { AgentLostError, DEFAULTS, errorInfo, type AgentInfo, type Strategy, type TraceContext } from "@agentwire/wire";
import type { ForeignTask, ForwardedRequest, MeshHost, MeshPort, MeshStats, RemoteOutcome, RemoteTask, RequestAnswer } from "../backend.js";
import type { TaskRecord } from "../tasks/task-table.js";
import type { AgentFilter } from "../registry.js";
import { originOfTask } from "../tasks/task-table.js";
import { connect, deferWrites, RECONNECT_MAX_MS, ROLES, type RedisTarget, type Role } from "./connections.js";
import { decodeOutcome, decodePublish, decodeTask, encodeOutcome, encodePublish, encodeTask, handoffOf, outcomeOf, taskRecord, TASK_FIELD, type MeshControl } from "./envelope.js";
import { brokerKeys, CONSUMER_GROUP, meshKeys } from "./keys.js";
import { carriedParts } from "../trace.js";
import { Ledger } from "./ledger.js";
import { parseAgents, RegistryCache, registryShape } from "./registry-cache.js";
import { RedisPools } from "./pools.js";
import { RedisWorkflowStore } from "./workflow-store.js";
import { defineScripts, type MeshCommands } from "./scripts.js";

export interface RedisBackendOptions {
  target: RedisTarget;
  brokerId: string;
  log: Logger;
  /** Liveness refresh period; the liveness key lives 3 x this. */
  livenessMs?: number;
  /** Entries per XREADGROUP / ids per BLMPOP. */
  batch?: number;
  /** Response keys live task timeout + this. */
  responseMarginMs?: number;
  /** Period of the orphaned-key sweep, which also counts this broker's response keys. */
  sweepMs?: number;
  /** SCAN rounds (COUNT 1000 each, per node) one sweep pattern may take. */
  scanRounds?: number;
  /** This process's incarnation (the part of its ids that differs between processes of one broker id). */
  incarnation?: string;
  /** How long a mesh-wide idempotency key is kept (the result TTL). */
  keyTtlMs?: number;
}

/** Escapes Redis glob metacharacters in a literal key part. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Least time between two registry publishes triggered by changes (not by the liveness tick). */
const CHANGE_SPACING_MS = 20;

const BROKER_KEY = /^aw:\{b:(.*)\}:(ready|tasks)$/;

/** XREADGROUP / XAUTOCLAIM entries read as Buffers: [entry id, [field, value, ...]]. */
type Entries = [Buffer, Buffer[]][];
/** Liveness periods an entry of this broker's stream may sit with another broker's consumer before it is taken back. */
const STRAY_IDLE_LIVENESS = 10;
type StreamReply = [Buffer, Entries][] | null;
/**
 * ioredis has `xautoclaimBuffer` and `xclaimBuffer` at run time but not in its types. (`callBuffer` is
 * no way around it: on an auto-pipelined connection it sends the key as the command name.)
 */
type XAutoClaimBuffer = { xautoclaimBuffer(...args: (string | number)[]): Promise<unknown>; xclaimBuffer(...args: (string | number)[]): Promise<unknown> };

/** A result waiting for the end-of-turn store (`finish`). */
interface StoredResult {
  /** The broker whose task stream holds the entry (this one, or a dead one whose entry was reclaimed). */
  broker: string;
  entryId: string;
  task: RemoteTask;
  body: Buffer;
  /** When the result was first queued (retries stop after the response margin). */
  since: number;
}

/** A task of this broker waiting for this callback's hand-off script (standalone Redis). */
interface PendingHandOff {
  readonly task: TaskRecord;
  readonly target: string;
  readonly attempt: number;
  readonly entry: Buffer;
  readonly record: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A task stream entry this broker runs for its origin (the executing side of a handoff). */
interface Running {
  readonly entryId: string;
  readonly task: RemoteTask;
  /** The attempt running now: the handoff's, raised by local retries (recorded in Redis first). */
  attempt: number;
  /** Unix ms until which no survivor can have claimed the entry (own-2 reset its idle time). */
  safeUntil: number;
  /** This broker's liveness lapsed while it ran the entry: only own-2 can tell whether it is still its own. */
  suspect: boolean;
  /** A survivor claimed it while this broker seemed dead: it is not run, and its result not stored. */
  lost: boolean;
  /** Given to another broker (or left for reclaim): the local run's result is not stored. */
  handedBack: boolean;
}

/** Whether `attempt` would pass the task's attempt limit [CRASH-7]. */
function pastLastAttempt(task: RemoteTask, attempt: number): boolean {
  return attempt > (task.max_attempts ?? DEFAULTS.maxAttempts);
}

/** The stored outcome of a task whose broker died during its last attempt (`attempt`). */
function lostOnLastAttempt(task: RemoteTask, attempt: number): Buffer {
  const error = errorInfo(new AgentLostError(`task ${task.task_id} lost its broker on its last attempt`));
  return encodeOutcome({ ok: false, error, attempt, owner: task.owner });
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function unb64(text: string): Buffer {
  return Buffer.from(text, "base64");
}

/** First bytes of a ready-list entry: `{` opens a control entry, a newline ends a result's task id. */
const OPEN_BRACE = 0x7b;
const NEWLINE = 0x0a;

/** Resolves after this event-loop turn's setImmediate callbacks (WriteBatcher's flush among them). */
const afterFlush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Pause before storing results again after a failed store. */
const STORE_RETRY_MS = 250;

/** Most responses per store script call (Lua's unpack takes a few thousand values). */
const STORE_CHUNK = 1_000;
/** Inputs up to this many bytes stay in a handed-over task's open record (it is then the stream entry's bytes). */
const SHARED_RECORD_MAX_INPUT = 1024;

export class RedisBackend implements MeshPort {
  readonly kind: string;
  readonly cache = new RegistryCache();
  private host: MeshHost | undefined;
  private readonly conns: Record<Role, Redis>;
  private readonly cmd: Redis & MeshCommands;
  /** When the commands a callback queued are written (connections.ts `deferWrites`). */
  private readonly defer: (write: () => void) => void;
  private readonly keys: ReturnType<typeof brokerKeys>;
  private readonly livenessMs: number;
  private readonly batch: number;
  private readonly marginMs: number;
  private readonly cluster: boolean;
  private readonly sweepMs: number;
  private live = false;
  private timer: NodeJS.Timeout | undefined;
  private loops: Promise<void>[] = [];
  private lastPublished = "";
  /** The cache's version when queued tasks were last offered to the mesh, and whether local agents changed since. */
  private handedAtVersion = 0;
  private localChanged = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private changeTimer: NodeJS.Timeout | undefined;
  private lastChangeTick = 0;
  private sweeping: Promise<void> | undefined;
  private readonly stores = new Map<string, StoredResult[]>();
  private storeScheduled = false;
  private readonly storing = new Set<Promise<void>>();
  private handOffs: PendingHandOff[] = [];
  /**
   * Tasks whose record hand-off.lua wrote (handed to `target` as `attempt`) and that this broker has
   * not recorded since: the record update the task service asks for once the hand-off resolves is
   * written already, and the executing broker's store-responses forgets the record with the outcome.
   */
  private readonly handed = new Map<string, { target: string; attempt: number }>();
  /** Task ids this broker reclaimed from dead brokers (metric). */
  reclaimed = 0;
  /** Entries of this broker's task stream it runs now, by task id. */
  private readonly running = new Map<string, Running>();
  /**
   * Unix ms until which this broker's liveness key surely exists (the last SET of it was sent at
   * `t`: it lives until at least t + TTL; one liveness period is kept as margin). Past it, a survivor
   * may have taken this broker for dead and claimed its entries: they are fenced (own-2) before an
   * agent gets one or a result is stored.
   */
  private aliveUntil = 0;
  /**
   * Since when `cmd` is connected. Other brokers could not refresh their liveness while Redis was
   * unreachable either: none is taken for dead until they had time to reconnect (their last backoff
   * step, RECONNECT_MAX_MS) and then 3 liveness periods to refresh.
   */
  private readySince = 0;
  private straying: Promise<void> | undefined;
  /** A liveness tick failed: the next one that succeeds restarts `readySince`. */
  private storeTrouble = false;
  private verifying: Promise<void> | undefined;
  /** Shutting down: entries read are handed to other brokers, agents are no longer published. */
  private intakeStopped = false;
  private readonly ledger: Ledger;
  /** Open tasks of an earlier process with this id that no agent could take yet (retried each tick). */
  private openLeft = 0;
  /** Entries of this broker's stream that an earlier process with this id left pending and no agent could take yet. */
  private leftover: string[] = [];
  private readonly figures: MeshStats = { streamLength: 0, pending: 0, readyLength: 0, responseKeys: 0, reclaimed: 0, swept: 0 };

  constructor(private readonly options: RedisBackendOptions) {
    this.cluster = options.target.cluster !== "";
    this.kind = this.cluster ? "redis-cluster" : "redis";
    this.livenessMs = options.livenessMs ?? 1_000;
    this.batch = options.batch ?? 128;
    this.marginMs = options.responseMarginMs ?? 30_000;
    this.keys = brokerKeys(options.brokerId);
    this.conns = Object.fromEntries(ROLES.map((r) => [r, connect(options.target, options.brokerId, r)])) as Record<Role, Redis>;
    this.cmd = defineScripts(this.conns.cmd);
    this.defer = deferWrites(options.target);
    this.ledger = new Ledger(this.cmd, options.brokerId, options.log, (p) => this.track(p), this.defer);
    this.sweepMs = options.sweepMs ?? 10_000;
    for (const r of ROLES) this.conns[r].on("error", (err: Error) => options.log.debug({ err, role: r }, "redis connection error"));
    this.conns.cmd.on("ready", () => (this.readySince = Date.now()));
  }

  get ready(): boolean {
    return this.live && ROLES.every((r) => this.conns[r].status === "ready");
  }

  attach(host: MeshHost): void {
    this.host = host;
  }

  async start(): Promise<void> {
    if (this.host === undefined) throw new Error("RedisBackend.start before attach");
    await Promise.all(ROLES.map((r) => this.conns[r].connect()));
    const sub = this.conns.sub;
    sub.on(this.cluster ? "smessageBuffer" : "messageBuffer", (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    if (this.cluster) await sub.ssubscribe(meshKeys.changes, meshKeys.publish);
    else await sub.subscribe(meshKeys.changes, meshKeys.publish);
    this.live = true;
    // Liveness first, then the stream: the sweep takes a stream without a live owner for an orphan.
    await this.tick();
    await this.ensureGroup();
    // Before this process reads its stream, every pending entry of its consumer is an earlier process's.
    await this.recoverOwnPending();
    this.openLeft = await this.recoverOpen(this.options.brokerId);
    this.timer = setInterval(() => void this.tick().catch((err: unknown) => this.options.log.warn({ err }, "mesh tick failed")), this.livenessMs);
    this.sweepTimer = setInterval(() => void this.sweep().catch((err: unknown) => this.options.log.warn({ err }, "mesh sweep failed")), this.sweepMs);
    this.loops = [this.readTasks(), this.readResponses()];
  }

  async close(): Promise<void> {
    if (!this.live) return;
    this.live = false;
    clearInterval(this.timer);
    clearInterval(this.sweepTimer);
    clearTimeout(this.changeTimer);
    await this.sweeping?.catch(() => undefined);
    // Results already queued are stored and acknowledged, and open-task records written, before we leave.
    this.flushHandOffs();
    this.ledger.close();
    this.flushStores();
    await Promise.allSettled(this.storing);
    try {
      // A graceful leave: peers forget our agents now; our task stream stays for reclaim.
      await this.cmd.del(this.keys.alive, this.keys.agents, this.keys.caps);
      // With nothing left in our stream we leave the mesh; otherwise a survivor reclaims it.
      // (One script: an XADD racing this leave is kept, not deleted with an empty stream.)
      if ((await this.cmd.leave(this.keys.tasks, this.keys.open)) === 1) await this.cmd.zrem(meshKeys.brokers, this.options.brokerId);
      await this.signal(meshKeys.changes, this.options.brokerId);
    } catch (err) {
      this.options.log.warn({ err }, "mesh leave failed");
    }
    for (const r of ROLES) this.conns[r].disconnect();
    await Promise.allSettled(this.loops);
  }

  /**
   * Shutting down: from now on this broker's agents are published without capabilities (other brokers
   * stop handing it tasks) and an entry it reads is handed to another broker instead of run here.
   */
  stopIntake(): void {
    this.intakeStopped = true;
    this.registryChanged();
  }

  /**
   * The broker closes with task `taskId` of the mesh still open here (`ran`: its current attempt went
   * to an agent): it goes to another broker with an agent for it (attempt + 1 when it ran), or stays
   * pending in this broker's stream for a survivor's reclaim (or this id's next process) when
   * `closing`. Returns false when the task is not a running entry of this broker, or stays here.
   */
  release(taskId: string, ran: boolean, closing: boolean): boolean {
    const r = this.running.get(taskId);
    if (r === undefined) return false;
    if (this.handBack(r, ran)) return true;
    if (!closing) return false;
    r.handedBack = true;
    this.running.delete(taskId);
    return true;
  }

  /**
   * Before an agent gets task `taskId` as `attempt`: true to go ahead now, or a promise of whether it
   * may. A local retry (attempt above the entry's) is recorded in Redis first, so that a reclaim after
   * a crash runs the next attempt rather than this one again [TASK-5]; a broker that may have been
   * taken for dead first checks that it still owns the entry.
   */
  beforeRun(taskId: string, attempt: number): true | Promise<boolean> {
    const r = this.running.get(taskId);
    if (r === undefined) return true;
    if (!r.lost && attempt <= r.attempt && this.safe(r)) return true;
    return this.own([[r, attempt > r.attempt ? attempt : 0]]).then(() => !r.lost);
  }

  /**
   * Publishes the local registry soon after a change instead of on the next liveness tick; changes
   * within `CHANGE_SPACING_MS` of the last publish share one (a burst of registrations costs a few
   * publishes, not one each).
   */
  registryChanged(): void {
    this.localChanged = true;
    if (!this.live || this.changeTimer !== undefined) return;
    const wait = Math.max(0, this.lastChangeTick + CHANGE_SPACING_MS - Date.now());
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.lastChangeTick = Date.now();
      void this.publishRecords().catch((err: unknown) => this.options.log.warn({ err }, "mesh registry publish failed"));
    }, wait);
  }

  remoteAgents(filter: AgentFilter): AgentInfo[] {
    return this.cache.query(filter);
  }

  routeFor(capability: string, range: string | undefined, tags: readonly string[] | undefined, strategy?: Strategy): string | undefined {
    return this.cache.brokerFor(capability, range, tags, strategy);
  }

  brokerOfAgent(agentId: string): string | undefined {
    return this.cache.brokerOfAgent(agentId);
  }

  poolMesh(): RedisPools {
    return new RedisPools(this.cmd, this.options.brokerId, () => this.cache.brokers, this.options.log);
  }

  /** A run's lease lapses like a broker's liveness: after 3 missed refreshes [WF-15]. */
  workflowStore(): RedisWorkflowStore {
    return new RedisWorkflowStore(this.cmd, this.options.brokerId, 3 * this.livenessMs, Math.max(this.options.keyTtlMs ?? 0, 3_600_000), this.options.log);
  }

  drainAgent(broker: string, agentId: string, cause: string): void {
    this.control(broker, { k: "drain", agent: agentId, cause });
  }

  cancelRemote(broker: string, taskId: string, reason: string): void {
    this.control(broker, { k: "cancel", origin: this.options.brokerId, task: taskId, reason });
  }

  forwardProgress(origin: string, taskId: string, attempt: number, data: Uint8Array): void {
    this.control(origin, { k: "progress", task: taskId, attempt, data: b64(data) });
  }

  deliverMessage(broker: string, to: string, from: string, payload: Uint8Array, correlationId: string | undefined, trace: TraceContext | undefined): void {
    this.control(broker, { k: "message", to, from, payload: b64(payload), cid: correlationId, tp: trace?.traceparent, ts: trace?.tracestate });
  }

  forwardRequest(broker: string, r: ForwardedRequest): void {
    const { trace } = r;
    this.control(broker, { k: "request", origin: r.origin, id: r.id, to: r.to, cap: r.cap, from: r.from, payload: b64(r.payload), deadline: r.deadline, tp: trace?.traceparent, ts: trace?.tracestate });
  }

  answerRequest(origin: string, id: string, answer: RequestAnswer): void {
    const { trace } = answer;
    this.control(origin, { k: "response", id, ok: answer.ok, payload: answer.payload === undefined ? undefined : b64(answer.payload), error: answer.error, tp: trace?.traceparent, ts: trace?.tracestate });
  }

  /**
   * Hands `task` (accepted here) to broker `target`'s task stream. On standalone Redis the stream entry
   * and the open-task record naming `target` are written by one script per callback (hand-off.lua),
   * replacing the record queued this turn; on Cluster the two slots differ: the XADD, then the record.
   */
  handOff(task: TaskRecord, target: string): Promise<void> {
    const me = this.options.brokerId;
    if (this.cluster) return this.enqueueRemote(handoffOf(task, me, target));
    this.ledger.forget(task.id);
    return new Promise((resolve, reject) => {
      const entry = encodeTask(handoffOf(task, me, target));
      // The record naming `target` may be the entry's own bytes: whoever reads a handed record (a
      // recovery, a reattach) uses its target, deadline and owner, which the entry has too; only a
      // large input is worth leaving out of it (one encode less per task otherwise).
      const record = task.input.byteLength <= SHARED_RECORD_MAX_INPUT ? entry : encodeTask(taskRecord(task, me, target));
      if (this.handOffs.push({ task, target, attempt: task.attempt, entry, record, resolve, reject }) === 1) process.nextTick(this.flushHandOffs);
    });
  }

  private readonly flushHandOffs = (): void => {
    const all = this.handOffs;
    this.handOffs = [];
    for (let i = 0; i < all.length; i += STORE_CHUNK) {
      const batch = all.slice(i, i + STORE_CHUNK);
      const keys: string[] = [this.keys.open];
      const entries: Buffer[] = [];
      const records: (string | Buffer)[] = [];
      for (const h of batch) {
        keys.push(brokerKeys(h.target).tasks);
        entries.push(h.entry);
        records.push(h.task.id, h.record);
      }
      this.cmd.handOff(keys.length, ...keys, ...entries, ...records).then(
        () => {
          for (const h of batch) {
            if (h.task.endedAt === 0) this.handed.set(h.task.id, { target: h.target, attempt: h.attempt });
            h.resolve();
          }
        },
        (err: unknown) => {
          for (const h of batch) {
            // Neither write happened: the task is recorded as this broker's own until a retry hands it over.
            if (h.task.endedAt === 0) this.ledger.open(taskRecord(h.task, this.options.brokerId));
            h.reject(err);
          }
        },
      );
    }
  };

  /** LPUSH on the receiver's ready list via `cmd`: entries of one sender arrive in call order. */
  private control(broker: string, entry: MeshControl): void {
    this.cmd.lpush(brokerKeys(broker).ready, JSON.stringify(entry)).catch((err: unknown) => this.options.log.warn({ err, broker, kind: entry.k }, "mesh control entry failed"));
  }

  /** XADD of a task to the executing broker's stream (also used by reclaims, and by tests standing in for an origin). */
  async enqueueRemote(task: RemoteTask): Promise<void> {
    await this.cmd.xadd(brokerKeys(task.target_broker).tasks, "*", TASK_FIELD, encodeTask(task));
  }

  async publish(topic: string, from: string, payload: Uint8Array, fromBroker: boolean, trace: TraceContext | undefined): Promise<number> {
    await this.signal(meshKeys.publish, encodePublish(this.options.brokerId, topic, from, payload, fromBroker, trace));
    return 0; // remote deliveries are counted by the receiving brokers, not known here
  }

  stats(): MeshStats {
    return { ...this.figures, reclaimed: this.reclaimed };
  }

  /**
   * Removes what dead brokers left behind and counts this broker's response keys; runs every
   * `sweepMs`, one at a time. A broker is dead when its liveness key is gone and it is either out of
   * the membership or its membership score is stale. Its ready list (responses and control entries
   * nobody will read) is deleted; a non-empty task stream of a broker out of the membership (an XADD
   * that raced its leave) gets its group and goes back into the membership at score 0, so `reclaim`
   * re-hands its entries and then forgets it. Response keys are left to their TTL: a dead origin's
   * results stay readable through GET /v1/tasks/:id until then. SCAN rounds are bounded per sweep.
   */
  sweep(): Promise<void> {
    if (this.sweeping !== undefined) return this.sweeping;
    this.sweeping = this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    if (!this.live) return;
    const me = this.options.brokerId;
    let responses = 0;
    await this.scan(`${globLiteral(this.keys.response(""))}*`, async (keys) => void (responses += keys.length));
    this.figures.responseKeys = responses;
    const members = await this.cmd.zrange(meshKeys.brokers, "0", "-1", "WITHSCORES");
    const score = new Map<string, number>();
    for (let i = 0; i + 1 < members.length; i += 2) score.set(members[i]!, Number(members[i + 1]));
    const dead = new Map<string, boolean>();
    const isDead = async (id: string): Promise<boolean> => {
      let d = dead.get(id);
      if (d === undefined) {
        const s = score.get(id);
        d = (await this.cmd.exists(brokerKeys(id).alive)) === 0 && (s === undefined || Date.now() - s > 3 * this.livenessMs) && this.othersHadTime(Date.now());
        dead.set(id, d);
      }
      return d;
    };
    await this.scan("aw:{b:*}:*", async (keys) => {
      for (const key of keys) {
        const m = BROKER_KEY.exec(key);
        if (m === null || m[1] === me || !this.live) continue;
        const id = m[1]!;
        if (!(await isDead(id))) continue;
        if (m[2] === "ready") {
          this.figures.swept += await this.cmd.del(key);
        } else if (!score.has(id)) {
          if ((await this.cmd.xlen(key)) === 0) this.figures.swept += await this.cmd.del(key);
          else {
            try {
              await this.cmd.xgroup("CREATE", key, CONSUMER_GROUP, "0");
            } catch (err) {
              if (!String(err).includes("BUSYGROUP")) throw err;
            }
            await this.cmd.zadd(meshKeys.brokers, 0, id);
          }
        }
      }
    });
  }

  /** SCAN MATCH `pattern` on every node (each master on Cluster), at most `scanRounds` rounds each. */
  private async scan(pattern: string, each: (keys: string[]) => Promise<void>): Promise<void> {
    const nodes: Redis[] = this.cluster ? (this.cmd as unknown as Cluster).nodes("master") : [this.cmd];
    const rounds = this.options.scanRounds ?? 100;
    for (const node of nodes) {
      let cursor = "0";
      let n = 0;
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
        cursor = next;
        if (keys.length > 0) await each(keys);
      } while (cursor !== "0" && ++n < rounds && this.live);
    }
  }

  /** The stored outcome of a task, under the response key of the broker its id names. */
  async storedOutcome(taskId: string): Promise<RemoteOutcome | undefined> {
    const origin = originOfTask(taskId);
    return origin === undefined ? undefined : this.response(origin, taskId);
  }

  /** Result of a task that ran here for `origin`, readable via the response key until its TTL. */
  async response(origin: string, taskId: string): Promise<RemoteOutcome | undefined> {
    // The first outcome stored wins (a late one of a cancelled run is pushed after it).
    const body = await this.cmd.lindexBuffer(brokerKeys(origin).response(taskId), -1);
    return body === null ? undefined : decodeOutcome(body);
  }

  private signal(channel: string, message: string | Buffer): Promise<unknown> {
    return this.cluster ? this.cmd.spublish(channel, message) : this.cmd.publish(channel, message);
  }

  private onMessage(channel: string, message: Buffer): void {
    if (channel === meshKeys.publish) {
      const m = decodePublish(message);
      if (m.origin !== this.options.brokerId) this.host!.publishLocal(m.topic, m.from, m.payload, m.broker === true, carriedParts(m.tp, m.ts));
    } else if (channel === meshKeys.changes && message.toString() !== this.options.brokerId) {
      void this.refresh().catch((err: unknown) => this.options.log.warn({ err }, "registry refresh failed"));
    }
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.cmd.xgroup("CREATE", this.keys.tasks, CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!String(err).includes("BUSYGROUP")) throw err;
    }
  }

  /** The liveness tick: this broker's records (`publish`), its queue figures, then the cache. */
  private async tick(): Promise<void> {
    if (!this.live) return;
    // Woken after a pause longer than the liveness margin: check the entries still being run.
    if (this.running.size > 0 && Date.now() >= this.aliveUntil) void this.verifyAll();
    try {
      await this.publishRecords();
    } catch (err) {
      this.storeTrouble = true;
      throw err;
    }
    if (this.storeTrouble) {
      // The store is reachable again (on a Cluster, `cmd` stays ready while one master restarts):
      // the others get their liveness periods to refresh before any of them is taken for dead.
      this.storeTrouble = false;
      this.readySince = Date.now();
    }
    if (this.leftover.length > 0) await this.retryLeftover();
    if (this.openLeft > 0) this.openLeft = await this.recoverOpen(this.options.brokerId);
    const figures = await this.cmd.pipeline().xlen(this.keys.tasks).xpending(this.keys.tasks, CONSUMER_GROUP).llen(this.keys.ready).exec();
    const value = (i: number): unknown => (figures?.[i]?.[0] == null ? figures?.[i]?.[1] : undefined);
    this.figures.streamLength = Number(value(0) ?? 0);
    this.figures.pending = Number((value(1) as [number] | undefined)?.[0] ?? 0);
    this.figures.readyLength = Number(value(2) ?? 0);
    const holders = ((value(1) as [number, unknown, unknown, [string, string][] | null] | undefined)?.[3] ?? []).filter(([c]) => c !== this.options.brokerId);
    if (holders.length > 0 && !this.intakeStopped) void this.takeStray(holders.map(([c]) => c));
    await this.refresh();
  }

  /**
   * Entries of this broker's stream held by another broker's consumer for long: a broker that took
   * this one for dead (its liveness key lapsed) and found no agent to hand them to, or that died while
   * handing them. They are taken back and handed again like an earlier process's (`rehand`).
   */
  private takeStray(consumers: string[]): Promise<void> {
    this.straying ??= (async () => {
      const idle = STRAY_IDLE_LIVENESS * this.livenessMs;
      for (const consumer of consumers) {
        const held = (await this.cmd.xpending(this.keys.tasks, CONSUMER_GROUP, "IDLE", idle, "-", "+", this.batch, consumer)) as [string, string, number, number][];
        if (held.length === 0) continue;
        // XCLAIM with the same idle time: an entry its holder just touched stays its holder's.
        const entries = (await (this.cmd as unknown as XAutoClaimBuffer).xclaimBuffer(this.keys.tasks, CONSUMER_GROUP, this.options.brokerId, idle, ...held.map(([id]) => id))) as unknown as Entries;
        for (const [id, fields] of entries) {
          if (!(await this.rehand(this.options.brokerId, id.toString(), fields))) this.leftover.push(id.toString());
        }
        this.options.log.info({ consumer, entries: entries.length }, "took back stream entries another broker held");
      }
    })()
      .catch((err: unknown) => this.options.log.warn({ err }, "taking back held stream entries failed"))
      .finally(() => (this.straying = undefined));
    return this.straying;
  }

  /** Liveness + agent records (one script), membership, and a change notice when the set changed. */
  private async publishRecords(): Promise<void> {
    if (!this.live) return;
    const me = this.options.brokerId;
    // Shutting down: still listed (direct messages reach its sessions) but offering nothing.
    const agents = this.intakeStopped ? this.host!.localAgents().map((a) => ({ ...a, capabilities: [] })) : this.host!.localAgents();
    const caps = new Map<string, number>();
    // The liveness key holds the incarnation: another broker tells this process's tasks from an earlier one's.
    const argv: (string | number)[] = [3 * this.livenessMs, this.options.incarnation ?? me, agents.length];
    for (const a of agents) {
      argv.push(a.agent_id, JSON.stringify(a));
      for (const c of a.capabilities) caps.set(c.name, (caps.get(c.name) ?? 0) + 1);
    }
    for (const [name, n] of caps) argv.push(name, n);
    const sent = Date.now();
    // The membership score is refreshed even when this broker's own slot is unreachable (its Cluster
    // master restarting): a live broker whose liveness key lapsed meanwhile is not taken for dead.
    const [records, membership] = await Promise.allSettled([
      this.cmd.publishAgents(this.keys.alive, this.keys.agents, this.keys.caps, ...argv),
      this.cmd.zadd(meshKeys.brokers, sent, me),
    ]);
    if (records.status === "rejected") throw records.reason;
    if (sent >= this.aliveUntil && this.running.size > 0) {
      // The liveness key may have lapsed before this refresh: what ran across the gap is suspect.
      for (const r of this.running.values()) r.suspect = true;
      void this.verifyAll();
    }
    this.aliveUntil = Math.max(this.aliveUntil, sent + 2 * this.livenessMs);
    if (membership.status === "rejected") throw membership.reason;
    // Compare without in_flight, which changes with every task and is not worth a notice.
    const shape = registryShape(agents);
    if (shape !== this.lastPublished) {
      this.lastPublished = shape;
      await this.signal(meshKeys.changes, me);
    }
  }

  /** Reloads other brokers' agents; coalesces concurrent calls into at most one more run. */
  private refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.reload();
      } while (this.refreshAgain && this.live);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    const me = this.options.brokerId;
    const members = await this.cmd.zrange(meshKeys.brokers, "0", "-1", "WITHSCORES");
    const now = Date.now();
    const seen = new Set<string>();
    for (let i = 0; i + 1 < members.length; i += 2) {
      const id = members[i]!;
      if (id === me) continue;
      seen.add(id);
      const k = brokerKeys(id);
      const [alive, hash] = await Promise.all([this.cmd.exists(k.alive), this.cmd.hgetall(k.agents)]);
      if (alive === 1) this.cache.replace(id, parseAgents(hash));
      else {
        this.cache.drop(id);
        if (now - Number(members[i + 1]) > 3 * this.livenessMs && this.othersHadTime(now)) await this.reclaim(id);
      }
    }
    for (const id of [...this.cache.brokers]) if (!seen.has(id)) this.cache.drop(id);
    // Tasks queued here may have a broker now: only when an agent list changed, here or elsewhere.
    if (this.host !== undefined && !this.intakeStopped && (this.cache.version !== this.handedAtVersion || this.localChanged)) {
      this.handedAtVersion = this.cache.version;
      this.localChanged = false;
      this.host.remoteAgentsChanged();
    }
  }

  /**
   * Takes over a dead broker's tasks: its pending entries (XAUTOCLAIM; the idle time keeps two
   * survivors from claiming the same entry) and the entries it never read. Each is handed again, with
   * attempt + 1, to a broker that has an agent for it (this one first), then acknowledged on the dead
   * stream: a crash in between runs it twice (at-least-once), never zero times. Forgets the dead
   * broker once its stream is empty.
   */
  private async reclaim(dead: string): Promise<void> {
    const stream = brokerKeys(dead).tasks;
    // The dead broker's own open tasks (accepted there, run on its agents) run elsewhere; it stays a
    // member until none is left, so a later reclaim retries those no agent offers yet.
    const openLeft = await this.recoverOpen(dead);
    if ((await this.cmd.exists(stream)) === 0) {
      if (openLeft === 0) await this.cmd.zrem(meshKeys.brokers, dead);
      return;
    }
    const me = this.options.brokerId;
    let cursor = "0-0";
    do {
      const reply = (await (this.cmd as unknown as XAutoClaimBuffer).xautoclaimBuffer(stream, CONSUMER_GROUP, me, 3 * this.livenessMs, cursor, "COUNT", this.batch)) as [Buffer, Entries];
      cursor = reply[0].toString();
      for (const [id, fields] of reply[1]) await this.rehand(dead, id.toString(), fields);
    } while (cursor !== "0-0" && this.live);
    for (;;) {
      const fresh = (await this.cmd.xreadgroupBuffer("GROUP", CONSUMER_GROUP, me, "COUNT", this.batch, "STREAMS", stream, ">")) as StreamReply;
      const entries = fresh?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      for (const [id, fields] of entries) await this.rehand(dead, id.toString(), fields);
    }
    if ((await this.cmd.xlen(stream)) === 0) {
      await this.cmd.del(stream);
      if (openLeft === 0) await this.cmd.zrem(meshKeys.brokers, dead);
    }
  }

  /**
   * Re-hands the task of entry `entryId` on broker `from`'s stream (dead, or this broker's own left by
   * its previous process): to this broker when one of its agents offers it, else to a broker with such
   * an agent, as the attempt after the last one that may have run (the entry's, or the one recorded by
   * local retries); past max_attempts it ends `agent_lost` for its origin. Returns false, leaving the
   * entry pending, when no agent anywhere offers it yet.
   */
  private async rehand(from: string, entryId: string, fields: Buffer[]): Promise<boolean> {
    const task = decodeTask(fields);
    const k = brokerKeys(from);
    if (task === undefined) {
      await this.cmd.ack(k.tasks, k.attempts, CONSUMER_GROUP, entryId);
      return true;
    }
    const recorded = Number((await this.cmd.hget(k.attempts, entryId)) ?? 0);
    const attempt = Math.max(task.attempt, recorded) + 1;
    const local = !this.intakeStopped && this.host!.offers(task);
    const target = local ? this.options.brokerId : this.cache.brokerFor(task.capability, task.version, task.tags);
    const done = await this.forward(from, entryId, task, target, attempt);
    if (done) this.reclaimed++;
    return done;
  }

  /**
   * Open tasks of broker `origin` (dead, or an earlier process of this one) that ran on its own agents
   * run again elsewhere (Ledger.recover); returns how many records remain.
   */
  private recoverOpen(origin: string): Promise<number> {
    const except = origin === this.options.brokerId ? (this.options.incarnation ?? "") : undefined;
    return this.ledger.recover(origin, except, this.marginMs, async (task) => {
      const attempt = task.attempt + 1;
      if (pastLastAttempt(task, attempt)) {
        await this.ledger.settle(origin, task.task_id, lostOnLastAttempt(task, task.attempt), task.timeout_ms + this.marginMs);
        return true;
      }
      const local = !this.intakeStopped && this.host!.offers(task);
      const target = local ? this.options.brokerId : this.cache.brokerFor(task.capability, task.version, task.tags, task.strategy);
      if (target === undefined) return false;
      await this.enqueueRemote({ ...task, target_broker: target, attempt });
      this.reclaimed++;
      return true;
    });
  }

  recordTask(task: TaskRecord, handedTo?: string): void {
    const handed = this.handed.get(task.id);
    if (handed !== undefined) {
      if (handed.target === handedTo && handed.attempt === task.attempt) return; // hand-off.lua wrote this record
      this.handed.delete(task.id);
    }
    this.ledger.open(taskRecord(task, this.options.brokerId, handedTo));
  }

  recordTaskNow(task: TaskRecord): Promise<void> {
    return this.ledger.record(taskRecord(task, this.options.brokerId));
  }

  taskEnded(task: TaskRecord, storedByMesh: boolean): void {
    // The outcome's store-responses forgot the record that hand-off.lua wrote, and nothing wrote it since.
    if (this.handed.delete(task.id) && storedByMesh) return;
    this.ledger.end(task.id, storedByMesh ? undefined : outcomeOf(task), task.timeoutMs + this.marginMs);
  }

  handOver(task: TaskRecord, ran: boolean): boolean {
    const me = this.options.brokerId;
    const target = this.cache.brokerFor(task.capability, task.version, task.tags, task.strategy);
    if (target === undefined) return false;
    const handoff = { ...handoffOf(task, me, target), attempt: ran ? task.attempt + 1 : task.attempt };
    if (pastLastAttempt(handoff, handoff.attempt)) return false;
    this.handed.delete(task.id);
    this.ledger.open({ ...taskRecord(task, me, target), attempt: handoff.attempt });
    this.track(this.enqueueRemote(handoff).catch((err: unknown) => this.options.log.warn({ err, task_id: task.id }, "handing an open task over failed")));
    return true;
  }

  claimKey(scopedKey: string, taskId: string): Promise<string | undefined> {
    return this.ledger.claimKey(scopedKey, taskId, this.options.keyTtlMs ?? 300_000);
  }

  rebindKey(scopedKey: string, expected: string, taskId: string): Promise<boolean> {
    return this.ledger.rebindKey(scopedKey, expected, taskId, this.options.keyTtlMs ?? 300_000);
  }

  foreignTask(taskId: string): Promise<ForeignTask> {
    return this.ledger.foreign(taskId);
  }

  watchForeign(taskId: string, deadline: number, done: (outcome: RemoteOutcome | undefined) => void): void {
    this.ledger.watch(taskId, deadline + this.marginMs, done);
  }

  /**
   * Sends the task of a stream entry to `target` as `attempt` (with a `moved` notice to its origin),
   * then acknowledges the entry; past max_attempts it stores `agent_lost` for the origin instead.
   * Returns false when there is no target.
   */
  private async forward(from: string, entryId: string, task: RemoteTask, target: string | undefined, attempt: number): Promise<boolean> {
    if (pastLastAttempt(task, attempt)) {
      this.queueStore({ broker: from, entryId, task, body: lostOnLastAttempt(task, attempt - 1), since: Date.now() });
      return true;
    }
    if (target === undefined) return false;
    await this.enqueueRemote({ ...task, target_broker: target, attempt });
    // The origin sends a later cancel for it to where it runs now.
    this.control(task.origin_broker, { k: "moved", task: task.task_id, to: target, attempt });
    const k = brokerKeys(from);
    await this.cmd.ack(k.tasks, k.attempts, CONSUMER_GROUP, entryId);
    return true;
  }

  /**
   * Entries of this broker's stream that an earlier process with the same id read and did not finish
   * (killed, or closed with work no other broker could take), re-handed like a dead broker's; called
   * once, before this process reads its stream. Those no agent offers yet are retried on each tick.
   */
  private async recoverOwnPending(): Promise<void> {
    let cursor = "0";
    for (;;) {
      const reply = (await this.cmd.xreadgroupBuffer("GROUP", CONSUMER_GROUP, this.options.brokerId, "COUNT", this.batch, "STREAMS", this.keys.tasks, cursor)) as StreamReply;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      for (const [id, fields] of entries) {
        cursor = id.toString();
        if (!(await this.rehand(this.options.brokerId, cursor, fields))) this.leftover.push(cursor);
      }
    }
  }

  private async retryLeftover(): Promise<void> {
    const ids = this.leftover;
    this.leftover = [];
    for (const id of ids) {
      const found = (await this.cmd.xrangeBuffer(this.keys.tasks, id, id)) as unknown as Entries;
      const fields = found[0]?.[1];
      if (fields !== undefined && !(await this.rehand(this.options.brokerId, id, fields))) this.leftover.push(id);
    }
  }

  private async readTasks(): Promise<void> {
    const conn = this.conns.tasks;
    while (this.live) {
      try {
        const reply = (await conn.xreadgroupBuffer(
          "GROUP", CONSUMER_GROUP, this.options.brokerId, "COUNT", this.batch, "BLOCK", 1_000, "STREAMS", this.keys.tasks, ">",
        )) as StreamReply;
        for (const [, entries] of reply ?? []) for (const [id, fields] of entries) this.runEntry(id.toString(), fields);
        // The next read waits for this turn's socket flush: the tasks just dispatched go out first.
        if (reply !== null) await afterFlush();
      } catch (err) {
        if (!this.live) return;
        if (String(err).includes("NOGROUP")) await this.ensureGroup().catch(() => undefined);
        else await this.backoff(conn);
      }
    }
  }

  private async readResponses(): Promise<void> {
    const conn = this.conns.ready;
    while (this.live) {
      try {
        const reply = (await conn.blmpopBuffer(1, 1, this.keys.ready, "RIGHT", "COUNT", this.batch)) as [Buffer, Buffer[]] | null;
        if (reply === null) continue;
        // Entries, handled in list order (progress precedes its task's result): "<task id>\n<outcome>"
        // (store-responses.lua; the outcome is binary, the id before the first newline is not), JSON
        // control entries ("{...}"; task ids never start with "{"), or a bare task id whose outcome is
        // read from its response key.
        const entries = reply[1];
        const bare = entries.filter((e) => e[0] !== OPEN_BRACE && e.indexOf(NEWLINE) === -1).map((e) => e.toString());
        const bodies = new Map<string, unknown>();
        if (bare.length > 0) {
          const pipe = this.cmd.pipeline();
          for (const id of bare) pipe.lindexBuffer(this.keys.response(id), -1);
          const results = (await pipe.exec()) ?? [];
          bare.forEach((id, i) => bodies.set(id, results[i]?.[1]));
        }
        for (const entry of entries) {
          if (entry[0] === OPEN_BRACE) {
            try {
              this.onControl(JSON.parse(entry.toString()) as MeshControl);
            } catch (err) {
              this.options.log.warn({ err }, "bad mesh control entry");
            }
            continue;
          }
          const nl = entry.indexOf(NEWLINE);
          const id = (nl === -1 ? entry : entry.subarray(0, nl)).toString();
          const body = nl === -1 ? bodies.get(id) : entry.subarray(nl + 1);
          if (!(body instanceof Uint8Array)) {
            this.options.log.warn({ task_id: id }, "response key expired before it was read");
            continue;
          }
          try {
            this.host!.onRemoteResult(id, decodeOutcome(body));
          } catch (err) {
            this.options.log.warn({ err, task_id: id }, "bad mesh response");
          }
        }
        await afterFlush(); // results to clients leave before the next BLMPOP is written
      } catch (err) {
        if (!this.live) return;
        await this.backoff(conn);
      }
    }
  }

  private runEntry(entryId: string, fields: Buffer[]): void {
    const task = decodeTask(fields);
    if (task === undefined) {
      void this.cmd.ack(this.keys.tasks, this.keys.attempts, CONSUMER_GROUP, entryId).catch(() => undefined);
      return;
    }
    const r: Running = { entryId, task, attempt: task.attempt, safeUntil: 0, suspect: false, lost: false, handedBack: false };
    this.running.set(task.task_id, r);
    // Shutting down, or no local agent (any more) offers it: another broker's agent runs it [MESH-2].
    if ((this.intakeStopped || !this.host!.offers(task)) && this.handBack(r, false)) return;
    this.host!.runTask(task, (outcome) => this.finish(r, outcome));
  }

  /**
   * Gives a running entry's task to another broker with an agent for it (attempt + 1 when it ran
   * here), acknowledging it here; false when no other broker has one.
   */
  private handBack(r: Running, ran: boolean): boolean {
    const t = r.task;
    const target = this.cache.brokerFor(t.capability, t.version, t.tags, t.strategy);
    if (target === undefined) return false;
    r.handedBack = true;
    if (this.running.get(t.task_id) === r) this.running.delete(t.task_id);
    this.track(
      this.forward(this.options.brokerId, r.entryId, t, target, ran ? r.attempt + 1 : r.attempt).then(
        () => undefined,
        (err: unknown) => this.options.log.warn({ err, task_id: t.task_id }, "handing a task back to the mesh failed; it stays pending for reclaim"),
      ),
    );
    return true;
  }

  /**
   * A running entry's task ended here. Its result is stored for the origin unless the entry was
   * handed back or taken by a survivor; when this broker may have been taken for dead, it first
   * checks that the entry is still its own [TASK-5].
   */
  private finish(r: Running, outcome: RemoteOutcome): void {
    if (this.running.get(r.task.task_id) === r) this.running.delete(r.task.task_id);
    if (r.lost || r.handedBack) return;
    const result: StoredResult = {
      broker: this.options.brokerId,
      entryId: r.entryId,
      task: r.task,
      body: encodeOutcome({ ...outcome, attempt: outcome.attempt ?? r.task.attempt, owner: r.task.owner }),
      since: Date.now(),
    };
    if (this.safe(r)) this.queueStore(result);
    else void this.own([[r, 0]]).then(() => (r.lost ? undefined : this.queueStore(result)));
  }

  /** Whether Redis has been reachable long enough for a live broker to have refreshed its liveness. */
  private othersHadTime(now: number): boolean {
    return now - this.readySince > RECONNECT_MAX_MS + 3 * this.livenessMs;
  }

  /** Whether no survivor can have claimed this entry (see `aliveUntil`). */
  private safe(r: Running): boolean {
    const now = Date.now();
    return now < r.safeUntil || (!r.suspect && now < this.aliveUntil);
  }

  /** Checks every running entry (after a pause); entries a survivor took are stopped here. */
  private verifyAll(): Promise<void> {
    this.verifying ??= this.own([...this.running.values()].filter((r) => !r.lost).map((r): [Running, number] => [r, 0])).finally(() => (this.verifying = undefined));
    return this.verifying;
  }

  /**
   * own-2 for these entries (with the attempt to record, or 0); retried while Redis is unreachable.
   * An owned entry is safe for another liveness TTL; a taken one is marked lost and its local run
   * cancelled.
   */
  private async own(list: [Running, number][]): Promise<void> {
    for (let i = 0; i < list.length; i += STORE_CHUNK) {
      const chunk = list.slice(i, i + STORE_CHUNK);
      const pairs: (string | number)[] = [];
      for (const [r, attempt] of chunk) pairs.push(r.entryId, attempt);
      for (;;) {
        const sent = Date.now();
        try {
          const owned = await this.cmd.own(this.keys.tasks, this.keys.attempts, CONSUMER_GROUP, this.options.brokerId, ...pairs);
          chunk.forEach(([r, attempt], j) => {
            if (owned[j] === 1) {
              r.safeUntil = sent + 2 * this.livenessMs;
              r.suspect = false;
              if (attempt > r.attempt) r.attempt = attempt;
            } else this.lose(r);
          });
          break;
        } catch (err) {
          if (!this.live) return;
          this.options.log.warn({ err, entries: chunk.length }, "checking ownership of running tasks failed; retrying");
          await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS));
        }
      }
    }
  }

  private lose(r: Running): void {
    if (r.lost) return;
    r.lost = true;
    this.options.log.warn({ task_id: r.task.task_id, entry: r.entryId }, "another broker took over a task this broker was running (it seemed dead); stopping it here");
    this.host!.cancelRun(r.task.origin_broker, r.task.task_id, "taken over by another broker");
  }

  /** A control entry from another broker, to the host's typed inbound side. */
  private onControl(e: MeshControl): void {
    const host = this.host!;
    switch (e.k) {
      case "drain":
        return host.drainAgent(e.agent, e.cause);
      case "cancel":
        return host.cancelRun(e.origin, e.task, e.reason);
      case "moved":
        return host.taskMoved(e.task, e.to, e.attempt);
      case "progress":
        return host.remoteProgress(e.task, e.attempt, unb64(e.data));
      case "message":
        return host.deliverMessage(e.to, e.from, unb64(e.payload), e.cid, carriedParts(e.tp, e.ts));
      case "request":
        return host.serveRequest({ origin: e.origin, id: e.id, to: e.to, cap: e.cap, from: e.from, payload: unb64(e.payload), deadline: e.deadline, trace: carriedParts(e.tp, e.ts) });
      case "response":
        return host.requestAnswered(e.id, { ok: e.ok, payload: e.payload === undefined ? undefined : unb64(e.payload), error: e.error, trace: carriedParts(e.tp, e.ts) });
    }
  }

  /** Keeps a store or hand-back in flight until it settles, so `close` waits for it. */
  private track(p: Promise<void>): void {
    const q: Promise<void> = p.finally(() => this.storing.delete(q));
    this.storing.add(q);
  }

  private queueStore(r: StoredResult): void {
    let batch = this.stores.get(r.task.origin_broker);
    if (batch === undefined) this.stores.set(r.task.origin_broker, (batch = []));
    batch.push(r);
    if (!this.storeScheduled) {
      this.storeScheduled = true;
      this.defer(this.flushStores);
    }
  }

  private readonly flushStores = (): void => {
    this.storeScheduled = false;
    for (const [origin, batch] of this.stores) {
      for (let i = 0; i < batch.length; i += STORE_CHUNK) this.track(this.store(origin, batch.slice(i, i + STORE_CHUNK)));
    }
    this.stores.clear();
  };

  /** Store first, acknowledge second: a crash in between means a rerun, never a lost result. */
  private async store(origin: string, batch: StoredResult[]): Promise<void> {
    const keys = brokerKeys(origin);
    const args: (string | number | Buffer)[] = [keys.ready];
    for (const r of batch) args.push(keys.response(r.task.task_id));
    args.push(keys.open);
    for (const r of batch) args.push(r.task.task_id, r.task.timeout_ms + this.marginMs, r.body);
    try {
      await this.cmd.storeResponses(batch.length + 2, ...args);
    } catch (err) {
      // Redis unreachable for a moment: try again for up to the response margin (the origin's deadline
      // ends the task meanwhile if it must); after that the entries stay pending, for reclaim.
      const now = Date.now();
      const again = batch.filter((r) => now - r.since < this.marginMs);
      this.options.log.warn({ err, origin, tasks: batch.length, retrying: again.length }, "storing remote results failed");
      if (this.live && again.length > 0) setTimeout(() => again.forEach((r) => this.queueStore(r)), STORE_RETRY_MS);
      return;
    }
    const byBroker = new Map<string, string[]>();
    for (const r of batch) {
      const ids = byBroker.get(r.broker);
      if (ids === undefined) byBroker.set(r.broker, [r.entryId]);
      else ids.push(r.entryId);
    }
    for (const [broker, ids] of byBroker) {
      const k = brokerKeys(broker);
      await this.cmd.ack(k.tasks, k.attempts, CONSUMER_GROUP, ...ids).catch((err: unknown) => this.options.log.warn({ err, broker }, "acknowledging stored results failed; reclaim may run them again"));
    }
  }

  /** After a failed blocking read: wait until the connection is ready again (or a short while). */
  private backoff(conn: Redis): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        conn.off("ready", done);
        resolve();
      };
      const timer = setTimeout(done, 500);
      conn.once("ready", done);
      this.storeTrouble = true;
    });
  }
}
