/**
 * `GET /v1/dashboard/live` [HTTP-21]: the dashboard's one Server-Sent Events stream. It carries the
 * recorded events (each with its position as `id`, resumed after `Last-Event-ID` as the event
 * store's live tail is) at no more than `rate` a second, and a `stats` message (readStats) every
 * second. Past the rate, task and message events are skipped in one jump (a `gap` message with
 * the skipped range, whose `id` moves the resume point past it), so a viewer costs the broker a
 * bounded amount of work whatever the load; agent and pool events are never skipped. The store is
 * read on a timer, not on each append: routing does no work for a viewer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { AGENT_EVENTS } from "../events.js";
import type { EventStore } from "../event-store.js";
import { readStats, type StatsSources } from "./stats.js";

/** Events a viewer always gets, whatever the rate: the few that change what the agents and pools views show. */
export const NEVER_SKIPPED: readonly string[] = [...AGENT_EVENTS, "pool.scaled"];
export const LIVE_RATE = { default: 1_000, max: 10_000 } as const;

/** Reads of the store per second: each may send rate / TICKS_PER_SECOND events. */
const TICKS_PER_SECOND = 10;
const STATS_EVERY_MS = 1_000;
const KEEP_ALIVE_MS = 15_000;

export interface LiveOptions {
  /** Events per second at most. */
  rate: number;
  /** Resume after this position (Last-Event-ID), else from now. */
  after: number | undefined;
}

export async function live(src: StatsSources, events: EventStore | undefined, req: IncomingMessage, res: ServerResponse, o: LiveOptions): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
  res.write(`: live, at most ${o.rate} events/s\n\n`);
  let after = o.after ?? (await events?.head()) ?? 0;
  const quota = Math.max(1, Math.ceil(o.rate / TICKS_PER_SECOND));
  let gone = false;
  let busy = false;

  const write = (text: string): Promise<void> | undefined => {
    if (gone || text === "" || res.write(text)) return undefined;
    return new Promise<void>((resolve) => res.once("drain", resolve).once("close", resolve));
  };
  const read = async (store: EventStore, from: number, to: number, types?: readonly string[]): Promise<string> => {
    let chunk = "";
    for await (const e of store.read({ after: from, types, limit: to - from })) {
      if (e.position > to) break;
      chunk += `id: ${e.position}\ndata: ${JSON.stringify(e, plain)}\n\n`;
    }
    return chunk;
  };
  const tick = async (): Promise<void> => {
    if (busy || gone || events === undefined) return;
    busy = true; // a slow reader (a full socket) skips ticks rather than queueing them
    try {
      const head = await events.head();
      if (head <= after) return;
      let chunk = "";
      if (head - after > quota) {
        // Too many: what must not be missed from the range skipped, then the newest `quota`.
        const skipTo = head - quota;
        chunk += await read(events, after, skipTo, NEVER_SKIPPED);
        chunk += `event: gap\nid: ${skipTo}\ndata: {"after":${after},"to":${skipTo}}\n\n`;
        after = skipTo;
      }
      chunk += await read(events, after, head);
      after = head;
      await write(chunk);
    } catch (err) {
      // The store failed to answer (a database restarting): the viewer reconnects with Last-Event-ID.
      if (!gone) res.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      busy = false;
    }
  };
  const stats = async (): Promise<void> => {
    if (gone) return;
    const s = await readStats(src);
    await write(`event: stats\ndata: ${JSON.stringify(s)}\n\n`);
  };

  const timers = [
    setInterval(() => void tick(), 1_000 / TICKS_PER_SECOND),
    setInterval(() => void stats().catch(() => {}), STATS_EVERY_MS),
    setInterval(() => void write(": keep-alive\n\n"), KEEP_ALIVE_MS),
  ];
  for (const t of timers) t.unref();
  req.socket.setNoDelay(true);
  res.on("close", () => {
    gone = true;
    for (const t of timers) clearInterval(t);
  });
  await stats();
  await tick();
}

/** JSON of a recorded event: a bigint as a number, a kept payload by its size only (the page shows no payloads). */
function plain(_key: string, v: unknown): unknown {
  return typeof v === "bigint" ? Number(v) : v instanceof Uint8Array ? { bytes: v.byteLength } : v;
}
