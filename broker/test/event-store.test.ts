/**
 * Both event stores (in memory, PostgreSQL) and replay over HTTP (GET /v1/events, GET /v1/tasks/:id/events):
 * every transition of every task recorded once, in position order, gap-free per stream; filters,
 * resumption by position, the bounded ring, bad parameters, and who may read what.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import { MemoryEventStore, type EventQuery, type StoredEvent } from "../src/event-store.js";
import { taskEvent, type TaskEvent } from "../src/events.js";
import type { TaskRecord } from "../src/tasks/task-table.js";
import { startBroker, startPostgres, type PostgresInstance, type RunningBroker } from "./helpers/backends.js";
import { freshDatabase } from "./helpers/postgres.js";

async function ndjson(res: Response): Promise<StoredEvent[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/x-ndjson");
  const text = await res.text();
  return text === "" ? [] : text.trimEnd().split("\n").map((l) => JSON.parse(l) as StoredEvent);
}

/** Submits `n` tasks to `capability` and waits for every result. */
async function runTasks(client: Peer, capability: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) client.send({ type: "submit", ref: `${capability}-${i}`, capability, input: encodePayload(i) });
  for (let i = 0; i < n; i++) ids.push((await client.next("accepted", (a) => a.ref === `${capability}-${i}`)).task_id);
  for (const id of ids) await client.next("result", (r) => r.task_id === id);
  return ids;
}

describe("MemoryEventStore", () => {
  const event = (stream: string, at: number) => ({ type: "task.queued", at, broker_id: "b", task_id: stream.slice(5), capability: "c", state: "queued", attempt: 1 }) as TaskEvent;

  const all = async (store: MemoryEventStore, query: EventQuery): Promise<StoredEvent[]> => {
    const out: StoredEvent[] = [];
    for await (const e of store.read(query)) out.push(e);
    return out;
  };
  const positions = async (store: MemoryEventStore, query: EventQuery): Promise<number[]> => (await all(store, query)).map((e) => e.position);

  it("keeps the newest max events; positions stay consecutive and stream positions count on past eviction", async () => {
    const store = new MemoryEventStore(3, "b.e1-");
    for (const e of [event("task-a", 1), event("task-b", 2), event("task-a", 3), event("task-a", 4)]) store.append(e);
    const events = await all(store, {});
    expect(events.map((e) => [e.position, e.stream, e.stream_position, e.event_id])).toEqual([
      [2, "task-b", 1, "b.e1-2"],
      [3, "task-a", 2, "b.e1-3"],
      [4, "task-a", 3, "b.e1-4"],
    ]);
    expect(await store.head()).toBe(4);
    expect(await positions(store, { after: 2 })).toEqual([3, 4]);
    expect(await positions(store, { from: 3, to: 4 })).toEqual([3]);
    expect(await positions(store, { task: "b" })).toEqual([2]);
    expect(await positions(store, { limit: 1, after: 0 })).toEqual([2]);
  });

  it("a task transition kept from the live record reads back as taskEvent() makes it, across growth and wrap-around, mixed with other events", async () => {
    const max = 10_000;
    const store = new MemoryEventStore(max, "b.e1-");
    const lifecycle = [
      ["task.submitted", "queued"],
      ["task.queued", "queued"],
      ["task.dispatched", "dispatched"],
      ["task.failed", "failed"],
    ] as const;
    const expected: TaskEvent[] = [];
    const tasks = 6_500; // 26,000 task events and 6,500 others: the ring grows to max, then wraps more than twice
    for (let t = 0; t < tasks; t++) {
      const record = { id: `t${t}`, capability: t % 2 === 0 ? "even" : "odd", state: "queued", attempt: 1 + (t % 3), agent: t % 5 === 0 ? null : `agent-${t % 7}`, error: { code: "boom", message: `task ${t}` } };
      lifecycle.forEach(([type, state], k) => {
        record.state = state;
        const at = t * 10 + k;
        const cause = k === 1 ? "agent_lost" : undefined;
        const live = record as unknown as TaskRecord;
        store.appendTask("b", type, live, at, cause);
        expected.push(taskEvent("b", type, live, at, cause));
        if (k === 2) {
          const other = { type: "message.sent", at, broker_id: "b", from: "x", to: `agent-${t % 7}`, bytes: 1 } as unknown as TaskEvent;
          store.append(other);
          expected.push(other);
        }
      });
    }
    const events = await all(store, {});
    expect(events.length).toBe(max);
    expect(await store.head()).toBe(expected.length);
    expect(events.map((e) => e.position)).toEqual(Array.from({ length: max }, (_, i) => expected.length - max + 1 + i));
    expect(events.map((e) => e.data)).toEqual(expected.slice(-max));
    // Stream positions count every event of the task, also those already evicted.
    const last = events.filter((e) => e.stream === `task-t${tasks - 1}`);
    expect(last.map((e) => [e.type, e.stream_position])).toEqual(lifecycle.map(([type], k) => [type, k + 1]));
    expect(await positions(store, { task: `t${tasks - 1}`, types: ["task.failed"] })).toEqual([expected.length]);
  });

  it("with a retention, events older than it leave the ring as newer ones arrive", async () => {
    const store = new MemoryEventStore(100, "b.e1-", 1_000);
    const now = Date.now();
    for (const e of [event("task-a", now - 3_000), event("task-b", now - 2_500), event("task-a", now - 300), event("task-c", now)]) store.append(e);
    // Older than a second: the first two are gone, and task-a counts on.
    expect((await all(store, { after: 0 })).map((e) => [e.position, e.stream, e.stream_position])).toEqual([
      [3, "task-a", 2],
      [4, "task-c", 1],
    ]);
  });
});

