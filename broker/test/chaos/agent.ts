/**
 * The chaos test's agent: a child process speaking the raw wire (`ws` + @agentwire/wire), so it can be
 * killed with SIGKILL like a real agent. It registers one capability on one broker and reports on
 * stdout, one line each (the harness parses them; a pipe write is synchronous on Linux, so a line
 * printed before a SIGKILL is not lost):
 *
 *   REGISTERED <n> <agent_id> <broker_id> <session_id>   n-th registration of this process
 *   EXEC <task_id> <attempt> <key> <ms>                  a `task` frame arrived; work starts (key from the input)
 *   SENT <task_id> <attempt>                             its `result` was written to the socket
 *   DROPPED <task_id> <attempt>                          the connection closed before the result was sent
 *   CANCEL <task_id> <reason>                            the broker cancelled it (no result is sent)
 *   GOAWAY <grace_ms>                                    the broker shuts down: this agent drains
 *   CLOSED <code>                                        the connection closed (reconnects with backoff)
 *
 * Work takes a random `--work-min-ms`..`--work-max-ms`, then `result` ok with output
 * `{ key, task_id, attempt }`. On `goaway` it sends `drain`, finishes what it holds, closes with 1000
 * once idle (SPEC SHUT-6, DRAIN-5) and reconnects after the close; on any close it reconnects with
 * exponential backoff and jitter (HB-8) to the same `--url`. It exits on SIGTERM/SIGINT, when its
 * parent is gone, or after `--max-lifetime-ms`.
 *
 * Usage: node agent.js --url ws://127.0.0.1:PORT/ --capability NAME [--capacity 16]
 *        [--work-min-ms 5] [--work-max-ms 50] [--max-lifetime-ms 900000]
 */
import WebSocket from "ws";
import { SUBPROTOCOL, decode, decodePayload, encode, encodePayload, type Frame, type Task } from "@agentwire/wire";

interface Options {
  url: string;
  capability: string;
  capacity: number;
  workMinMs: number;
  workMaxMs: number;
  maxLifetimeMs: number;
}

