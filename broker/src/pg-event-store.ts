/**
 * The PostgreSQL event store (`--events postgres://...`): one append-only table shared by every broker
 * of a mesh (broker/sql/001_events.sql, applied on start as a versioned migration).
 *
 * Appends never wait on the database: `append` puts the event in a bounded buffer, and one batch at a
 * time is written by one call of `agentwire_append` (a multi-row INSERT), as soon as the previous one
 * is done — so batches grow with the load. While the database is down or slow the buffer fills; past
 * `--events-buffer` new events are dropped and counted (metrics, `/readyz` detail, a log line), and
 * writing resumes, oldest first, once the database answers again. A batch whose answer was lost is
 * sent again with the same event ids, which the database skips: nothing is recorded twice.
 *
 * Readers page through the table in position order. Appends are serialised by an advisory lock inside
 * `agentwire_append`, so positions are handed out in commit order and a live tail reading "after p"
 * never misses an event that commits later with a smaller position.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import type { Logger } from "pino";
import { OverloadedError } from "@agentwire/wire";
import type { BusEvent } from "./events.js";
import { streamOf, type EventQuery, type EventStore, type EventStoreHealth, type StoredEvent } from "./event-store.js";

/** Schema versions, applied in order; each file records its version in agentwire_schema. */
const MIGRATIONS = [{ version: 1, file: new URL("../../sql/001_events.sql", import.meta.url) }];
/** Held while migrating, so brokers starting together apply each version once. */
const MIGRATION_LOCK = 7420000;
/** Events per INSERT: one call's arrays stay a few hundred KiB. */
const BATCH_MAX = 2_000;
const READ_PAGE = 1_000;
/** Backoff between failed writes. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
/** While someone follows the tail, how often other brokers' events are looked for. */
const POLL_MS = 200;
/** How long a durable submit waits for its event to be written (then it is refused, nothing ran). */
export const DURABLE_PATIENCE_MS = 5_000;
const PRUNE_BATCH = 5_000;
/** How long a read waits for this broker's buffered events to be written first. */
const READ_YOUR_WRITES_MS = 2_000;
/** How long closing waits for the buffered events to be written. */
const CLOSE_FLUSH_MS = 2_000;

interface Pending {
  readonly seq: number;
  readonly event: BusEvent;
  waiter?: Waiter;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  expired: boolean;
  timer: NodeJS.Timeout;
}

export interface PostgresStoreOptions {
  url: string;
  /** Prefix of this process's event ids (broker id, incarnation): ids are unique across brokers and restarts. */
  idPrefix: string;
  bufferMax: number;
  retentionMs: number;
  log: Logger;
}

interface Row {
  position: string;
  event_id: string;
  stream: string;
  stream_position: number;
  type: string;
  broker_id: string;
  data: BusEvent;
  payload: Buffer | null;
}

export class PostgresEventStore implements EventStore {
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  /** Appended, not yet sent; the batch being written is `inflight`. */
  private buffer: Pending[] = [];
  private inflight: Pending[] | undefined;
  private seq = 0;
  /** The last event appended: a durable submit waits for it. */
  private last: { seq: number; dropped: boolean } | undefined;
  private written = 0;
  private dropped = 0;
  /** Dropped since the store last wrote, for one log line per outage. */
  private droppedInOutage = 0;
  private ok = false;
  private error: string | undefined = "not started";
  private migrated = false;
  private closed = false;
  private scheduled = false;
  private backoff = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private listeners: (() => void)[] = [];
  /** Waiting for this broker's events up to `seq` to be written (`caughtUp`). */
  private barriers: { seq: number; resolve: () => void }[] = [];

