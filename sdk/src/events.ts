/**
 * The broker's recorded events (SPEC HTTP-15, docs/events.md), read over its HTTP API on the same port
 * as the WebSocket: a replay by time range and filters, and the live tail.
 */
import { errorFromCode, type RecordedEvent } from "@agentwire/wire";

export interface EventQuery {
  /** From this time (inclusive). */
  from?: Date | number;
  /** Before this time. */
  to?: Date | number;
  /** Only these types, e.g. "task.succeeded". */
  type?: string | readonly string[];
  task?: string;
  agent?: string;
  capability?: string;
  /** Only events after this position. */
  after?: number;
  /** At most this many (replay only). */
  limit?: number;
}

export interface EventReadOptions {
  /** Ends the iteration (a replay early, a tail whenever). */
  signal?: AbortSignal;
}

/** The HTTP base of a broker's WebSocket URL: ws://host:port/… → http://host:port. */
export function httpBase(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return url.origin;
}

function params(query: EventQuery): URLSearchParams {
  const p = new URLSearchParams();
  const time = (t: Date | number): string => String(t instanceof Date ? t.getTime() : t);
  if (query.from !== undefined) p.set("from", time(query.from));
  if (query.to !== undefined) p.set("to", time(query.to));
  if (query.type !== undefined) p.set("type", typeof query.type === "string" ? query.type : query.type.join(","));
  for (const key of ["task", "agent", "capability"] as const) if (query[key] !== undefined) p.set(key, query[key]);
  if (query.after !== undefined) p.set("after", String(query.after));
  if (query.limit !== undefined) p.set("limit", String(query.limit));
  return p;
}

async function open(url: string, token: string | undefined, signal: AbortSignal | undefined, headers: Record<string, string> = {}): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const res = await fetch(url, { headers: token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` }, signal });
  if (!res.ok || res.body === null) {
    const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
    throw errorFromCode(body?.error?.code ?? "internal", body?.error?.message ?? `HTTP ${res.status} from ${url}`);
  }
  return res.body.getReader();
}

/** Splits a byte stream into pieces ending with `separator`, decoded as UTF-8. */
async function* pieces(reader: ReadableStreamDefaultReader<Uint8Array>, separator: string): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf(separator)) >= 0) {
        yield buffered.slice(0, end);
        buffered = buffered.slice(end + separator.length);
      }
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}

/** Recorded events matching `query`, oldest first (GET /v1/events, NDJSON). */
export async function* replayEvents(base: string, token: string | undefined, query: EventQuery, options: EventReadOptions = {}): AsyncGenerator<RecordedEvent> {
  const reader = await open(`${base}/v1/events?${params(query).toString()}`, token, options.signal);
  for await (const line of pieces(reader, "\n")) if (line !== "") yield JSON.parse(line) as RecordedEvent;
}

/**
 * The live tail (GET /v1/events?follow, Server-Sent Events): events as they are recorded, from now or
 * after `query.after`. A dropped connection is opened again with the last position as `Last-Event-ID`,
 * so nothing the broker still holds is missed or repeated. Ends when `signal` aborts.
 */
export async function* followEvents(base: string, token: string | undefined, query: EventQuery, options: EventReadOptions = {}): AsyncGenerator<RecordedEvent> {
  const { limit: _limit, ...rest } = query;
  const aborted = (): boolean => options.signal?.aborted === true;
  let last = query.after;
  for (let failures = 0; !aborted(); ) {
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      const p = params(rest);
      p.set("follow", "1");
      reader = await open(`${base}/v1/events?${p.toString()}`, token, options.signal, last === undefined ? {} : { "last-event-id": String(last) });
    } catch (err) {
      if (aborted()) return;
      // Refusals (auth, no event store) end the tail; an unreachable broker is tried again.
      if ((err as { code?: string }).code !== undefined && (err as { code: string }).code !== "internal") throw err;
      if (++failures > 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * failures, 2_000)));
      continue;
    }
    failures = 0;
    try {
      for await (const message of pieces(reader, "\n\n")) {
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (data === undefined) continue; // a comment (keep-alive)
        const event = JSON.parse(data) as RecordedEvent;
        last = event.position;
        yield event;
      }
    } catch {
      if (aborted()) return;
      // The connection dropped: it is opened again after `last`.
    }
  }
}