function parse(argv: string[]): Options {
  const o: Options = { url: "", capability: "", capacity: 16, workMinMs: 5, workMaxMs: 50, maxLifetimeMs: 900_000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${name}: missing value`);
    switch (name) {
      case "--url": o.url = value; break;
      case "--capability": o.capability = value; break;
      case "--capacity": o.capacity = Number(value); break;
      case "--work-min-ms": o.workMinMs = Number(value); break;
      case "--work-max-ms": o.workMaxMs = Number(value); break;
      case "--max-lifetime-ms": o.maxLifetimeMs = Number(value); break;
      default: throw new Error(`unknown option ${name}`);
    }
  }
  if (o.url === "" || o.capability === "") throw new Error("--url and --capability are required");
  return o;
}

const opts = parse(process.argv.slice(2));
const out = (line: string): void => void process.stdout.write(`${line}\n`);

let stopping = false;
let registrations = 0;
let backoffMs = 0;
let reconnectTimer: NodeJS.Timeout | undefined;
let current: Connection | undefined;

/** One WebSocket session: register, heartbeats, tasks; never reused after its close. */
class Connection {
  private readonly ws: WebSocket;
  private heartbeat: NodeJS.Timeout | undefined;
  private draining = false;
  private closed = false;
  /** Tasks received on this session whose result is not sent yet: task id → work timer. */
  private readonly work = new Map<string, { timer: NodeJS.Timeout; attempt: number }>();

  constructor() {
    this.ws = new WebSocket(opts.url, [SUBPROTOCOL], { perMessageDeflate: false, handshakeTimeout: 2_000 });
    this.ws.binaryType = "nodebuffer";
    this.ws.on("open", () => this.send({ type: "register", name: "chaos-agent", capabilities: [{ name: opts.capability }], capacity: opts.capacity }));
    this.ws.on("message", (data: Buffer) => this.onFrame(data));
    this.ws.on("error", () => undefined); // followed by close
    this.ws.on("unexpected-response", (_req, res) => {
      out(`REFUSED ${res.statusCode ?? 0}`);
      this.ws.terminate();
    });
    this.ws.on("close", (code) => this.onClose(code));
  }

  private send(frame: Frame): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encode(frame));
    return true;
  }

  private onFrame(data: Buffer): void {
    let f: Frame;
    try {
      f = decode(data, { maxFrameBytes: 64 << 20 });
    } catch (err) {
      out(`INVALID ${(err as Error).message}`);
      return;
    }
    switch (f.type) {
      case "registered":
        backoffMs = 0;
        out(`REGISTERED ${++registrations} ${f.agent_id} ${f.broker_id} ${f.session_id}`);
        this.heartbeat = setInterval(() => this.beat(), f.heartbeat_interval_ms);
        return;
      case "task":
        return this.run(f);
      case "cancel": {
        const w = this.work.get(f.task_id);
        if (w !== undefined) {
          clearTimeout(w.timer);
          this.work.delete(f.task_id);
        }
        out(`CANCEL ${f.task_id} ${f.reason ?? "-"}`);
        return this.closeIfDrained();
      }
      case "goaway":
        out(`GOAWAY ${f.grace_ms}`);
        this.draining = true;
        this.send({ type: "drain" });
        this.beat();
        return this.closeIfDrained();
      case "error":
        out(`ERROR ${f.code} ${f.ref ?? "-"} ${JSON.stringify(f.message)}`);
        return;
      default:
        return;
    }
  }

  private beat(): void {
    this.send({ type: "heartbeat", in_flight: this.work.size, capacity: opts.capacity, status: this.draining ? "draining" : "ready" });
  }

  private run(task: Task): void {
    let key = "?";
    try {
      key = String((decodePayload(task.input) as { key?: unknown }).key);
    } catch {
      // an undecodable input still counts as an execution (key "?")
    }
    out(`EXEC ${task.task_id} ${task.attempt} ${key} ${Date.now()}`);
    const ms = opts.workMinMs + Math.random() * (opts.workMaxMs - opts.workMinMs);
    const timer = setTimeout(() => {
      this.work.delete(task.task_id);
      const output = encodePayload({ key, task_id: task.task_id, attempt: task.attempt });
      if (this.send({ type: "result", task_id: task.task_id, ok: true, output, attempt: task.attempt })) out(`SENT ${task.task_id} ${task.attempt}`);
      else out(`DROPPED ${task.task_id} ${task.attempt}`);
      this.closeIfDrained();
    }, ms);
    this.work.set(task.task_id, { timer, attempt: task.attempt });
  }

  /** A draining agent closes with 1000 once the work it holds has ended (DRAIN-5). */
  private closeIfDrained(): void {
    if (this.draining && this.work.size === 0 && this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }

  private onClose(code: number): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const [id, w] of this.work) {
      clearTimeout(w.timer);
      out(`DROPPED ${id} ${w.attempt}`);
    }
    this.work.clear();
    out(`CLOSED ${code}`);
    if (current === this) current = undefined;
    scheduleConnect();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

function scheduleConnect(): void {
  if (stopping || reconnectTimer !== undefined) return;
  // Exponential backoff with jitter: 50 ms, 100, 200, 400, 500, 500, ... (x 0.5..1).
  backoffMs = backoffMs === 0 ? 50 : Math.min(500, backoffMs * 2);
  const delay = backoffMs * (0.5 + Math.random() / 2);
  reconnectTimer = setTimeout(() => {
    reconnectTimer = undefined;
    if (!stopping) current = new Connection();
  }, delay);
}

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  clearTimeout(reconnectTimer);
  current?.terminate();
  process.exit(code);
}

process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
// Never outlive the harness: a parent that died leaves this process reparented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop(3);
}, 500).unref();
setTimeout(() => stop(4), opts.maxLifetimeMs).unref();

current = new Connection();
