/**
 * The gaps of issue #12 §5, each closed and pinned: /metrics behind auth, task ownership over HTTP,
 * send/request ACLs, tokens that restrict agent ids, oversized messages, deep HTTP JSON, topic ACLs
 * and the subscription bound [HTTP-1, HTTP-3, HTTP-9, HTTP-10, MESH-5, AUTH-*, REG-4, REQ-7, ENC-8,
 * LIMIT-7].
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LISTENING, run, waitFor } from "@agentwire/testkit";
import { encodePayload, type Publish, type Registered, type Subscribe } from "@agentwire/wire";
import { STORES, brokerBin, registerOn, startBroker, startMeshPair, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const TOKENS = [
  { token: "root", admin: true },
  { token: "alice" },
  { token: "bob" },
  { token: "pricer", agent_ids: ["pricer-*"] },
  { token: "sender", send: ["svc-*"], submit: ["svc.*"] },
  { token: "markets", publish: ["market.>"], subscribe: ["market.>"] },
  { token: "narrow", subscribe: ["market.*"] },
];
const MAX_FRAME = 2 << 20;

function configFile(config: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "aw-security-")), "broker.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
}

function call(base: string, method: string, path: string, token?: string, body?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${base}${path}`, { method, headers, body });
}

async function errorOf(res: Response): Promise<{ status: number; code?: string; message?: string }> {
  const { error } = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: error?.code, message: error?.message };
}

describe("security (memory, auth on)", () => {
  let broker: RunningBroker;
  const peers: Peer[] = [];
  const track = (p: Peer): Peer => (peers.push(p), p);
  const http = (method: string, path: string, token?: string, body?: string) => call(broker.http, method, path, token, body);

  beforeAll(async () => {
    broker = await startBroker(["--config", configFile({ auth: { tokens: TOKENS } }), "--max-frame-bytes", String(MAX_FRAME)]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
  });

  it("[HTTP-1] /metrics needs a known bearer token", async () => {
    for (const token of [undefined, "wrong"]) {
      expect(await errorOf(await http("GET", "/metrics", token))).toMatchObject({ status: 401, code: "unauthorized" });
    }
    const res = await http("GET", "/metrics", "alice");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("agentwire_connections");
  });

  it("[AUTH-8][HTTP-9][HTTP-10] a task is read and cancelled over HTTP only by the token that submitted it, or an admin", async () => {
    const holder = track(await registerOn(broker, { token: "root", agent_id: "holder", capabilities: [{ name: "hold" }] }));
    const viaHttp = (await (await http("POST", "/v1/tasks", "alice", JSON.stringify({ capability: "hold" }))).json()) as { task_id: string };
    const client = track(await Peer.register(broker.url, { token: "alice" }));
    const viaWs = await client.submit("hold", 1);
    const unknown = await errorOf(await http("GET", "/v1/tasks/no-such-task", "bob"));
    for (const id of [viaHttp.task_id, viaWs]) {
      await holder.next("task", (t) => t.task_id === id);
      for (const method of ["GET", "DELETE"]) {
        // The same answer as for a task that does not exist: nothing tells bob the task is there.
        const err = await errorOf(await http(method, `/v1/tasks/${id}`, "bob"));
        expect({ ...err, message: err.message?.replace(id, "no-such-task") }).toEqual(unknown);
        expect(unknown).toMatchObject({ status: 404, code: "unknown_task" });
      }
      expect(await (await http("GET", `/v1/tasks/${id}`, "alice")).json()).toMatchObject({ task_id: id, state: "dispatched" });
      expect(await (await http("GET", `/v1/tasks/${id}`, "root")).json()).toMatchObject({ task_id: id, state: "dispatched" });
    }
    expect(await (await http("DELETE", `/v1/tasks/${viaWs}`, "alice")).json()).toEqual({ task_id: viaWs, state: "cancelled" });
    expect(await client.next("result", (r) => r.task_id === viaWs)).toMatchObject({ ok: false, error: { code: "cancelled" } });
    expect(await (await http("DELETE", `/v1/tasks/${viaHttp.task_id}`, "root")).json()).toEqual({ task_id: viaHttp.task_id, state: "cancelled" });
  });

  it("[AUTH-7] send to an agent id outside the token's send list → forbidden with ref, nothing delivered", async () => {
    const svc = track(await registerOn(broker, { token: "root", agent_id: "svc-1" }));
    const other = track(await registerOn(broker, { token: "root", agent_id: "other-1" }));
    const sender = track(await Peer.register(broker.url, { token: "sender" }));
    sender.send({ type: "send", to: "other-1", payload: encodePayload("no"), ref: "m1" });
    expect(await sender.next("error")).toMatchObject({ code: "forbidden", ref: "m1" });
    sender.send({ type: "send", to: "svc-1", payload: encodePayload("yes"), ref: "m2" });
    expect(await sender.next("ack")).toMatchObject({ ref: "m2" });
    expect(await svc.next("message")).toMatchObject({ from: sender.agentId });
    await other.expectQuiet();
    await sender.expectQuiet();
  });

  it("[AUTH-5][AUTH-7][REQ-7] request by id outside the send list, or by capability outside the submit list → failed response forbidden", async () => {
    const answer = (f: { id: string }, p: Peer) => p.send({ type: "response", id: f.id, ok: true, payload: encodePayload("hi") });
    track(await registerOn(broker, { token: "root", agent_id: "svc-a", capabilities: [{ name: "svc.echo" }] })).answer(answer);
    const other = track(await registerOn(broker, { token: "root", agent_id: "other-a", capabilities: [{ name: "other.echo" }] }));
    const sender = track(await Peer.register(broker.url, { token: "sender" }));
    sender.send({ type: "request", id: "r1", to: "other-a", payload: encodePayload(1), timeout_ms: 2_000 });
    expect(await sender.next("response", (r) => r.id === "r1")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    sender.send({ type: "request", id: "r2", capability: "other.echo", payload: encodePayload(1), timeout_ms: 2_000 });
    expect(await sender.next("response", (r) => r.id === "r2")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    sender.send({ type: "request", id: "r3", to: "svc-a", payload: encodePayload(1), timeout_ms: 2_000 });
    expect(await sender.next("response", (r) => r.id === "r3")).toMatchObject({ ok: true });
    sender.send({ type: "request", id: "r4", capability: "svc.echo", payload: encodePayload(1), timeout_ms: 2_000 });
    expect(await sender.next("response", (r) => r.id === "r4")).toMatchObject({ ok: true });
    await other.expectQuiet();
  });

  it("[REG-4][AUTH-3] a token with an agent_ids list must register with an agent_id from it", async () => {
    const p = track(await Peer.connect(broker.url));
    p.send({ type: "register", token: "pricer" });
    expect(await p.next("error")).toMatchObject({ code: "forbidden", fatal: true });
    expect((await p.closed).code).toBe(1008);
    const ok = track(await Peer.register(broker.url, { token: "pricer", agent_id: "pricer-1" }));
    expect(ok.agentId).toBe("pricer-1");
  });

  it.each([
    ["one 3 MiB message", (p: Peer) => p.sendRaw(Buffer.alloc(3 << 20, 0x61))],
    [
      "a message of three 1 MiB fragments",
      (p: Peer) => {
        for (let i = 0; i < 3; i++) p.ws.send(Buffer.alloc(1 << 20, 0x61), { binary: true, fin: i === 2 });
      },
    ],
  ])("[ENC-8] %s, past max_frame_bytes + 64 KiB: the fatal frame_too_large error comes before close 1009", async (_name, sendTooBig) => {
    const p = track(await Peer.register(broker.url, { token: "alice" }));
    sendTooBig(p);
    expect(await p.next("error")).toMatchObject({ code: "frame_too_large", fatal: true });
    expect((await p.closed).code).toBe(1009);
    const again = track(await Peer.register(broker.url, { token: "alice" }));
    await again.expectQuiet();
  });

  it("[HTTP-3] JSON nested 200,000 deep → 400 bad_frame on every JSON route; the broker still serves", async () => {
    const n = 200_000;
    const deep = { arrays: `${"[".repeat(n)}${"]".repeat(n)}`, objects: `${'{"a":'.repeat(n)}1${"}".repeat(n)}` };
    for (const doc of Object.values(deep)) {
      for (const [path, body] of [["/v1/tasks", `{"capability":"hold","input":${doc}}`], ["/v1/publish/market.deep", doc]] as const) {
        expect(await errorOf(await http("POST", path, "root", body))).toMatchObject({ status: 400, code: "bad_frame" });
      }
    }
    // At the limit a body still passes.
    const limit = 512;
    const atLimit = await http("POST", "/v1/publish/market.deep", "root", `${"[".repeat(limit)}${"]".repeat(limit)}`);
    expect(atLimit.status).toBe(202);
    expect(await errorOf(await http("POST", "/v1/publish/market.deep", "root", `${"[".repeat(limit + 1)}${"]".repeat(limit + 1)}`))).toMatchObject({ status: 400, code: "bad_frame" });
    expect((await http("GET", "/v1/agents", "root")).status).toBe(200);
  });

  it("[AUTH-6][TOPIC-10] publish and subscribe lists are topic patterns: publish by match, subscribe by containment", async () => {
    /** What the broker answers a publish or subscribe with: "ack", or the code of the error carrying its ref. */
    const answer = async (p: Peer, frame: Publish | Subscribe): Promise<string> => {
      p.send(frame);
      const got = await p.nextAny();
      return `${frame.type} ${frame.topic}: ${got.type === "ack" && got.ref === frame.ref ? "ack" : got.type === "error" && got.ref === frame.ref ? got.code : JSON.stringify(got)}`;
    };
    const m = track(await Peer.register(broker.url, { token: "markets" }));
    for (const [topic, want] of [["market.eu.x", "ack"], ["market.x", "ack"], ["market", "forbidden"], ["other.x", "forbidden"]] as const) {
      expect(await answer(m, { type: "publish", topic, payload: encodePayload(1), ref: "p" })).toBe(`publish ${topic}: ${want}`);
      expect([topic, (await http("POST", `/v1/publish/${topic}`, "markets", "1")).status]).toEqual([topic, want === "ack" ? 202 : 403]);
    }
    const subscribes = [["market.*", "ack"], ["market.eu.>", "ack"], ["market.x", "ack"], ["market.>", "ack"], [">", "forbidden"], ["*.x", "forbidden"], ["market", "forbidden"], ["*", "forbidden"]] as const;
    for (const [topic, want] of subscribes) expect(await answer(m, { type: "subscribe", topic, ref: "s" })).toBe(`subscribe ${topic}: ${want}`);
    const n = track(await Peer.register(broker.url, { token: "narrow" }));
    for (const [topic, want] of [["market.x", "ack"], ["market.*", "ack"], ["market.>", "forbidden"], ["market.x.y", "forbidden"], ["*.x", "forbidden"]] as const) {
      expect(await answer(n, { type: "subscribe", topic, ref: "s" })).toBe(`subscribe ${topic}: ${want}`);
    }
  });

  it("[LIMIT-7] registered announces max_subscriptions, 1000 by default", async () => {
    const p = track(await Peer.connect(broker.url));
    p.send({ type: "register", token: "alice" });
    const reg: Registered = await p.next("registered");
    expect(reg.max_subscriptions).toBe(1000);
  });
});

