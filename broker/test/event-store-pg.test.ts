/**
 * The PostgreSQL event store against a private server and real brokers: 10,000 tasks through a
 * two-broker mesh replayed by time range (and the same on one broker's memory store); `kill -9` of a
 * broker under load against what SPEC.md promises (§12.4, EVT-*); PostgreSQL stopped for 10 s under load;
 * durable submits; migrations applied once by brokers starting together, or by an operator first;
 * retention by age.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";
import { postgresBinDir, startBroker, startMeshPair, startPostgres, waitFor, type PostgresInstance } from "./helpers/backends.js";
import { freshDatabase, query, withOwnPostgres } from "./helpers/postgres.js";
import type { StoredEvent } from "../src/event-store.js";
import type { TaskEvent } from "../src/events.js";

let server: PostgresInstance;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

async function ndjson(res: Response): Promise<StoredEvent[]> {
  expect(res.status).toBe(200);
  const text = await res.text();
  return text === "" ? [] : text.trimEnd().split("\n").map((l) => JSON.parse(l) as StoredEvent);
}

interface Load {
  /** Task id → its input number, for every task accepted. */
  accepted: Map<string, number>;
  /** Task id → how many results arrived, and whether each was the task's own output. */
  results: Map<string, { n: number; own: boolean }>;
  /** Submits refused with an error frame (by code). */
  refused: Map<string, number>;
}

/**
 * Keeps `lanes` submits of `capability` open from `client` until `stop()` says so or `max` were sent
 * (a bounded loop), at most `perSecond` submits a second — load that leaves the machine's other test
 * files room; resolves when every accepted task has its result (or `settle` ms pass after the last
 * submit, for tasks a killed broker will never answer).
 */
function load(client: Peer, capability: string, lanes: number, max: number, stop: () => boolean, perSecond: number, settleMs = 30_000): { done: Promise<Load> } {
  const out: Load = { accepted: new Map(), results: new Map(), refused: new Map() };
  let sent = 0;
  const start = Date.now();
  const lane = async (): Promise<void> => {
    while (sent < max && !stop()) {
      const i = sent++;
      // The i-th submit is due at start + i / perSecond (a pace, not a wait for an event).
      const early = start + (i * 1000) / perSecond - Date.now();
      if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
      const ref = `l${i}`;
      client.send({ type: "submit", ref, capability, input: encodePayload(i) });
      const answer = await client.nextAny((f) => (f.type === "accepted" || f.type === "error") && f.ref === ref, 20_000, `the answer to submit ${ref}`).catch(() => undefined);
      if (answer === undefined) return; // the broker went away
      if (answer.type === "error") {
        out.refused.set(answer.code, (out.refused.get(answer.code) ?? 0) + 1);
        continue;
      }
      const id = (answer as { task_id: string }).task_id;
      out.accepted.set(id, i);
      const result = await client.next("result", (r) => r.task_id === id, settleMs).catch(() => undefined);
      if (result === undefined) return;
      const r = out.results.get(id) ?? { n: 0, own: true };
      r.n++;
      r.own &&= result.ok && decodePayload(result.output!) === i;
      out.results.set(id, r);
    }
  };
  return { done: Promise.all(Array.from({ length: lanes }, lane)).then(() => out) };
}

/** Each broker's view of each task, in position order. */
function views(events: StoredEvent[]): Map<string, StoredEvent[]> {
  const byView = new Map<string, StoredEvent[]>();
  for (const e of events) {
    if (!e.stream.startsWith("task-")) continue;
    const key = `${e.stream} ${e.broker_id}`;
    const view = byView.get(key) ?? [];
    view.push(e);
    byView.set(key, view);
  }
  return byView;
}

/** Stream positions count 1, 2, 3, ... in position order, for every stream. */
function expectGapFreeStreams(events: StoredEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const expected = (last.get(e.stream) ?? 0) + 1;
    if (e.stream_position !== expected) expect(`${e.stream} #${e.stream_position}`).toBe(`${e.stream} #${expected}`);
    last.set(e.stream, e.stream_position);
  }
}