/** The suites below run against both stores: the broker's flags for each (a fresh database per call). */
let postgres: PostgresInstance | undefined;
const STORES = {
  memory: (): Promise<string[]> => Promise.resolve([]),
  postgres: async (): Promise<string[]> => ["--events", await freshDatabase((postgres ??= await startPostgres()))],
} as const;
afterAll(async () => {
  await postgres?.stop();
});

describe.each(Object.keys(STORES) as (keyof typeof STORES)[])("event replay over HTTP (%s store)", (store) => {
  let broker: RunningBroker;
  let agent: Peer;
  let client: Peer;

  beforeAll(async () => {
    broker = await startBroker(await STORES[store]());
    agent = await Peer.register(broker.url, { agent_id: "ev-agent", capabilities: [{ name: "ev.echo" }] });
    agent.serve(Peer.echo);
    client = await Peer.register(broker.url, {});
  });
  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await broker?.stop();
  });

  it("replay by time range returns every transition of every task once, in lifecycle order, gap-free per stream", async () => {
    const t0 = Date.now();
    const ids = await runTasks(client, "ev.echo", 200);
    const t1 = Date.now() + 1;
    const events = await ndjson(await fetch(`${broker.http}/v1/events?from=${t0}&to=${t1}`));
    for (let i = 1; i < events.length; i++) expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    const byTask = new Map<string, StoredEvent[]>();
    for (const e of events) if (e.stream.startsWith("task-")) byTask.set(e.stream, [...(byTask.get(e.stream) ?? []), e]);
    expect(byTask.size).toBe(ids.length);
    for (const id of ids) {
      const stream = byTask.get(`task-${id}`)!;
      expect(stream.map((e) => e.type), id).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.succeeded"]);
      expect(stream.map((e) => e.stream_position)).toEqual([1, 2, 3, 4]);
      // Task ids start with the id of the broker that accepted them, which recorded the events.
      expect(stream.every((e) => (e.data as TaskEvent).task_id === id && id.startsWith(`${e.broker_id}.`))).toBe(true);
    }
    // ISO times work as well as epoch milliseconds.
    const iso = await ndjson(await fetch(`${broker.http}/v1/events?from=${new Date(t0).toISOString()}&to=${new Date(t1).toISOString()}`));
    expect(iso.map((e) => e.position)).toEqual(events.map((e) => e.position));
  });

  it("filters by type, task, agent and capability; after + limit resume a read without gaps or repeats", async () => {
    const [id] = await runTasks(client, "ev.echo", 1);
    const mine = await ndjson(await fetch(`${broker.http}/v1/events?task=${id}`));
    expect(mine.map((e) => e.type)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.succeeded"]);
    const timeline = (await (await fetch(`${broker.http}/v1/tasks/${id}/events`)).json()) as { task_id: string; events: StoredEvent[] };
    expect(timeline).toEqual({ task_id: id, events: mine });
    const ended = await ndjson(await fetch(`${broker.http}/v1/events?type=task.succeeded,task.failed&capability=ev.echo`));
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.every((e) => e.type === "task.succeeded" && (e.data as TaskEvent).capability === "ev.echo")).toBe(true);
    const agentEvents = await ndjson(await fetch(`${broker.http}/v1/events?agent=ev-agent&type=agent.registered`));
    expect(agentEvents.map((e) => [e.stream, e.stream_position])).toEqual([["agent-ev-agent", 1]]);

    const all = await ndjson(await fetch(`${broker.http}/v1/events`));
    const pages: StoredEvent[] = [];
    let after = 0;
    for (;;) {
      const page = await ndjson(await fetch(`${broker.http}/v1/events?after=${after}&limit=97`));
      if (page.length === 0) break;
      pages.push(...page);
      after = page.at(-1)!.position;
    }
    expect(pages.slice(0, all.length).map((e) => e.event_id)).toEqual(all.map((e) => e.event_id));
  });

  it("[EVT-4] the live tail (follow, Server-Sent Events): a client that reconnects with Last-Event-ID misses nothing and sees nothing twice", async () => {
    const before = await ndjson(await fetch(`${broker.http}/v1/events`));
    const start = before.at(-1)?.position ?? 0;
    const seen: StoredEvent[] = [];
    const tail = async (lastEventId: number | undefined, until: (e: StoredEvent) => boolean): Promise<void> => {
      const abort = new AbortController();
      const res = await fetch(`${broker.http}/v1/events?follow=1${lastEventId === undefined ? `&after=${start}` : ""}`, {
        headers: lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) },
        signal: abort.signal,
      });
      expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/event-stream"]);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error("the tail ended before the awaited event");
          buffered += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffered.indexOf("\n\n")) >= 0) {
            const message = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = /^data: (.*)$/m.exec(message)?.[1];
            if (data === undefined) continue; // a comment
            const e = JSON.parse(data) as StoredEvent;
            expect(/^id: (\d+)$/m.exec(message)?.[1]).toBe(String(e.position));
            seen.push(e);
            if (until(e)) return;
          }
        }
      } finally {
        abort.abort();
      }
    };
    const first = runTasks(client, "ev.echo", 20);
    await tail(undefined, (e) => e.type === "task.succeeded"); // leaves while the tasks still run
    await first;
    const [lastTask] = await runTasks(client, "ev.echo", 1); // recorded while nobody follows
    await tail(seen.at(-1)!.position, (e) => e.type === "task.succeeded" && (e.data as TaskEvent).task_id === lastTask);
    const expected = (await ndjson(await fetch(`${broker.http}/v1/events?after=${start}`))).filter((e) => e.position <= seen.at(-1)!.position);
    expect(seen.map((e) => e.position)).toEqual(expected.map((e) => e.position));
    expect(seen.map((e) => e.event_id)).toEqual(expected.map((e) => e.event_id));
  });

  it("direct messages, publishes and requests are recorded as metadata: who, to whom, how large, never the body", async () => {
    const t0 = Date.now();
    agent.send({ type: "subscribe", ref: "sub", topic: "ev.news.*" });
    await agent.next("ack", (a) => a.ref === "sub");
    client.send({ type: "publish", ref: "pub", topic: "ev.news.today", payload: encodePayload({ headline: "x" }) });
    await agent.next("message", (m) => m.topic === "ev.news.today");
    client.send({ type: "send", ref: "dm", to: "ev-agent", payload: encodePayload("hello") });
    await agent.next("message", (m) => m.topic === undefined);
    client.send({ type: "request", id: "q1", to: "ev-agent", payload: encodePayload("ping") });
    const request = await agent.next("request");
    agent.send({ type: "response", id: request.id, ok: true, payload: encodePayload("pong") });
    await client.next("response", (r) => r.id === "q1");
    const types = "message.sent,message.published,request.sent,request.answered";
    const events = await ndjson(await fetch(`${broker.http}/v1/events?from=${t0}&type=${types}`));
    expect(events.map((e) => [e.type, e.stream, e.stream_position])).toEqual([
      ["message.published", "topic-ev.news.today", 1],
      ["message.sent", "agent-ev-agent", events[1]!.stream_position],
      ["request.sent", `request-${request.id}`, 1],
      ["request.answered", `request-${request.id}`, 2],
    ]);
    expect(events.map((e) => e.data)).toMatchObject([
      { from: client.agentId, topic: "ev.news.today", delivered: 1, bytes: encodePayload({ headline: "x" }).byteLength },
      { from: client.agentId, to: "ev-agent", bytes: encodePayload("hello").byteLength },
      { from: client.agentId, to: "ev-agent", request_id: request.id, bytes: encodePayload("ping").byteLength },
      { from: client.agentId, request_id: request.id, ok: true, bytes: encodePayload("pong").byteLength },
    ]);
    expect(events.some((e) => "payload" in e.data)).toBe(false);
    // The agent's stream holds its lifecycle and the messages it was sent, counted together.
    const agentStream = await ndjson(await fetch(`${broker.http}/v1/events?agent=ev-agent`));
    const own = agentStream.filter((e) => e.stream === "agent-ev-agent").map((e) => e.stream_position);
    expect(own).toEqual(Array.from({ length: own.length }, (_, i) => i + 1));
  });

  it("bad parameters are 400 bad_frame; an unknown task's timeline is 404 unknown_task", async () => {
    for (const query of ["from=yesterday", "to=12:00", "after=-1", "limit=0", "limit=abc"]) {
      const res = await fetch(`${broker.http}/v1/events?${query}`);
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code], query).toEqual([400, "bad_frame"]);
    }
    const res = await fetch(`${broker.http}/v1/tasks/no-such-task/events`);
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([404, "unknown_task"]);
  });
});

