/**
 * Unit tests of BrokerCore and its WebSocket adapter with the single-broker mesh port (LocalMesh) and
 * in-memory peers: a Session over a fake socket whose frames are encoded and decoded as on the wire,
 * without a network or a broker process. What only a real process or a real socket shows (framing,
 * backpressure, crashes, the mesh) stays in the suites that start the bin.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { BROKER_TO_PEER, decode, encode, encodePayload, type Frame, type FrameOf, type FrameType } from "@agentwire/wire";
import { LocalMesh } from "../src/backend.js";
import { assembleBroker, type BrokerParts } from "../src/broker.js";
import { defaults, type BrokerConfig } from "../src/config.js";

/** One in-memory connection: what the broker writes is decoded into `frames`; `send` feeds it a frame. */
class MemoryPeer {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  private readonly ws: EventEmitter;

  constructor(parts: BrokerParts, token?: string) {
    const ws = Object.assign(new EventEmitter(), {
      bufferedAmount: 0,
      pause: () => {},
      resume: () => {},
      send: (bytes: Uint8Array) => void this.frames.push(decode(bytes, { accept: BROKER_TO_PEER })),
      close: (code: number) => {
        this.closeCode ??= code;
        queueMicrotask(() => ws.emit("close", code, Buffer.alloc(0)));
      },
      terminate: () => ws.emit("close", 1006, Buffer.alloc(0)),
    });
    this.ws = ws;
    const socket = { cork: () => {}, uncork: () => {}, writableLength: 0 };
    parts.connect(ws as unknown as WebSocket, socket as unknown as Duplex, token);
  }

  send(frame: Record<string, unknown> & { type: string }): void {
    this.ws.emit("message", Buffer.from(encode(frame as Frame)), true);
  }