const LIFECYCLE = ["task.submitted", "task.queued", "task.dispatched", "task.succeeded"];

describe("10,000 tasks replayed by time range [EVT-1]", () => {
  it("through a two-broker mesh on PostgreSQL: every transition of every task once, gap-free per stream, in lifecycle order per broker", async () => {
    const url = await freshDatabase(server);
    await using mesh = await startMeshPair(["--events", url]);
    await using agent = await Peer.register(mesh.agentUrl, { agent_id: "pg-mesh-agent", capabilities: [{ name: "pg.echo" }], capacity: 256 });
    agent.serve(Peer.echo);
    await mesh.visible("pg-mesh-agent");
    await using client = await Peer.register(mesh.url, {});
    const t0 = Date.now();
    const run = await load(client, "pg.echo", 64, 10_000, () => false, 2_500).done;
    const t1 = Date.now() + 1;
    expect(run.accepted.size).toBe(10_000);
    expect([...run.results.values()].every((r) => r.n === 1 && r.own)).toBe(true);

    // B's events reach the table through B's own buffer: wait until every task has both views.
    const events = await waitFor(async () => {
      const got = (await ndjson(await fetch(`${mesh.http}/v1/events?from=${t0}&to=${t1}&limit=1000000`))).filter((e) => e.stream.startsWith("task-"));
      return got.length >= 10_000 * 8 ? got : undefined;
    }, 30_000, "both brokers' events of 10,000 tasks");
    expect(events).toHaveLength(10_000 * 8);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    for (let i = 1; i < events.length; i++) if (events[i]!.position <= events[i - 1]!.position) expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position);
    expectGapFreeStreams(events);
    const byView = views(events);
    expect(byView.size).toBe(20_000);
    for (const id of run.accepted.keys()) {
      for (const broker of ["mesh-a", "mesh-b"]) {
        const types = byView.get(`task-${id} ${broker}`)?.map((e) => e.type);
        if (JSON.stringify(types) !== JSON.stringify(LIFECYCLE)) expect([id, broker, types]).toEqual([id, broker, LIFECYCLE]);
      }
    }
    // The origin handed each task to B; B ran it on its agent.
    const handed = events.filter((e) => e.broker_id === "mesh-a" && e.type === "task.dispatched");
    expect(handed.every((e) => (e.data as TaskEvent).cause === "handed to mesh-b")).toBe(true);
    // Replay through either broker reads the one table.
    const viaB = await ndjson(await fetch(`${mesh.agentHttp}/v1/events?from=${t0}&to=${t1}&type=task.succeeded&limit=1000000`));
    expect(viaB).toHaveLength(20_000);
  }, 180_000);

  it("through one broker's memory store: the same, on a ring large enough for the run", async () => {
    await using broker = await startBroker(["--events-max", "200000"]);
    await using agent = await Peer.register(broker.url, { agent_id: "mem-agent", capabilities: [{ name: "mem.echo" }], capacity: 256 });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url, {});
    const t0 = Date.now();
    const run = await load(client, "mem.echo", 64, 10_000, () => false, 2_500).done;
    const events = (await ndjson(await fetch(`${broker.http}/v1/events?from=${t0}&to=${Date.now() + 1}&limit=1000000`))).filter((e) => e.stream.startsWith("task-"));
    expect(run.accepted.size).toBe(10_000);
    expect(events).toHaveLength(10_000 * 4);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expectGapFreeStreams(events);
    const byView = views(events);
    for (const id of run.accepted.keys()) {
      const types = byView.get(`task-${id} ${id.split(".")[0]}`)?.map((e) => e.type);
      if (JSON.stringify(types) !== JSON.stringify(LIFECYCLE)) expect([id, types]).toEqual([id, LIFECYCLE]);
    }
  }, 120_000);
});