  constructor(private readonly options: PostgresStoreOptions) {
    this.log = options.log.child({ component: "event-store" });
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: 4,
      connectionTimeoutMillis: 3_000,
      // A paused or partitioned server: the write is given up and sent again (its ids make that safe).
      query_timeout: 10_000,
      idleTimeoutMillis: 10_000,
      application_name: "agentwire-broker",
    });
    // An idle connection that breaks (server restarted) must not end the process.
    this.pool.on("error", (err) => this.log.debug({ err }, "idle event store connection failed"));
  }

  async start(): Promise<void> {
    try {
      await this.migrate();
    } catch (err) {
      // Routing does not wait for the database: events are buffered (then dropped) until it answers.
      const first = this.error !== errorText(err);
      this.failed(err);
      // Once per distinct error: a database that stays away does not flood the log.
      if (first) this.log.error({ err: this.error }, "event store: cannot prepare the database; retrying");
      this.retry(() => void this.start().catch(() => undefined));
      return;
    }
    this.migrated = true;
    this.ok = true;
    this.error = undefined;
    this.schedule();
    if (this.options.retentionMs > 0 && this.pruneTimer === undefined) {
      const every = Math.min(60_000, Math.max(1_000, Math.floor(this.options.retentionMs / 10)));
      this.pruneTimer = setInterval(() => void this.prune(), every);
      this.pruneTimer.unref();
    }
  }

  /** Applies the schema versions the database lacks, in one transaction, under a lock. */
  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query("CREATE TABLE IF NOT EXISTS agentwire_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
      const { rows } = await client.query<{ version: number }>("SELECT version FROM agentwire_schema");
      const applied = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await client.query(readFileSync(m.file, "utf8"));
        this.log.info({ version: m.version }, "event store: schema migrated");
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  health(): EventStoreHealth {
    return { store: "postgres", ok: this.ok, buffered: this.buffer.length + (this.inflight?.length ?? 0), written: this.written, dropped: this.dropped, error: this.ok ? undefined : this.error };
  }

  append(event: BusEvent): void {
    const seq = ++this.seq;
    if (this.closed || this.buffer.length + (this.inflight?.length ?? 0) >= this.options.bufferMax) {
      this.dropped++;
      if (this.droppedInOutage++ === 0) this.log.warn({ buffered: this.options.bufferMax, error: this.error }, "event store: buffer full, dropping events until the database catches up");
      this.last = { seq, dropped: true };
      return;
    }
    this.buffer.push({ seq, event });
    this.last = { seq, dropped: false };
    this.schedule();
  }

  committed(): Promise<void> {
    const last = this.last;
    if (last === undefined) return Promise.resolve();
    if (last.dropped) return Promise.reject(this.refused());
    // An event leaves the buffer and the batch in flight only once written (or refused, with its waiter told).
    const entry = this.buffer.findLast((p) => p.seq === last.seq) ?? this.inflight?.find((p) => p.seq === last.seq);
    if (entry === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        expired: false,
        timer: setTimeout(() => {
          // Still only buffered: taken back, so it is never written for a task that was refused.
          const i = this.buffer.indexOf(entry);
          if (i !== -1) {
            this.buffer.splice(i, 1);
            reject(this.refused());
          } else waiter.expired = true; // being written: its batch decides
        }, DURABLE_PATIENCE_MS),
      };
      entry.waiter = waiter;
    });
  }

  private refused(): Error {
    return new OverloadedError(`the event store cannot record the task now (${this.error ?? "buffer full"}); submit again`);
  }

  private schedule(): void {
    if (this.scheduled || this.inflight !== undefined || this.retryTimer !== undefined || !this.migrated || this.buffer.length === 0) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  /** Writes the oldest buffered events as one batch, then the next, until the buffer is empty. */
  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.inflight !== undefined || this.buffer.length === 0) return;
    const batch = this.buffer.length <= BATCH_MAX ? this.buffer : this.buffer.slice(0, BATCH_MAX);
    this.buffer = batch === this.buffer ? [] : this.buffer.slice(BATCH_MAX);
    this.inflight = batch;
    let stored = 0;
    try {
      const { rows } = await this.pool.query<{ stored: number }>("SELECT agentwire_append($1, $2, $3) AS stored", [this.options.idPrefix, batchJson(batch), batch.at(-1)!.seq]);
      // Fewer than sent: part of it was stored by an earlier try whose answer was lost.
      stored = rows[0]!.stored;
    } catch (err) {
      this.inflight = undefined;
      if (isDataError(err)) {
        // Not the database's availability but this batch's content: sending it again cannot help.
        this.log.error({ err, events: batch.length }, "event store: the database refused a batch; dropped");
        this.dropped += batch.length;
        this.settle(batch, this.refused());
      } else {
        const kept = batch.filter((p) => p.waiter?.expired !== true);
        this.settle(batch.filter((p) => p.waiter?.expired === true), this.refused());
        this.buffer = kept.concat(this.buffer);
        if (this.ok) this.log.warn({ err: errorText(err), buffered: this.buffer.length }, "event store: write failed; buffering and retrying");
        this.failed(err);
        this.retry(() => this.schedule());
        return;
      }
    }
    this.inflight = undefined;
    if (!this.ok || this.droppedInOutage > 0) this.log.info({ dropped: this.droppedInOutage }, "event store: writing again");
    this.ok = true;
    this.error = undefined;
    this.backoff = 0;
    this.droppedInOutage = 0;
    this.written += stored;
    if (this.barriers.length > 0) {
      const upTo = batch.at(-1)!.seq;
      const ready = this.barriers.filter((b) => b.seq <= upTo);
      this.barriers = this.barriers.filter((b) => b.seq > upTo);
      for (const b of ready) b.resolve();
    }
    this.settle(batch);
    for (const l of this.listeners) l();
    this.schedule();
  }

  /** A batch is done (written, or given up with `err`): every waiter in it is answered. */
  private settle(batch: Pending[], err?: Error): void {
    for (const p of batch) {
      if (p.waiter === undefined) continue;
      clearTimeout(p.waiter.timer);
      if (err === undefined) p.waiter.resolve();
      else p.waiter.reject(err);
    }
  }

  private failed(err: unknown): void {
    this.ok = false;
    this.error = errorText(err);
  }

  private retry(then: () => void): void {
    if (this.closed) return;
    this.backoff = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.backoff * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      then();
    }, this.backoff);
    this.retryTimer.unref();
  }

  onAppend(listener: () => void): () => void {
    this.listeners = [...this.listeners, listener];
    // Other brokers of the mesh write here too: look for their events while someone follows.
    this.pollTimer ??= setInterval(() => {
      for (const l of this.listeners) l();
    }, POLL_MS);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      if (this.listeners.length === 0 && this.pollTimer !== undefined) {
        clearInterval(this.pollTimer);
        this.pollTimer = undefined;
      }
    };
  }

  async head(): Promise<number> {
    const { rows } = await this.pool.query<{ head: string }>("SELECT COALESCE(max(position), 0) AS head FROM agentwire_events");
    return Number(rows[0]!.head);
  }

  /**
   * Resolves once every event this broker buffered so far is written, or after `timeoutMs` (the
   * database is down or slow): a read through this broker then includes what it recorded before.
   */
  private caughtUp(timeoutMs: number): Promise<void> {
    // The newest event not yet written, if any: batches leave the buffer's head in order.
    const seq = this.buffer.at(-1)?.seq ?? this.inflight?.at(-1)?.seq;
    if (seq === undefined || !this.ok) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.barriers.push({ seq, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async *read(query: EventQuery): AsyncIterable<StoredEvent> {
    await this.caughtUp(READ_YOUR_WRITES_MS);
    const limit = query.limit ?? Infinity;
    let after = query.after ?? 0;
    let n = 0;
    if (query.from !== undefined) {
      // Start at the first event of the range (found through the BRIN index), not at the table's start.
      const { rows } = await this.pool.query<{ first: string | null }>(
        "SELECT min(position) AS first FROM agentwire_events WHERE recorded_at >= 'epoch'::timestamptz + $1 * interval '1 millisecond'",
        [query.from],
      );
      if (rows[0]!.first === null) return;
      after = Math.max(after, Number(rows[0]!.first) - 1);
    }
    const [where, values] = conditions(query);
    while (n < limit) {
      const page = Math.min(READ_PAGE, limit - n);
      const { rows } = await this.pool.query<Row>(
        `SELECT position, event_id, stream, stream_position, type, broker_id, data, payload FROM agentwire_events
         WHERE position > $1${where} ORDER BY position LIMIT ${page}`,
        [after, ...values],
      );
      for (const row of rows) {
        after = Number(row.position);
        n++;
        const data = row.data;
        if (row.payload !== null) (data as { payload?: Uint8Array }).payload = new Uint8Array(row.payload);
        yield { position: after, event_id: row.event_id, stream: row.stream, stream_position: row.stream_position, type: row.type, at: data.at, broker_id: row.broker_id, data };
      }
      if (rows.length < page) return;
    }
  }

  /** Deletes events older than the retention, a batch at a time (writers are never blocked: row locks only). */
  private async prune(): Promise<void> {
    if (!this.migrated || this.closed) return;
    try {
      for (;;) {
        const { rowCount } = await this.pool.query(
          `DELETE FROM agentwire_events WHERE position IN (
             SELECT position FROM agentwire_events WHERE recorded_at < now() - $1 * interval '1 millisecond' ORDER BY recorded_at, position LIMIT ${PRUNE_BATCH})`,
          [this.options.retentionMs],
        );
        if ((rowCount ?? 0) < PRUNE_BATCH || this.closed) return;
      }
    } catch (err) {
      this.log.warn({ err: errorText(err) }, "event store: pruning failed; trying again later");
    }
  }

  /** Writes what is buffered (up to 2 s, while the database answers), then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.caughtUp(CLOSE_FLUSH_MS);
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pollTimer);
    clearInterval(this.pruneTimer);
    this.settle([...(this.inflight ?? []), ...this.buffer], new Error("event store closed"));
    this.buffer = [];
    await this.pool.end().catch(() => undefined);
  }
}

/**
 * The batch as the JSON array agentwire_append takes: one string, built without a replacer (the
 * common case); an event whose text needs care (bytes in error details, NUL characters) goes through
 * `jsonSafe`.
 */
function batchJson(batch: readonly Pending[]): string {
  let out = "[";
  for (let i = 0; i < batch.length; i++) {
    const { seq, event } = batch[i]!;
    const payload = "payload" in event ? event.payload : undefined;
    let data: string;
    if (payload === undefined && !("error" in event && event.error?.details !== undefined)) {
      data = JSON.stringify(event);
      if (data.includes("\\u0000")) data = JSON.stringify(event, jsonSafe);
    } else data = JSON.stringify(event, jsonSafe);
    const bytes = payload === undefined ? "null" : `"${Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64")}"`;
    if (i > 0) out += ",";
    out += `{"n":${seq},"stream":${JSON.stringify(streamOf(event))},"type":"${event.type}","at":${event.at},"broker":${JSON.stringify(event.broker_id)},"data":${data},"payload":${bytes},"meta":${metaJson(event)}}`;
  }
  return `${out}]`;
}

function metaJson(event: BusEvent): string {
  const meta = metadata(event);
  const text = JSON.stringify(meta);
  return text.includes("\\u0000") ? JSON.stringify(meta, jsonSafe) : text;
}

/** Who and what an event concerns, for an operator's own queries. */
function metadata(e: BusEvent): Record<string, string | undefined> {
  if ("run_id" in e) return { broker_id: e.broker_id, correlation_id: e.run_id, causation: e.step };
  if ("task_id" in e) return { broker_id: e.broker_id, agent_id: e.agent_id, correlation_id: e.task_id, causation: e.cause, traceparent: e.traceparent };
  if ("status" in e) return { broker_id: e.broker_id, agent_id: e.agent_id, causation: e.cause };
  if ("pool" in e) return { broker_id: e.broker_id, correlation_id: e.pool, causation: e.reason };
  return { broker_id: e.broker_id, agent_id: e.from, correlation_id: e.request_id, traceparent: e.traceparent };
}

/** JSON for the database: no payload bytes (their own column), other bytes as base64, no NUL characters (PostgreSQL text refuses \u0000). */
function jsonSafe(key: string, value: unknown): unknown {
  if (key === "payload") return undefined;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  if (typeof value === "string" && value.includes("\u0000")) return value.replaceAll("\u0000", "\uFFFD");
  if (typeof value === "bigint") return Number(value);
  return value;
}

/** SQL conditions (after `position > $1`) and their values for a query's filters. */
function conditions(q: EventQuery): [string, unknown[]] {
  const values: unknown[] = [];
  let sql = "";
  const param = (v: unknown): string => {
    values.push(v);
    return `$${values.length + 1}`;
  };
  if (q.from !== undefined) sql += ` AND recorded_at >= 'epoch'::timestamptz + ${param(q.from)} * interval '1 millisecond'`;
  if (q.to !== undefined) sql += ` AND recorded_at < 'epoch'::timestamptz + ${param(q.to)} * interval '1 millisecond'`;
  if (q.types !== undefined && q.types.length > 0) sql += ` AND type = ANY(${param(q.types)}::text[])`;
  if (q.task !== undefined) sql += ` AND stream = ${param(`task-${q.task}`)}`;
  if (q.agent !== undefined) {
    const p = param(q.agent);
    sql += ` AND (data->>'agent_id' = ${p} OR data->>'from' = ${p} OR data->>'to' = ${p})`;
  }
  if (q.capability !== undefined) {
    const p = param(q.capability);
    sql += ` AND (data->>'capability' = ${p} OR (data->'capabilities')::jsonb ? ${p})`;
  }
  return [sql, values];
}

/** Errors about a batch's content (SQLSTATE classes 22 data, 23 integrity, 42 syntax/access), not availability. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && /^(22|23|42)/.test(code);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