describe("security: configuration", () => {
  /** Exit code of the bin, or "listening" when it started (it is then stopped). */
  async function outcome(args: string[]): Promise<{ code: number | string; lines: string[] }> {
    const child = run(process.execPath, [brokerBin(), "--port", "0", ...args]);
    const started = child.waitForLine(LISTENING).then(
      () => "listening" as const,
      () => undefined,
    );
    const code = await Promise.race([child.exited, started.then((s) => s ?? child.exited)]);
    await child.stop();
    return { code, lines: child.lines };
  }

  it.each([
    [{ publish: ["market.>.x"] }, /auth\.tokens\.0\.publish\.0: not a valid topic pattern/],
    [{ subscribe: ["market..x"] }, /auth\.tokens\.0\.subscribe\.0: not a valid topic pattern/],
  ])("[AUTH-6] a token list %j that is not a topic pattern → one line, exit 2", async (acl, message) => {
    const { code, lines } = await outcome(["--config", configFile({ auth: { tokens: [{ token: "t", ...acl }] } })]);
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it("[LIMIT-7] --max-subscriptions must be a positive integer", async () => {
    const { code, lines } = await outcome(["--max-subscriptions", "0"]);
    expect(code).toBe(2);
    expect(lines).toEqual(['agentwire-broker: --max-subscriptions: expected integer 1..1048576, got "0"']);
  });
});

describe("security: subscription bound", () => {
  // Beside conformance broker.topic.max-subscriptions (default bound): checks --max-subscriptions sets the announced bound.
  it("[LIMIT-7] a subscribe past --max-subscriptions → overloaded with ref and no effect; held patterns and unsubscribe still work", async () => {
    await using b = await startBroker(["--max-subscriptions", "3"]);
    await using p = await Peer.connect(b.url);
    p.send({ type: "register" });
    expect((await p.next("registered")).max_subscriptions).toBe(3);
    for (const topic of ["a.1", "a.2", "a.3", "a.1"]) {
      p.send({ type: "subscribe", topic, ref: `s-${topic}` });
      expect(await p.nextAny()).toEqual({ type: "ack", ref: `s-${topic}` });
    }
    p.send({ type: "subscribe", topic: "a.4", ref: "over" });
    expect(await p.nextAny()).toMatchObject({ type: "error", code: "overloaded", ref: "over" });
    p.send({ type: "publish", topic: "a.4", payload: encodePayload(1), ref: "p1" });
    expect(await p.nextAny()).toEqual({ type: "ack", ref: "p1" }); // no message: a.4 was not added
    p.send({ type: "unsubscribe", topic: "a.1", ref: "u" });
    expect(await p.nextAny()).toEqual({ type: "ack", ref: "u" });
    p.send({ type: "subscribe", topic: "a.4", ref: "s-a.4" });
    expect(await p.nextAny()).toEqual({ type: "ack", ref: "s-a.4" });
    p.send({ type: "publish", topic: "a.4", payload: encodePayload(2), ref: "p2" });
    expect(await p.next("message")).toMatchObject({ topic: "a.4" });
  });
});

describe("security: mesh", () => {
  let mesh: RunningBroker;
  beforeAll(async () => {
    mesh = await startMeshPair(["--config", configFile({ auth: { tokens: TOKENS } }), "--result-ttl-ms", "1000"], STORES[0]);
  });
  afterAll(async () => {
    await mesh?.stop();
  });

  it("[MESH-5][AUTH-8] a task known to a broker only by its stored mesh outcome is shown to admin tokens only", async () => {
    await using agent = await registerOn(mesh, { token: "root", agent_id: "mesh-echo", capabilities: [{ name: "echo" }] });
    agent.serve(Peer.echo);
    const done = (await (await call(mesh.http, "POST", "/v1/tasks?wait=10000", "alice", JSON.stringify({ capability: "echo", input: 7 }))).json()) as { task_id: string; ok: boolean };
    expect(done.ok).toBe(true);
    const path = `/v1/tasks/${done.task_id}`;
    // B ran it for A: once B forgot its own record (1 s TTL), B answers from the stored outcome.
    await waitFor(async () => {
      const res = await call(mesh.agentHttp, "GET", path, "root");
      const view = res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
      return view !== undefined && !("capability" in view) ? view : undefined;
    }, 15_000, "broker B to answer from the stored outcome");
    expect(await errorOf(await call(mesh.agentHttp, "GET", path, "alice"))).toMatchObject({ status: 404, code: "unknown_task" });
    expect(await (await call(mesh.agentHttp, "GET", path, "root")).json()).toMatchObject({ task_id: done.task_id, state: "succeeded", output: 7 });
  });
});
