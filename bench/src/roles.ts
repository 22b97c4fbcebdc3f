/**
 * Child-process roles of the benchmark: `node roles.js <role> [args...]`. Each prints one
 * "ready <json>" line once it serves, and exits on SIGTERM. Every scenario runs its middle tier
 * (relay, broker, nats-server, redis-server) and its worker in separate processes and the client in
 * the bench process, so all of them are measured with the same process split.
 */
import { WebSocketServer, WebSocket } from "ws";
import { Packr } from "msgpackr";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { createAgent, z } from "@agentwire/sdk";
import { SUBPROTOCOL, decode, encode, type Frame } from "@agentwire/wire";

const packr = new Packr({ useRecords: false });
const [role = "", ...args] = process.argv.slice(2);
const ready = (info: Record<string, unknown> = {}): void => void process.stdout.write(`ready ${JSON.stringify(info)}\n`);
process.on("SIGTERM", () => process.exit(0));

async function main(): Promise<void> {
  switch (role) {
    case "relay-server":
      return relayServer();
    case "relay-worker":
      return relayWorker(args[0] ?? "");
    case "sdk-agent":
      return sdkAgent(args[0] ?? "", Number(args[1] ?? 1024));
    case "dashboard-viewer":
      return dashboardViewer(args[0] ?? "", Number(args[1] ?? 2000));
    case "raw-agent":
      return rawAgent(args[0] ?? "", Number(args[1] ?? 1024), args[2] === "hold");
    case "nats-responder":
      return natsResponder(args[0] ?? "");
    case "socketio-server":
      return socketioServer();
    case "socketio-worker":
      return socketioWorker(args[0] ?? "");
    case "bullmq-worker":
      return bullmqWorker(Number(args[0]), Number(args[1] ?? 256));
    case "brpop-worker":
      return brpopWorker(Number(args[0]), Number(args[1] ?? 16));
    case "mesh-origin":
      return meshOrigin(Number(args[0]), args[1] ?? "", args[2] ?? "");
    case "mesh-target":
      return meshTarget(Number(args[0]), args[1] ?? "");
    default:
      throw new Error(`unknown role ${role}`);
  }
}

/** client → relay → worker → relay → client; the relay only tags messages with the client's slot. */
function relayServer(): void {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  const clients: WebSocket[] = [];
  let worker: WebSocket | undefined;
  wss.on("connection", (ws, req) => {
    if (req.url === "/worker") {
      worker = ws;
      ws.on("message", (data: Buffer) => {
        const [slot, id, payload] = packr.unpack(data) as [number, number, unknown];
        clients[slot]?.send(packr.pack([id, payload]));
      });
      return;
    }
    const slot = clients.push(ws) - 1;
    ws.on("message", (data: Buffer) => {
      const [id, payload] = packr.unpack(data) as [number, unknown];
      worker?.send(packr.pack([slot, id, payload]));
    });
  });
  wss.on("listening", () => {
    const a = wss.address();
    ready({ port: typeof a === "object" && a !== null ? a.port : 0 });
  });
}

function relayWorker(url: string): void {
  const ws = new WebSocket(`${url}/worker`);
  ws.on("open", () => ready());
  ws.on("message", (data: Buffer) => {
    const [slot, id, payload] = packr.unpack(data) as [number, number, unknown];
    ws.send(packr.pack([slot, id, payload]));
  });
}

/**
 * What an open dashboard costs the broker: its one live stream (`GET /v1/dashboard/live`) at the rate
 * the page asks, read and parsed as the page does (the page's rendering is the browser's, not the broker's).
 */
