/**
 * The chaos test's client: one raw-wire session (`ws` + @agentwire/wire) in the harness process that
 * keeps `inflight` tasks open, each with a unique `idempotency_key` (its key) and input `{ key }`.
 *
 * Counting is only what this session actually received: a `result` counts for the key whose task id
 * came back in an `accepted` on this client (any connection of it); a result the broker wrote to a
 * connection that died before it arrived was never received and is not counted.
 *
 * When the connection drops it reconnects with backoff — to its own broker, or after `failoverMs`
 * without it to the others in turn — and re-attaches to every open key by resubmitting it with the same
 * idempotency key (SPEC TASK-26/28: a repeated key returns the first task and, once ended, its
 * result). A submit refused with `error` (shutting_down, no_agents, overloaded) is sent again after a
 * short pause on the same connection.
 */
import WebSocket from "ws";
import { SUBPROTOCOL, decode, decodePayload, encode, encodePayload, type Frame } from "@agentwire/wire";

export interface ClientOptions {
  /** The client's own broker (A) first, then the others to fail over to. */
  urls: readonly string[];
  capability: string;
  inflight: number;
  maxAttempts: number;
  timeoutMs: number;
  /** Prefix of every key (unique per run). */
  keyPrefix: string;
  /** Down this long without reaching urls[0]: try the others too. */
  failoverMs: number;
  /** Pause before a refused submit is sent again. */
  retryMs?: number;
  log: (line: string) => void;
}

export interface AcceptedRecord {
  taskId: string;
  duplicate: boolean;
  at: number;
  conn: number;
}

export interface ResultRecord {
  taskId: string;
  ok: boolean;
  code: string | undefined;
  message: string | undefined;
  /** `output.key` (undefined: no output or not decodable). */
  outputKey: string | undefined;
  outputTaskId: string | undefined;
  attempt: number | undefined;
  /** The result's `ref` is one this client sent for the same key. */
  refMatches: boolean;
  at: number;
  conn: number;
  url: string;
}

export interface KeyRecord {
  key: string;
  createdAt: number;
  /** When the first `submit` for it was written (0: never). */
  firstSentAt: number;
  sends: number;
  /** Connection the last submit went out on (-1: none since the last reconnect). */
  sentOn: number;
  /** An `accepted` or a refusal answered the last submit. */
  answered: boolean;
  refs: string[];
  accepted: AcceptedRecord[];
  refusals: { code: string; at: number }[];
  results: ResultRecord[];
}

/** A `result` whose task id no `accepted` of this client named. */
export interface StrayResult {
  taskId: string;
  ref: string | undefined;
  ok: boolean;
  at: number;
}

