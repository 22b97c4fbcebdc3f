/**
 * The dashboard's HTTP side without a browser: the page's files and `/dashboard/auth` without a token
 * [HTTP-22], `/v1/stats` from the metrics [HTTP-19], the live stream's rate bound, gap and resume
 * after Last-Event-ID [HTTP-21], the operator's drain [HTTP-20], and read-only tokens over WebSocket
 * [AUTH-9] (the browser test covers them over HTTP).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";
import { startBroker, startMeshPair, waitFor, type BrokerProcess } from "@agentwire/testkit";

const TOKENS = [{ token: "admin", admin: true }, { token: "viewer", read_only: true }, { token: "worker" }];

interface Message {
  event: string;
  id: string | undefined;
  data: string;
}

/** Reads a text/event-stream until `enough` says so (or `ms` passed); then drops the connection. */
async function readSse(url: string, headers: Record<string, string>, enough: (got: Message[]) => boolean, ms = 10_000): Promise<Message[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ms);
  const got: Message[] = [];
  try {
    const res = await fetch(url, { headers, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const m: Message = { event: "message", id: undefined, data: "" };
        let any = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const [field, ...rest] = line.split(":");
          const value = rest.join(":").replace(/^ /, "");
          if (field === "event") m.event = value;
          else if (field === "id") m.id = value;
          else if (field === "data") m.data = value;
          any = true;
        }
        if (any) got.push(m);
      }
      if (enough(got)) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return got;
}