async function dashboardViewer(http: string, rate: number): Promise<void> {
  const res = await fetch(`${http}/v1/dashboard/live?rate=${rate}`);
  if (!res.ok || res.body === null) throw new Error(`dashboard stream: ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = "";
  let stats = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split("\n").find((l) => l.startsWith("data: "));
      if (data !== undefined) JSON.parse(data.slice(6));
      if (message.startsWith("event: stats") && ++stats === 1) ready({ rate });
    }
  }
}

async function sdkAgent(url: string, capacity: number): Promise<void> {
  const agent = createAgent({ url, name: "bench-echo", capacity }).capability("echo", { input: z.unknown() }, (input) => input);
  await agent.start();
  ready({ id: agent.id });
}

/** An agent speaking the wire directly: echo (or hold every task unanswered, for the heap figure). */
function rawAgent(url: string, capacity: number, hold: boolean): void {
  const ws = new WebSocket(url, SUBPROTOCOL);
  const send = (f: Frame): void => ws.send(encode(f));
  let held = 0;
  ws.on("open", () => send({ type: "register", protocol: 1, name: "bench-raw-echo", capabilities: [{ name: "echo" }], capacity }));
  ws.on("message", (data: Buffer) => {
    const f = decode(data);
    if (f.type === "registered") ready({ id: f.agent_id });
    else if (f.type === "task") {
      if (hold) {
        if (++held % 10_000 === 0) process.stdout.write(`held ${held}\n`);
        return;
      }
      send({ type: "result", task_id: f.task_id, ok: true, output: f.input, attempt: f.attempt });
    }
  });
  ws.on("close", (code, reason) => {
    process.stdout.write(`closed ${code} ${reason.toString()}\n`);
    process.exit(1);
  });
  // Keep the session alive: the broker evicts silent peers.
  setInterval(() => ws.readyState === WebSocket.OPEN && send({ type: "heartbeat", in_flight: 0, capacity }), 5_000).unref();
}

async function natsResponder(server: string): Promise<void> {
  const { connect } = await import("nats");
  const nc = await connect({ servers: server });
  nc.subscribe("echo", { callback: (_err, msg) => msg.respond(msg.data) });
  await nc.flush();
  ready();
}

async function socketioServer(): Promise<void> {
  const { createServer } = await import("node:http");
  const { Server } = await import("socket.io");
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"] });
  let worker: import("socket.io").Socket | undefined;
  io.on("connection", (socket) => {
    if (socket.handshake.auth["role"] === "worker") {
      worker = socket;
      return;
    }
    socket.on("task", async (payload: unknown, ack: (r: unknown) => void) => {
      if (worker === undefined) return ack(null);
      ack(await worker.emitWithAck("task", payload));
    });
  });
  http.listen(0, "127.0.0.1", () => {
    const a = http.address();
    ready({ port: typeof a === "object" && a !== null ? a.port : 0 });
  });
}

async function socketioWorker(url: string): Promise<void> {
  const { io } = await import("socket.io-client");
  const socket = io(url, { transports: ["websocket"], auth: { role: "worker" } });
  socket.on("task", (payload: unknown, ack: (r: unknown) => void) => ack(payload));
  socket.on("connect", () => ready());
}

async function bullmqWorker(port: number, concurrency: number): Promise<void> {
  const { Worker } = await import("bullmq");
  const worker = new Worker("bench", async (job) => job.data as unknown, { connection: { host: "127.0.0.1", port }, concurrency });
  await worker.waitUntilReady();
  ready();
}

/** The seed's worker: BRPOP a task list, LPUSH the answer to response:{task_id}. */
async function brpopWorker(port: number, loops: number): Promise<void> {
  const { Redis } = await import("ioredis");
  const out = new Redis({ host: "127.0.0.1", port });
  const lanes = Array.from({ length: loops }, () => new Redis({ host: "127.0.0.1", port }));
  await Promise.all([out.ping(), ...lanes.map((l) => l.ping())]);
  ready();
  for (const r of lanes) {
    void (async () => {
      for (;;) {
        const got = await r.brpop("tasks", 0);
        if (got === null) continue;
        const t = JSON.parse(got[1]) as { id: string; input: unknown };
        await out.lpush(`response:${t.id}`, JSON.stringify({ output: t.input }));
      }
    })();
  }
}

// ---- zero-logic two-broker mesh: the Redis work of agentwire's mesh (docs/decisions/003) without its bookkeeping ----

/** The key shapes of broker/src/redis/keys.ts. */
const meshKeys = (id: string) => ({
  tasks: `aw:{b:${id}}:tasks`,
  ready: `aw:{b:${id}}:ready`,
  attempts: `aw:{b:${id}}:attempts`,
  response: (taskId: string) => `aw:{b:${id}}:response:${taskId}`,
});
const GROUP = "brokers";
const BATCH = 128;

/** The broker's own scripts, loaded from its sources: store-responses (response keys + ready entries) and ack-2 (XACK + XDEL + HDEL of recorded attempts). */
type MeshRedis = Redis & {
  storeResponses(numberOfKeys: number, ...keysAndArgv: (string | number)[]): Promise<number>;
  ack(stream: string, attempts: string, group: string, ...ids: string[]): Promise<number>;
};

async function meshConn(port: number, me: string, role: string): Promise<MeshRedis> {
  const { Redis } = await import("ioredis");
  const conn = new Redis({ host: "127.0.0.1", port, connectionName: `aw:${me}:${role}`, maxRetriesPerRequest: null, enableAutoPipelining: role === "cmd" });
  for (const [name, file, keys] of [["storeResponses", "store-responses", undefined], ["ack", "ack-2", 2]] as const) {
    const lua = readFileSync(new URL(`../../../broker/src/redis/${file}.lua`, import.meta.url), "utf8");
    conn.defineCommand(name, { numberOfKeys: keys, lua });
  }
  await conn.ping();
  return conn as MeshRedis;
}

const listen = (wss: WebSocketServer): void =>
  void wss.on("listening", () => {
    const a = wss.address();
    ready({ port: typeof a === "object" && a !== null ? a.port : 0 });
  });

/**
 * Origin side: a client's [id, payload] becomes an XADD onto the target's task stream; one BLMPOP loop
 * on this side's ready list, whose entries carry the responses ("<task id>\n<response>"), answered to
 * the clients. Two connections whatever the load: `cmd` and `ready`.
 */
async function meshOrigin(port: number, me: string, target: string): Promise<void> {
  const [cmd, blocking] = await Promise.all([meshConn(port, me, "cmd"), meshConn(port, me, "ready")]);
  const mine = meshKeys(me);
  const tasks = meshKeys(target).tasks;
  const clients: WebSocket[] = [];
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (ws) => {
    const slot = clients.push(ws) - 1;
    ws.on("message", (data: Buffer) => {
      const [id, payload] = packr.unpack(data) as [number, string];
      // One field `t`: the task as one MessagePack map, as the broker writes it.
      const t = packr.pack({ task_id: `${slot}.${id}`, capability: "echo", input: payload, origin_broker: me, target_broker: target, timeout_ms: 30_000, attempt: 1 });
      void cmd.xadd(tasks, "*", "t", t);
    });
  });
  listen(wss);
  for (;;) {
    const reply = await blocking.blmpop(1, 1, mine.ready, "RIGHT", "COUNT", BATCH);
    if (reply === null) continue;
    for (const entry of reply[1]) {
      const nl = entry.indexOf("\n");
      const dot = entry.indexOf(".");
      clients[Number(entry.slice(0, dot))]?.send(packr.pack([Number(entry.slice(dot + 1, nl)), (JSON.parse(entry.slice(nl + 1)) as { output: string }).output]));
    }
  }
}

/**
 * Target side: one XREADGROUP loop (COUNT, BLOCK) on this side's stream; each entry goes to the worker;
 * the answers of one event-loop turn are stored with one store-responses call per origin, then their
 * entries acknowledged with one ack-2. Two connections whatever the load: `cmd` and `tasks`.
 */
async function meshTarget(port: number, me: string): Promise<void> {
  const [cmd, reader] = await Promise.all([meshConn(port, me, "cmd"), meshConn(port, me, "tasks")]);
  const tasks = meshKeys(me).tasks;
  await cmd.xgroup("CREATE", tasks, GROUP, "$", "MKSTREAM");
  const running = new Map<number, { entry: string; id: string; origin: string; timeout: number }>();
  let next = 0;
  let worker: WebSocket | undefined;
  let done: { entry: string; id: string; origin: string; timeout: number; output: string }[] = [];
  const flush = (): void => {
    const batch = done;
    done = [];
    const origin = meshKeys(batch[0]!.origin); // one origin in this scenario
    const args: (string | number)[] = [origin.ready, ...batch.map((t) => origin.response(t.id))];
    for (const t of batch) args.push(t.id, t.timeout + 30_000, JSON.stringify({ ok: true, output: t.output, attempt: 1 }));
    void cmd.storeResponses(batch.length + 1, ...args).then(() => cmd.ack(tasks, meshKeys(me).attempts, GROUP, ...batch.map((t) => t.entry)));
  };
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (ws) => {
    worker = ws;
    ws.on("message", (data: Buffer) => {
      const [n, , output] = packr.unpack(data) as [number, number, string];
      const t = running.get(n);
      if (t === undefined) return;
      running.delete(n);
      done.push({ ...t, output });
      if (done.length === 1) setImmediate(flush);
    });
  });
  listen(wss);
  for (;;) {
    const reply = (await reader.xreadgroupBuffer("GROUP", GROUP, me, "COUNT", BATCH, "BLOCK", 1_000, "STREAMS", tasks, ">")) as [Buffer, [Buffer, Buffer[]][]][] | null;
    for (const [, entries] of reply ?? [])
      for (const [entry, fields] of entries) {
        const t = packr.unpack(fields[1]!) as { task_id: string; origin_broker: string; timeout_ms: number; input: string };
        const n = next++;
        running.set(n, { entry: entry.toString(), id: t.task_id, origin: t.origin_broker, timeout: t.timeout_ms });
        worker?.send(packr.pack([n, 0, t.input]));
      }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`role ${role}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