export class ChaosClient {
  readonly keys = new Map<string, KeyRecord>();
  readonly strays: StrayResult[] = [];
  /** Task ids named by `accepted` for two different keys. */
  readonly sharedTaskIds: { taskId: string; keys: [string, string] }[] = [];
  /** `error` frames that matched no open submit. */
  readonly otherErrors: string[] = [];
  readonly connections: { n: number; url: string; openedAt: number; registeredAt: number; closedAt: number; code: number }[] = [];
  private readonly taskToKey = new Map<string, string>();
  private readonly refToKey = new Map<string, string>();
  private seq = 0;
  private open = 0;
  private submitting = false;
  private closed = false;
  private ws: WebSocket | undefined;
  private conn = 0;
  private ready = false;
  private readyUrl = "";
  private heartbeat: NodeJS.Timeout | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private downSince = 0;
  private attempt = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private servedWaiters: { since: number; resolve: (at: number) => void }[] = [];
  private drainedWaiters: (() => void)[] = [];
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly o: ClientOptions) {}

  /** Connects; resolves once registered (or rejects after `timeoutMs`). */
  start(timeoutMs = 15_000): Promise<void> {
    this.downSince = Date.now();
    this.connect();
    return this.whenReady(timeoutMs);
  }

  get registered(): boolean {
    return this.ready;
  }

  /** Keys without a result. */
  get openKeys(): number {
    return this.open;
  }

  /** Starts (or resumes) keeping `inflight` keys open. */
  startSubmitting(): void {
    this.submitting = true;
    this.fill();
  }

  /** No new keys from now on; open ones are still resubmitted until they are answered. */
  stopSubmitting(): void {
    this.submitting = false;
  }

  /** One key beyond `inflight` (so a fresh task exists after a fault even when every slot is stuck). */
  kick(): void {
    if (!this.closed) this.newKey();
  }

  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client: not registered within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * The arrival time of the first ok result of a key first submitted after `since`, or undefined
   * after `timeoutMs`.
   */
  servedAfter(since: number, timeoutMs: number): Promise<number | undefined> {
    for (const k of this.keys.values()) {
      const r = k.firstSentAt > since ? k.results.find((x) => x.ok) : undefined;
      if (r !== undefined) return Promise.resolve(r.at);
    }
    return new Promise((resolve) => {
      const waiter = { since, resolve: (at: number | undefined) => (clearTimeout(timer), resolve(at)) };
      const timer = setTimeout(() => {
        this.servedWaiters = this.servedWaiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      this.servedWaiters.push(waiter);
    });
  }

  /** Resolves true once every key has a result, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.open === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.open === 0), timeoutMs);
      this.drainedWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.closed = true;
    this.submitting = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.registerTimer);
    clearInterval(this.heartbeat);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.ws?.terminate();
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.pickUrl();
    const n = ++this.conn;
    const record = { n, url, openedAt: 0, registeredAt: 0, closedAt: 0, code: 0 };
    this.connections.push(record);
    const ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false, handshakeTimeout: 2_000 });
    ws.binaryType = "nodebuffer";
    this.ws = ws;
    ws.on("open", () => {
      record.openedAt = Date.now();
      ws.send(encode({ type: "register", name: "chaos-client" }));
      // A broker that took the connection but never answers (e.g. stopped) is given up on.
      this.registerTimer = setTimeout(() => ws.terminate(), 3_000);
    });
    ws.on("message", (data: Buffer) => {
      if (this.ws !== ws) return;
      let f: Frame;
      try {
        f = decode(data, { maxFrameBytes: 64 << 20 });
      } catch (err) {
        this.otherErrors.push(`invalid frame: ${(err as Error).message}`);
        return;
      }
      this.onFrame(f, n, url, record);
    });
    ws.on("error", () => undefined); // followed by close
    ws.on("unexpected-response", (_req, res) => {
      this.o.log(`client: ${url} refused the upgrade (HTTP ${res.statusCode ?? 0})`);
      ws.terminate();
    });
    ws.on("close", (code) => {
      if (this.ws !== ws) return;
      record.closedAt = Date.now();
      record.code = code;
      clearTimeout(this.registerTimer);
      clearInterval(this.heartbeat);
      const wasReady = this.ready;
      this.ready = false;
      this.ws = undefined;
      for (const k of this.keys.values()) k.sentOn = -1;
      if (wasReady && !this.closed) {
        this.downSince = Date.now();
        this.backoffMs = 0;
        this.o.log(`client: connection ${n} to ${url} closed (${code}); ${this.open} keys open`);
      }
      if (!this.closed) this.scheduleReconnect();
    });
  }

  /** Its own broker first; down longer than `failoverMs`, the others in turn. */
  private pickUrl(): string {
    const urls = this.o.urls;
    if (Date.now() - this.downSince < this.o.failoverMs || urls.length === 1) return urls[0]!;
    return urls[this.attempt++ % urls.length]!;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.backoffMs = this.backoffMs === 0 ? 50 : Math.min(500, this.backoffMs * 2);
    const delay = this.backoffMs * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private onFrame(f: Frame, n: number, url: string, record: { registeredAt: number }): void {
    const now = Date.now();
    switch (f.type) {
      case "registered": {
        clearTimeout(this.registerTimer);
        record.registeredAt = now;
        this.ready = true;
        this.readyUrl = url;
        if (n > 1) this.o.log(`client: connection ${n} registered on ${url} (${f.broker_id}); resubmitting ${this.open} open keys`);
        this.heartbeat = setInterval(() => this.send({ type: "heartbeat" }), f.heartbeat_interval_ms);
        for (const w of this.readyWaiters.splice(0)) w();
        // Re-attach to every open key (same idempotency key), then top up.
        for (const k of this.keys.values()) if (k.results.length === 0) this.submit(k);
        this.fill();
        return;
      }
      case "accepted": {
        const key = this.refToKey.get(f.ref);
        if (key === undefined) {
          this.otherErrors.push(`accepted for unknown ref ${f.ref}`);
          return;
        }
        const k = this.keys.get(key)!;
        k.answered = true;
        k.accepted.push({ taskId: f.task_id, duplicate: f.duplicate === true, at: now, conn: n });
        const other = this.taskToKey.get(f.task_id);
        if (other !== undefined && other !== key) this.sharedTaskIds.push({ taskId: f.task_id, keys: [other, key] });
        else this.taskToKey.set(f.task_id, key);
        return;
      }
      case "result":
        return this.onResult(f, n, url, now);
      case "error": {
        const key = f.ref === undefined ? undefined : this.refToKey.get(f.ref);
        const k = key === undefined ? undefined : this.keys.get(key);
        if (k === undefined || k.answered || k.refs[k.refs.length - 1] !== f.ref) {
          this.otherErrors.push(`${f.code} (ref ${f.ref ?? "-"}): ${f.message}`);
          return;
        }
        k.answered = true;
        k.refusals.push({ code: f.code, at: now });
        // Refused: nothing was created; send it again shortly on this connection (a reconnect resends anyway).
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          if (this.ready && this.conn === n && k.results.length === 0 && k.sentOn === n) this.submit(k);
        }, this.o.retryMs ?? 100);
        this.retryTimers.add(timer);
        return;
      }
      default:
        return; // ack, goaway (the broker closes after its grace; we reconnect then), others
    }
  }

  private onResult(f: Extract<Frame, { type: "result" }>, n: number, url: string, now: number): void {
    const key = this.taskToKey.get(f.task_id);
    if (key === undefined) {
      this.strays.push({ taskId: f.task_id, ref: f.ref, ok: f.ok, at: now });
      return;
    }
    const k = this.keys.get(key)!;
    let outputKey: string | undefined;
    let outputTaskId: string | undefined;
    if (f.output !== undefined) {
      try {
        const out = decodePayload<{ key?: unknown; task_id?: unknown }>(f.output);
        outputKey = typeof out?.key === "string" ? out.key : undefined;
        outputTaskId = typeof out?.task_id === "string" ? out.task_id : undefined;
      } catch {
        // counted as foreign below (no key)
      }
    }
    k.results.push({
      taskId: f.task_id,
      ok: f.ok,
      code: f.ok ? undefined : f.error?.code,
      message: f.ok ? undefined : f.error?.message,
      outputKey,
      outputTaskId,
      attempt: f.attempt,
      refMatches: f.ref !== undefined && k.refs.includes(f.ref),
      at: now,
      conn: n,
      url,
    });
    if (k.results.length > 1) return;
    this.open--;
    if (f.ok) {
      const due = this.servedWaiters.filter((w) => k.firstSentAt > w.since);
      this.servedWaiters = this.servedWaiters.filter((w) => k.firstSentAt <= w.since);
      for (const w of due) w.resolve(now);
    }
    if (this.open === 0) for (const w of this.drainedWaiters.splice(0)) w();
    this.fill();
  }

  private fill(): void {
    while (this.submitting && !this.closed && this.open < this.o.inflight) this.newKey();
  }

  private newKey(): void {
    const key = `${this.o.keyPrefix}-${(++this.seq).toString().padStart(6, "0")}`;
    const k: KeyRecord = { key, createdAt: Date.now(), firstSentAt: 0, sends: 0, sentOn: -1, answered: false, refs: [], accepted: [], refusals: [], results: [] };
    this.keys.set(key, k);
    this.open++;
    if (this.ready) this.submit(k);
  }

  private submit(k: KeyRecord): void {
    const ref = `${k.key}.${++k.sends}`;
    k.refs.push(ref);
    k.answered = false;
    this.refToKey.set(ref, k.key);
    if (!this.send({
      type: "submit",
      ref,
      capability: this.o.capability,
      input: encodePayload({ key: k.key }),
      idempotency_key: k.key,
      max_attempts: this.o.maxAttempts,
      timeout_ms: this.o.timeoutMs,
    })) {
      k.sends--;
      k.refs.pop();
      this.refToKey.delete(ref);
      return;
    }
    k.sentOn = this.conn;
    if (k.firstSentAt === 0) k.firstSentAt = Date.now();
  }

  private send(frame: Frame): boolean {
    const ws = this.ws;
    if (ws === undefined || !this.ready || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encode(frame));
    return true;
  }

  /** The URL of the broker the client is registered on ("" while down). */
  get url(): string {
    return this.ready ? this.readyUrl : "";
  }
}
