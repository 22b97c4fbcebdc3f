/**
 * Child-process roles of the benchmark: `node roles.js <role> [args...]`. Each prints one
 * "ready <json>" line once it serves, and exits on SIGTERM. Every scenario runs its middle tier
 * (relay, broker, nats-server, redis-server) and its worker in separate processes and the client in
 * the bench process, so all of them are measured with the same process split.
 */
import { WebSocketServer, WebSocket } from "ws";
import { Packr } from "msgpackr";
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

main().catch((err: unknown) => {
  process.stderr.write(`role ${role}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