  /** Frames are written synchronously by the core, or after one mesh round trip (a promise). */
  async next<T extends FrameType>(type: T, match: (f: FrameOf<T>) => boolean = () => true): Promise<FrameOf<T>> {
    for (let turn = 0; turn < 50; turn++) {
      const i = this.frames.findIndex((f) => f.type === type && match(f as FrameOf<T>));
      if (i >= 0) return this.frames.splice(i, 1)[0] as FrameOf<T>;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no ${type}; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
  }
}

const parts: BrokerParts[] = [];
afterEach(() => {
  for (const p of parts.splice(0)) p.deadlines.close();
});

function broker(overrides: Partial<BrokerConfig> = {}): BrokerParts {
  const p = assembleBroker({ ...defaults(), ...overrides }, pino({ level: "silent" }), new LocalMesh(), "unit", "x");
  parts.push(p);
  return p;
}

async function register(p: BrokerParts, fields: Record<string, unknown> = {}, token?: string): Promise<MemoryPeer> {
  const peer = new MemoryPeer(p, token);
  peer.send({ type: "register", ...fields });
  await peer.next("registered");
  return peer;
}

describe("BrokerCore with the local mesh port", () => {
  it("[TASK-2][TASK-9] a task goes from submit to its agent and its result back, announced as events in order", async () => {
    const p = broker();
    const seen: string[] = [];
    p.events.on({ task: (type, task) => void seen.push(`${type}:${task.id}`) });
    const agent = await register(p, { agent_id: "echo-1", capabilities: [{ name: "echo" }] });
    const client = await register(p);
    client.send({ type: "submit", ref: "r1", capability: "echo", input: encodePayload("hi") });
    const { task_id } = await client.next("accepted", (a) => a.ref === "r1");
    const task = await agent.next("task", (t) => t.task_id === task_id);
    agent.send({ type: "result", task_id, ok: true, output: task.input, attempt: task.attempt });
    const result = await client.next("result", (r) => r.task_id === task_id);
    expect(result).toMatchObject({ ok: true, ref: "r1" });
    expect(seen).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.succeeded"].map((t) => `${t}:${task_id}`));
    expect(p.core.tasks.table.get(task_id)?.state).toBe("succeeded");
  });

  it("[REG-3][CONN-5] a refused register closes the session; a repeated one only gets an error", async () => {
    const p = broker();
    const bad = new MemoryPeer(p);
    bad.send({ type: "register", protocol: 2 });
    expect(await bad.next("error")).toMatchObject({ code: "unsupported_version", fatal: true });
    expect(bad.closeCode).toBeDefined();

    const agent = await register(p, { agent_id: "a-1" });
    agent.send({ type: "register", ref: "again" });
    expect(await agent.next("error")).toMatchObject({ code: "already_registered" });
    expect(agent.closeCode).toBeUndefined();
  });

  it("[REQ-7][AUTH-5] a request the token may not make is a failed response for its id, not an error frame", async () => {
    const p = broker({ auth: { tokens: [{ token: "t", submit: ["allowed"], send: [] }] } });
    const caller = await register(p, {}, "t");
    caller.send({ type: "request", id: "q1", capability: "other", payload: encodePayload(1), timeout_ms: 1_000 });
    expect(await caller.next("response", (r) => r.id === "q1")).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(caller.frames.filter((f) => f.type === "error")).toEqual([]);
  });

  it("[AUTH-8][TASK-15] cancel of a task this session does not follow → unknown_task with the task id as ref; the task runs on", async () => {
    const p = broker();
    const agent = await register(p, { agent_id: "hold-1", capabilities: [{ name: "hold" }] });
    const owner = await register(p);
    const other = await register(p);
    owner.send({ type: "submit", ref: "r", capability: "hold", input: encodePayload(null) });
    const { task_id } = await owner.next("accepted");
    await agent.next("task");
    other.send({ type: "cancel", task_id });
    expect(await other.next("error")).toMatchObject({ code: "unknown_task", ref: task_id, message: `task ${task_id} is not yours or not known` });
    expect(p.core.tasks.table.get(task_id)?.state).toBe("dispatched");
    owner.send({ type: "cancel", ref: "c", task_id });
    await owner.next("ack", (a) => a.ref === "c");
    expect(await owner.next("result", (r) => r.task_id === task_id)).toMatchObject({ ok: false, error: { code: "cancelled" } });
  });

  it("[ATT-2] attach to an id no broker knows → unknown_task (LocalMesh knows no other broker's tasks)", async () => {
    const p = broker();
    const client = await register(p);
    client.send({ type: "attach", ref: "a", task_id: "elsewhere.t1-1" });
    expect(await client.next("error")).toMatchObject({ code: "unknown_task", ref: "a" });
  });

  it("[LIMIT-7] a subscribe past max_subscriptions → overloaded with its ref; held patterns still ack", async () => {
    const p = broker({ maxSubscriptions: 2 });
    const s = await register(p);
    for (const topic of ["a", "b", "c", "a"]) s.send({ type: "subscribe", ref: topic + s.frames.length, topic });
    expect(s.frames.map((f) => f.type)).toEqual(["ack", "ack", "error", "ack"]);
    expect(s.frames[2]).toMatchObject({ code: "overloaded", ref: "c2" });
  });

  it("[SHUT-1] once shutting down, submit and request are refused shutting_down; the core changes nothing", async () => {
    const p = broker();
    const client = await register(p);
    const tasks: string[] = [];
    p.events.on({ task: (type) => void tasks.push(type) });
    p.state.shuttingDown = true;
    client.send({ type: "submit", ref: "s", capability: "echo", input: encodePayload(1) });
    expect(await client.next("error")).toMatchObject({ code: "shutting_down", ref: "s" });
    client.send({ type: "request", id: "q", capability: "echo", payload: encodePayload(1), timeout_ms: 1_000 });
    expect(await client.next("response", (r) => r.id === "q")).toMatchObject({ ok: false, error: { code: "shutting_down" } });
    expect(tasks).toEqual([]);
    expect([...p.core.tasks.table.values()]).toEqual([]);
  });
});