/** The sequence numbers of the events process `incarnation` of broker `brokerId` wrote, ascending. */
async function writtenSeqs(url: string, brokerId: string): Promise<Map<string, number[]>> {
  const rows = await query<{ event_id: string }>(url, "SELECT event_id FROM agentwire_events WHERE broker_id = $1 ORDER BY position", [brokerId]);
  const byProcess = new Map<string, number[]>();
  for (const { event_id } of rows) {
    const m = /^(.*)-(\d+)$/.exec(event_id)!;
    const seqs = byProcess.get(m[1]!) ?? [];
    seqs.push(Number(m[2]));
    byProcess.set(m[1]!, seqs);
  }
  return byProcess;
}

describe("kill -9 of a broker under load [EVT-3]", () => {
  it.each([false, true])("what its process wrote is a prefix of what it recorded, nothing twice (durable %s); after a restart it writes on", async (durable) => {
    const url = await freshDatabase(server);
    const brokerId = durable ? "pg-kill-durable" : "pg-kill";
    await using broker = await startBroker(["--events", url, "--broker-id", brokerId, ...(durable ? ["--events-durable"] : [])]);
    const agent = await Peer.register(broker.url, { agent_id: "kill-agent", capabilities: [{ name: "kill.echo" }], capacity: 64 });
    agent.serve(Peer.echo);
    const client = await Peer.register(broker.url, {});
    let stopped = false;
    const running = load(client, "kill.echo", 32, 50_000, () => stopped, 1_000, 2_000);
    // Under load: some tasks done, some in flight, the writer busy.
    await waitFor(async () => (Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM agentwire_events"))[0]!.n) >= 2_000 ? true : undefined), 30_000, "2,000 events written");
    broker.child.kill("SIGKILL");
    await broker.child.exited;
    stopped = true;
    const run = await running.done;
    await client.close().catch(() => undefined);
    await agent.close().catch(() => undefined);

    const before = await writtenSeqs(url, brokerId);
    expect(before.size).toBe(1);
    const [seqs] = [...before.values()];
    // A prefix: 1, 2, ..., n, each once (the events still buffered or being written are the ones missing).
    expect(seqs!.length).toBeGreaterThan(1_000);
    expect(seqs!.every((s, i) => s === i + 1)).toBe(true);
    if (durable) {
      // Every accepted task's task.submitted was committed before its accepted went out.
      const submitted = new Set((await query<{ id: string }>(url, "SELECT data->>'task_id' AS id FROM agentwire_events WHERE type = 'task.submitted'")).map((r) => r.id));
      expect(run.accepted.size).toBeGreaterThan(100);
      expect([...run.accepted.keys()].filter((id) => !submitted.has(id))).toEqual([]);
    }

    await broker.restart();
    await using agent2 = await Peer.register(broker.url, { agent_id: "kill-agent", capabilities: [{ name: "kill.echo" }] });
    agent2.serve(Peer.echo);
    await using client2 = await Peer.register(broker.url, {});
    const id = await client2.submit("kill.echo", "after");
    await client2.next("result", (r) => r.task_id === id);
    const after = await waitFor(async () => {
      const now = await writtenSeqs(url, brokerId);
      return now.size === 2 ? now : undefined;
    }, 10_000, "the restarted process's events");
    expect(after.get([...before.keys()][0]!)).toEqual(seqs);
    const dupes = await query<{ n: string }>(url, "SELECT count(*) - count(DISTINCT event_id) AS n FROM agentwire_events");
    expect(dupes[0]!.n).toBe("0");
    expectGapFreeStreams(await ndjson(await fetch(`${broker.http}/v1/events?limit=1000000`)));
  }, 120_000);
});

interface Ready {
  status: string;
  events: { store: string; ok: boolean; buffered: number; written: number; dropped: number; error?: string };
}
const readyz = async (http: string): Promise<[number, Ready]> => {
  const res = await fetch(`${http}/readyz`);
  return [res.status, (await res.json()) as Ready];
};
const metric = async (http: string, name: string): Promise<number> => {
  const text = await (await fetch(`${http}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
};

describe("PostgreSQL stopped for 10 s under load [EVT-2]", () => {
  it("routing goes on: every task answered once with its own result; dropped events counted in metrics and /readyz; events flow again after", async () => {
    await withOwnPostgres(async (pg, url) => {
      await using broker = await startBroker(["--events", url, "--events-buffer", "2000"]);
      await using agent = await Peer.register(broker.url, { agent_id: "outage-agent", capabilities: [{ name: "outage.echo" }], capacity: 64 });
      agent.serve(Peer.echo);
      await using client = await Peer.register(broker.url, {});
      let stopped = false;
      const running = load(client, "outage.echo", 16, 1_000_000, () => stopped, 400);
      await waitFor(async () => ((await readyz(broker.http))[1].events.written >= 1_000 ? true : undefined), 20_000, "events written before the outage");

      await pg.stop();
      const outageStart = Date.now();
      const [status, during] = await waitFor(async () => {
        const r = await readyz(broker.http);
        return !r[1].events.ok && r[1].events.dropped > 0 ? r : undefined;
      }, 20_000, "/readyz to report the store down and events dropped");
      expect(status).toBe(200); // routing goes on: the broker stays ready
      expect(during.events).toMatchObject({ store: "postgres", ok: false });
      expect(during.events.buffered).toBeLessThanOrEqual(2_000);
      expect(await metric(broker.http, "agentwire_events_dropped_total")).toBeGreaterThan(0);
      expect(await metric(broker.http, "agentwire_events_store_up")).toBe(0);
      // Tasks complete while the database is down.
      const doneBefore = (await metric(broker.http, 'agentwire_tasks_ended_total{outcome="succeeded"}'));
      await waitFor(async () => (Date.now() - outageStart >= 10_000 ? true : undefined), 15_000, "10 s of outage");
      const doneDuring = (await metric(broker.http, 'agentwire_tasks_ended_total{outcome="succeeded"}')) - doneBefore;
      expect(doneDuring).toBeGreaterThan(500);

      await pg.restart();
      const [, back] = await waitFor(async () => {
        const r = await readyz(broker.http);
        return r[1].events.ok && r[1].events.buffered === 0 ? r : undefined;
      }, 20_000, "the store to write again");
      const droppedTotal = back.events.dropped;
      stopped = true;
      const run = await running.done;
      expect(run.refused.size).toBe(0);
      expect(run.accepted.size).toBeGreaterThan(1_000);
      expect([...run.accepted.keys()].every((id) => run.results.get(id)?.n === 1 && run.results.get(id)!.own)).toBe(true);
      // What was written: everything the broker appended but the dropped events, each once.
      await waitFor(async () => ((await readyz(broker.http))[1].events.buffered === 0 ? true : undefined), 10_000, "the buffer to empty");
      const [{ n, distinct }] = (await query<{ n: string; distinct: string }>(url, "SELECT count(*) AS n, count(DISTINCT event_id) AS distinct FROM agentwire_events")) as [{ n: string; distinct: string }];
      const h = (await readyz(broker.http))[1].events;
      expect(Number(n)).toBeGreaterThanOrEqual(h.written); // plus a write whose answer the stop cut off, if any
      expect(distinct).toBe(n);
      expect(h.dropped).toBe(droppedTotal);
      // New tasks are recorded again.
      const id = await client.submit("outage.echo", "after");
      await client.next("result", (r) => r.task_id === id);
      const timeline = (await (await fetch(`${broker.http}/v1/tasks/${id}/events`)).json()) as { events: StoredEvent[] };
      expect(timeline.events.map((e) => e.type)).toEqual(LIFECYCLE);
    });
  }, 120_000);
});

describe("PostgreSQL paused past the write timeout [EVT-3]", () => {
  it("a batch whose answer was lost is sent again and stored once; every event of the process is there once, in order", async () => {
    await withOwnPostgres(async (pg, url) => {
      await using broker = await startBroker(["--events", url, "--broker-id", "pg-pause", "--events-buffer", "1000000"]);
      await using agent = await Peer.register(broker.url, { agent_id: "pause-agent", capabilities: [{ name: "pause.echo" }], capacity: 16 });
      agent.serve(Peer.echo);
      await using client = await Peer.register(broker.url, {});
      let stopped = false;
      // One lane: the events of the pause fit in the buffer, so none is dropped and all must arrive.
      const running = load(client, "pause.echo", 1, 1_000_000, () => stopped, 300);
      await waitFor(async () => ((await readyz(broker.http))[1].events.written >= 500 ? true : undefined), 20_000, "events written before the pause");
      pg.pause();
      // The batch in flight gets no answer: the broker gives it up after its 10 s query timeout.
      await waitFor(async () => (!(await readyz(broker.http))[1].events.ok ? true : undefined), 30_000, "the write to time out");
      pg.resume();
      await waitFor(async () => {
        const h = (await readyz(broker.http))[1].events;
        return h.ok && h.buffered === 0 ? true : undefined;
      }, 30_000, "the store to write again");
      stopped = true;
      const run = await running.done;
      expect([...run.accepted.keys()].every((id) => run.results.get(id)?.n === 1 && run.results.get(id)!.own)).toBe(true);
      await waitFor(async () => ((await readyz(broker.http))[1].events.buffered === 0 ? true : undefined), 10_000, "the buffer to empty");
      const h = (await readyz(broker.http))[1].events;
      const seqs = [...(await writtenSeqs(url, "pg-pause")).values()][0]!;
      // Nothing dropped (the buffer held), nothing twice, nothing missing: 1..n. The broker counts what
      // its answered writes stored; a write whose answer was lost but which committed on resume is in
      // the table once and not in that count.
      expect(h.dropped).toBe(0);
      expect(seqs.every((x, i) => x === i + 1)).toBe(true);
      expect(seqs.length).toBeGreaterThanOrEqual(h.written);
      expectGapFreeStreams(await ndjson(await fetch(`${broker.http}/v1/events?limit=1000000`)));
    });
  }, 120_000);
});

describe("--events-durable [EVT-5]", () => {
  it("accepted goes out only once task.submitted is committed; with the database down a submit is refused (overloaded) and nothing runs", async () => {
    await withOwnPostgres(async (pg, url) => {
      await using broker = await startBroker(["--events", url, "--events-durable"]);
      await using agent = await Peer.register(broker.url, { agent_id: "durable-agent", capabilities: [{ name: "durable.echo" }] });
      const ran: string[] = [];
      agent.serve((task, peer) => {
        ran.push(task.task_id);
        Peer.echo(task, peer);
    });
    await using client = await Peer.register(broker.url, {});
    for (let i = 0; i < 20; i++) {
      client.send({ type: "submit", ref: `d${i}`, capability: "durable.echo", input: encodePayload(i) });
      const { task_id } = await client.next("accepted", (a) => a.ref === `d${i}`);
      // Read on a connection of the test's own, at the moment accepted arrived.
      const rows = await query(url, "SELECT 1 FROM agentwire_events WHERE type = 'task.submitted' AND data->>'task_id' = $1", [task_id]);
      expect(rows, task_id).toHaveLength(1);
      await client.next("result", (r) => r.task_id === task_id);
    }

    await pg.stop();
    client.send({ type: "submit", ref: "down", capability: "durable.echo", input: encodePayload("down") });
    const refused = await client.next("error", (e) => e.ref === "down", 20_000);
    expect([refused.code, refused.fatal]).toEqual(["overloaded", undefined]);
    expect(ran).toHaveLength(20);

    await pg.restart();
    const id = await waitFor(async () => {
      client.send({ type: "submit", ref: "up", capability: "durable.echo", input: encodePayload("up") });
      const f = await client.nextAny((x) => (x.type === "accepted" || x.type === "error") && x.ref === "up", 20_000);
      return f.type === "accepted" ? f.task_id : undefined;
    }, 30_000, "a durable submit accepted again");
    const result = await client.next("result", (r) => r.task_id === id);
    expect(decodePayload(result.output!)).toBe("up");
    const submitted = await query<{ id: string }>(url, "SELECT data->>'task_id' AS id FROM agentwire_events WHERE type = 'task.submitted'");
    expect(submitted.map((r) => r.id)).not.toContain(undefined);
    expect(submitted).toHaveLength(ran.length);
    });
  }, 120_000);
});

describe("schema migrations", () => {
  it("brokers starting together on an empty database apply version 1 once; a database an operator migrated with the SQL file is used as is", async () => {
    const url = await freshDatabase(server);
    const [a, b] = await Promise.all([startBroker(["--events", url]), startBroker(["--events", url])]);
    try {
      expect(await query(url, "SELECT version FROM agentwire_schema")).toEqual([{ version: 1 }]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }

    const operated = await freshDatabase(server);
    const sql = join(fileURLToPath(new URL("../sql/001_events.sql", import.meta.url)));
    execFileSync(join(postgresBinDir(), "psql"), [operated, "-v", "ON_ERROR_STOP=1", "-1", "-q", "-f", sql], { stdio: "pipe" });
    await using broker = await startBroker(["--events", operated]);
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "mig.echo" }] });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url, {});
    const id = await client.submit("mig.echo", 1);
    await client.next("result", (r) => r.task_id === id);
    expect(await query(operated, "SELECT version FROM agentwire_schema")).toEqual([{ version: 1 }]);
    const timeline = (await (await fetch(`${broker.http}/v1/tasks/${id}/events`)).json()) as { events: StoredEvent[] };
    expect(timeline.events.map((e) => e.type)).toEqual(LIFECYCLE);
  }, 60_000);
});

describe("trace context [TRACE-7]", () => {
  it("a traced task's events keep its traceparent and tracestate in data and its traceparent in metadata; an untraced task's keep neither", async () => {
    const url = await freshDatabase(server);
    await using broker = await startBroker(["--events", url]);
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "trace.echo" }] });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url, {});
    const trace = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor1=opaque" };
    const traced = await client.submit("trace.echo", 1, trace);
    const plain = await client.submit("trace.echo", 2);
    for (const id of [traced, plain]) await client.next("result", (r) => r.task_id === id);
    const rows = await waitFor(async () => {
      const r = await query<{ stream: string; type: string; tp: string | null; ts: string | null; mtp: string | null }>(
        url,
        "SELECT stream, type, data->>'traceparent' AS tp, data->>'tracestate' AS ts, metadata->>'traceparent' AS mtp FROM agentwire_events WHERE stream IN ($1, $2) ORDER BY position",
        [`task-${traced}`, `task-${plain}`],
      );
      return r.filter((e) => e.type === "task.succeeded").length === 2 ? r : undefined;
    }, 10_000, "both tasks' events written");
    for (const e of rows) {
      const want = e.stream === `task-${traced}` ? [trace.traceparent, trace.tracestate, trace.traceparent] : [null, null, null];
      expect([e.type, e.tp, e.ts, e.mtp]).toEqual([e.type, ...want]);
    }
    expect(rows.filter((e) => e.stream === `task-${traced}`).map((e) => e.type)).toEqual(LIFECYCLE);
  }, 60_000);
});

describe("retention [EVT-7]", () => {
  it("--events-retention prunes events older than it, in batches, while new ones are written", async () => {
    const url = await freshDatabase(server);
    await using broker = await startBroker(["--events", url, "--events-retention", "2s"]);
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "ret.echo" }] });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url, {});
    const old = await client.submit("ret.echo", "old");
    await client.next("result", (r) => r.task_id === old);
    const count = async (id: string): Promise<number> => Number((await query<{ n: string }>(url, "SELECT count(*) AS n FROM agentwire_events WHERE stream = $1", [`task-${id}`]))[0]!.n);
    // Events are flushed in batches after the result: wait for the old task's four, not assume them.
    await waitFor(async () => ((await count(old)) === 4 ? true : undefined), 10_000, "the old task's four events");
    // Keep writing while the old task's events age out.
    const fresh = await waitFor(async () => {
      const id = await client.submit("ret.echo", "new");
      await client.next("result", (r) => r.task_id === id);
      return (await count(old)) === 0 ? id : undefined;
    }, 15_000, "the old task's events to be pruned");
    await waitFor(async () => ((await count(fresh)) === 4 ? true : undefined), 10_000, "the fresh task's four events");
  }, 60_000);
});