describe("dashboard API", () => {
  const dir = mkdtempSync(join(tmpdir(), "aw-dashboard-api-"));
  let broker: BrokerProcess;
  const peers: Peer[] = [];
  const track = (p: Peer): Peer => (peers.push(p), p);
  const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    const file = join(dir, "broker.json");
    writeFileSync(file, JSON.stringify({ auth: { tokens: TOKENS } }));
    broker = await startBroker(["--config", file]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("[HTTP-22] serves the page and says whether auth is on, without a token; the API still wants one", async () => {
    const page = await fetch(`${broker.http}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self' 'sha256-/);
    expect(await page.text()).toContain("/dashboard/app/main.js");
    for (const file of ["/dashboard/app/main.js", "/dashboard/vendor/uplot.js", "/dashboard/style.css"]) expect((await fetch(`${broker.http}${file}`)).status, file).toBe(200);
    expect((await fetch(`${broker.http}/dashboard`, { redirect: "manual" })).headers.get("location")).toBe("/dashboard/");
    expect(await (await fetch(`${broker.http}/dashboard/auth`)).json()).toEqual({ auth: true });
    expect((await fetch(`${broker.http}/dashboard/../v1/stats`)).status).toBe(401);
    expect((await fetch(`${broker.http}/dashboard/app/../../src/bin.js`)).status).not.toBe(200);
    expect((await fetch(`${broker.http}/v1/stats`)).status).toBe(401);
    expect(await (await fetch(`${broker.http}/v1/dashboard/session`, { headers: as("viewer") })).json()).toMatchObject({ auth: true, read_only: true, reads_all: true, can_act: false, views: { runs: expect.any(Boolean) } });
    expect(await (await fetch(`${broker.http}/v1/dashboard/session`, { headers: as("admin") })).json()).toMatchObject({ read_only: false, reads_all: true, can_act: true });
    expect(await (await fetch(`${broker.http}/v1/dashboard/session`, { headers: as("worker") })).json()).toMatchObject({ reads_all: false, can_act: false });
  });

  it("[HTTP-19] /v1/stats: counters, the latency histogram and queue depth, from the metrics", async () => {
    const agent = track(await Peer.register(broker.url, { token: "worker", capabilities: [{ name: "stats.echo" }] }));
    agent.serve(Peer.echo);
    const client = track(await Peer.register(broker.url, { token: "worker" }));
    for (let i = 0; i < 5; i++) {
      const id = await client.submit("stats.echo", i);
      await client.next("result", (r) => r.task_id === id);
    }
    const stats = (await (await fetch(`${broker.http}/v1/stats`, { headers: as("worker") })).json()) as Record<string, any>;
    expect(stats.tasks.submitted_total).toBeGreaterThanOrEqual(5);
    expect(stats.tasks.ended_total.succeeded).toBeGreaterThanOrEqual(5);
    expect(stats.latency.count).toBeGreaterThanOrEqual(5);
    expect(stats.latency.le.at(-1)).toBeNull(); // +Inf
    expect(stats.latency.counts.at(-1)).toBe(stats.latency.count);
    expect(stats.brokers).toEqual([{ broker_id: stats.broker_id, self: true, agents: 1 }]);
    expect(stats.agents).toMatchObject({ total: 1, by_status: { ready: 1 } });
    expect(stats.queues).toEqual([{ capability: "stats.echo", depth: 0 }]);
    expect(stats.last_seen[agent.agentId]).toBeGreaterThan(0);
    expect(stats.events).toMatchObject({ store: "memory", ok: true });
  });

  it("[HTTP-21] the live stream holds its rate: a gap over what it skips (agent events kept), then resumes after Last-Event-ID", async () => {
    const publisher = track(await Peer.register(broker.url, { token: "admin" }));
    const marker = track(await Peer.register(broker.url, { token: "worker", agent_id: "live-marker", capabilities: [{ name: "live.x" }] }));
    for (let i = 0; i < 500; i++) publisher.send({ type: "publish", topic: "live.flood", payload: encodePayload(i) });
    const head = async (): Promise<number> => {
      const lines = (await (await fetch(`${broker.http}/v1/events?after=0&type=message.published`, { headers: as("admin") })).text()).trim().split("\n");
      return lines.length;
    };
    await waitFor(async () => (await head()) >= 500, 10_000, "500 publishes recorded");
    // From the start at 10/s: one read of the store may send 1, so nearly everything is a gap.
    const got = await readSse(`${broker.http}/v1/dashboard/live?rate=10`, { ...as("viewer"), "last-event-id": "0" }, (m) => m.some((x) => x.event === "gap") && m.some((x) => x.event === "stats"));
    const gap = got.find((m) => m.event === "gap")!;
    const { after, to } = JSON.parse(gap.data) as { after: number; to: number };
    expect(after).toBe(0);
    expect(gap.id).toBe(String(to));
    const before = got.slice(0, got.indexOf(gap)).filter((m) => m.event === "message").map((m) => JSON.parse(m.data) as { type: string; position: number; data: { agent_id?: string } });
    // Skipped: the publishes; kept: the agent events in the range, in order.
    expect(before.every((e) => e.type.startsWith("agent.") && e.position <= to)).toBe(true);
    expect(before.some((e) => e.type === "agent.registered" && e.data.agent_id === "live-marker")).toBe(true);
    const stats = JSON.parse(got.find((m) => m.event === "stats")!.data) as { broker_id: string };
    expect(stats.broker_id).toMatch(/./);

    // Resumed after the last id it saw, at a rate above what comes: every later event, none twice.
    const lastId = [...got].reverse().find((m) => m.id !== undefined)!.id!;
    const resumed = readSse(`${broker.http}/v1/dashboard/live?rate=10000`, { ...as("admin"), "last-event-id": lastId }, (m) => m.filter((x) => x.event === "message").some((x) => (JSON.parse(x.data) as { type: string }).type === "agent.left"));
    await marker.close();
    const later = (await resumed).filter((m) => m.event === "message").map((m) => JSON.parse(m.data) as { position: number; type: string });
    const positions = later.map((e) => e.position);
    expect(positions[0]).toBe(Number(lastId) + 1);
    expect(positions).toEqual(positions.map((_, i) => Number(lastId) + 1 + i));
    expect(later.at(-1)!.type).toBe("agent.left");
  });

  it("[HTTP-21] only tokens that read everything may follow it; a bad rate is bad_frame", async () => {
    expect((await fetch(`${broker.http}/v1/dashboard/live`, { headers: as("worker") })).status).toBe(403);
    const bad = await fetch(`${broker.http}/v1/dashboard/live?rate=0`, { headers: as("admin") });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "bad_frame" } });
  });

  it("[HTTP-20] drain: the agent goes DRAINING and is sent drain; unknown ids are not_found; only admins", async () => {
    const agent = track(await Peer.register(broker.url, { token: "worker", agent_id: "drain-me", capabilities: [{ name: "drain.x" }] }));
    const drain = (id: string, token: string): Promise<Response> => fetch(`${broker.http}/v1/agents/${id}/drain`, { method: "POST", headers: as(token) });
    expect((await drain("drain-me", "worker")).status).toBe(403);
    expect(await (await drain("drain-me", "viewer")).json()).toMatchObject({ error: { code: "forbidden" } });
    const res = await drain("drain-me", "admin");
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ agent_id: "drain-me", status: "draining" });
    await agent.next("drain");
    const listed = (await (await fetch(`${broker.http}/v1/agents`, { headers: as("admin") })).json()) as { agents: { agent_id: string; status: string }[] };
    expect(listed.agents.find((a) => a.agent_id === "drain-me")?.status).toBe("draining");
    const unknown = await drain("nobody-here", "admin");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "not_found" } });
  });

  it("[AUTH-9] a read-only session registers as a client and subscribes, and every action is forbidden", async () => {
    const offers = track(await Peer.connect(broker.url));
    offers.send({ type: "register", token: "viewer", capabilities: [{ name: "x" }] });
    expect(await offers.next("error")).toMatchObject({ code: "forbidden" });
    const v = track(await Peer.register(broker.url, { token: "viewer" }));
    v.send({ type: "subscribe", topic: "news.>", ref: "s" });
    expect(await v.next("ack")).toMatchObject({ ref: "s" });
    v.send({ type: "submit", ref: "t", capability: "stats.echo", input: encodePayload(1) });
    expect(await v.next("error")).toMatchObject({ code: "forbidden", ref: "t" });
    v.send({ type: "publish", ref: "p", topic: "news.x", payload: encodePayload(1) });
    expect(await v.next("error")).toMatchObject({ code: "forbidden", ref: "p" });
    v.send({ type: "send", ref: "d", to: "drain-me", payload: encodePayload(1) });
    expect(await v.next("error")).toMatchObject({ code: "forbidden", ref: "d" });
    // A task of another token, even one it may read: held by an agent that never answers.
    track(await Peer.register(broker.url, { token: "worker", capabilities: [{ name: "auth.hold" }] }));
    const client = track(await Peer.register(broker.url, { token: "admin" }));
    const id = await client.submit("auth.hold", 1);
    v.send({ type: "cancel", ref: "c", task_id: id });
    expect(await v.next("error")).toMatchObject({ code: "forbidden" });
    expect((await fetch(`${broker.http}/v1/tasks/${id}`, { headers: as("viewer") })).status).toBe(200);
  });
});

describe("dashboard API on a two-broker mesh", () => {
  it("[HTTP-19, HTTP-20] /v1/stats lists both brokers; a drain asked of one reaches an agent on the other", async () => {
    await using mesh = await startMeshPair();
    await using agent = await Peer.register(mesh.agentUrl, { agent_id: "mesh-drainee", capabilities: [{ name: "mesh.x" }] });
    await mesh.visible("mesh-drainee");
    const stats = (await (await fetch(`${mesh.http}/v1/stats`)).json()) as { broker_id: string; brokers: { broker_id: string; self: boolean; agents: number }[] };
    expect(stats.brokers).toHaveLength(2);
    expect(stats.brokers[0]).toMatchObject({ broker_id: stats.broker_id, self: true, agents: 0 });
    expect(stats.brokers[1]).toMatchObject({ self: false, agents: 1 });
    const res = await fetch(`${mesh.http}/v1/agents/mesh-drainee/drain`, { method: "POST" });
    expect(res.status).toBe(202);
    await agent.next("drain");
    await mesh.visible("mesh-drainee", undefined, "draining");
  });
});

describe("dashboard API without an event store (--events-max 0)", () => {
  it("[HTTP-21] the live stream still carries stats; the session says there are no events", async () => {
    await using broker = await startBroker(["--events-max", "0"]);
    expect(await (await fetch(`${broker.http}/v1/dashboard/session`)).json()).toMatchObject({ auth: false, can_act: true, reads_all: true, events: false });
    const got = await readSse(`${broker.http}/v1/dashboard/live`, {}, (m) => m.filter((x) => x.event === "stats").length >= 2);
    expect(got.filter((m) => m.event === "stats")).toHaveLength(2);
    expect(got.filter((m) => m.event !== "stats")).toEqual([]);
  });
});