describe("event store bounds and access", () => {
  it("--events-max bounds the ring to the newest events; --events-max 0 keeps none (404 not_found)", async () => {
    await using small = await startBroker(["--events-max", "20"]);
    await using agent = await Peer.register(small.url, { capabilities: [{ name: "ev.small" }] });
    agent.serve(Peer.echo);
    await using client = await Peer.register(small.url, {});
    await runTasks(client, "ev.small", 20);
    const kept = await ndjson(await fetch(`${small.http}/v1/events`));
    expect(kept).toHaveLength(20);
    const head = kept.at(-1)!.position;
    expect(head).toBeGreaterThanOrEqual(80);
    expect(kept.map((e) => e.position)).toEqual(Array.from({ length: 20 }, (_, i) => head - 19 + i));

    await using none = await startBroker(["--events-max", "0"]);
    const res = await fetch(`${none.http}/v1/events`);
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([404, "not_found"]);
  });

  it("[AUTH-8] with auth on, replay needs an admin token; a task's timeline is its owner's (or an admin's)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "aw-events-")), "broker.json");
    writeFileSync(file, JSON.stringify({ auth: { tokens: [{ token: "root", admin: true }, { token: "alice" }, { token: "bob" }] } }));
    await using broker = await startBroker(["--config", file]);
    await using agent = await Peer.register(broker.url, { token: "root", capabilities: [{ name: "ev.auth" }] });
    agent.serve(Peer.echo);
    await using alice = await Peer.register(broker.url, { token: "alice" });
    const [id] = await runTasks(alice, "ev.auth", 1);
    const get = (path: string, token?: string) => fetch(`${broker.http}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    expect((await get("/v1/events")).status).toBe(401);
    expect((await get("/v1/events", "alice")).status).toBe(403);
    expect((await ndjson(await get(`/v1/events?task=${id}`, "root"))).length).toBe(4);
    expect(((await (await get(`/v1/tasks/${id}/events`, "alice")).json()) as { events: unknown[] }).events).toHaveLength(4);
    expect(((await (await get(`/v1/tasks/${id}/events`, "root")).json()) as { events: unknown[] }).events).toHaveLength(4);
    const bob = await get(`/v1/tasks/${id}/events`, "bob");
    expect([bob.status, ((await bob.json()) as { error: { code: string } }).error.code]).toEqual([404, "unknown_task"]);
  });
});

describe.each(Object.keys(STORES) as (keyof typeof STORES)[])("recorded payloads and retry (%s store)", (store) => {
  it("[HTTP-17] with --events-payloads a task's input and output are recorded (or only their size when over the cap) and retry submits it again", async () => {
    await using broker = await startBroker([...(await STORES[store]()), "--events-payloads", "64"]);
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "ev.pay" }] });
    const runs: string[] = [];
    agent.serve((task, peer) => {
      runs.push(task.task_id);
      Peer.echo(task, peer);
    });
    await using client = await Peer.register(broker.url, {});
    const small = await client.submit("ev.pay", { n: 1, s: "hi" });
    await client.next("result", (r) => r.task_id === small);
    const big = await client.submit("ev.pay", "x".repeat(200));
    await client.next("result", (r) => r.task_id === big);
    const timeline = async (id: string) => ((await (await fetch(`${broker.http}/v1/tasks/${id}/events`)).json()) as { events: StoredEvent[] }).events;
    const smallEvents = await timeline(small);
    expect(smallEvents.find((e) => e.type === "task.submitted")!.data).toMatchObject({ payload: { n: 1, s: "hi" } });
    expect(smallEvents.find((e) => e.type === "task.succeeded")!.data).toMatchObject({ payload: { n: 1, s: "hi" } });
    expect(smallEvents.find((e) => e.type === "task.queued")!.data).not.toHaveProperty("payload");
    const bigSubmitted = (await timeline(big)).find((e) => e.type === "task.submitted")!.data as TaskEvent;
    expect([bigSubmitted.payload, bigSubmitted.payload_bytes]).toEqual([undefined, 202]);

    const again = await fetch(`${broker.http}/v1/tasks/${small}/retry`, { method: "POST" });
    const body = (await again.json()) as { task_id: string; retry_of: string };
    expect([again.status, body.retry_of]).toEqual([202, small]);
    expect(body.task_id).not.toBe(small);
    const rerun = await waitFor(async () => {
      const view = (await (await fetch(`${broker.http}/v1/tasks/${body.task_id}`)).json()) as { state: string; output?: unknown };
      return view.state === "succeeded" ? view : undefined;
    }, 10_000, "the retried task to succeed");
    expect(rerun.output).toEqual({ n: 1, s: "hi" });
    expect(runs.filter((id) => id === body.task_id)).toHaveLength(1);

    const refused = await fetch(`${broker.http}/v1/tasks/${big}/retry`, { method: "POST" });
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect([refused.status, error.code]).toEqual([404, "not_found"]);
    expect(error.message).toContain("202 bytes were over --events-payloads");
    const unknown = await fetch(`${broker.http}/v1/tasks/no-such-task/retry`, { method: "POST" });
    expect(unknown.status).toBe(404);
  });

  it("without --events-payloads nothing of a payload is recorded and retry says why it cannot", async () => {
    await using broker = await startBroker(await STORES[store]());
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "ev.nopay" }] });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url, {});
    const id = await client.submit("ev.nopay", { n: 2 });
    await client.next("result", (r) => r.task_id === id);
    const events = ((await (await fetch(`${broker.http}/v1/tasks/${id}/events`)).json()) as { events: StoredEvent[] }).events;
    expect(events.some((e) => "payload" in e.data || "payload_bytes" in e.data)).toBe(false);
    const res = await fetch(`${broker.http}/v1/tasks/${id}/retry`, { method: "POST" });
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect([res.status, error.code]).toEqual([404, "not_found"]);
    expect(error.message).toContain("--events-payloads 0");
  });
});
