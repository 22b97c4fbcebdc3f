/**
 * A raw-wire test peer: a real WebSocket speaking agentwire frames, with `next()` waiting for a frame
 * under a deadline (never a sleep). Frames not yet taken stay buffered in arrival order.
 */
import WebSocket from "ws";
import {
  SUBPROTOCOL,
  decode,
  encode,
  encodePayload,
  type Frame,
  type FrameOf,
  type FrameType,
  type Register,
  type Registered,
  type Task,
} from "@agentwire/wire";

export interface ConnectOptions {
  protocols?: string[];
  headers?: Record<string, string>;
}

export type TaskHandler = (task: Task, peer: Peer) => void;
export type RequestHandler = (request: FrameOf<"request">, peer: Peer) => void;

export class Peer implements AsyncDisposable {
  readonly frames: Frame[] = [];
  /** Messages from the broker that were not valid frames: always a broker bug. */
  readonly invalid: string[] = [];
  private waiter: (() => void) | undefined;
  agentId = "";
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private taskHandler: TaskHandler | undefined;
  private requestHandler: RequestHandler | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      let frame: Frame;
      try {
        if (!isBinary) throw new Error("broker sent a text message");
        frame = decode(data, { maxFrameBytes: 64 << 20 });
      } catch (err) {
        this.invalid.push(`${(err as Error).message} (${data.toString("hex").slice(0, 200)})`);
        this.waiter?.();
        return;
      }
      if (frame.type === "task" && this.taskHandler !== undefined) this.taskHandler(frame, this);
      else if (frame.type === "request" && this.requestHandler !== undefined) this.requestHandler(frame, this);
      else this.frames.push(frame);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code) => {
        this.closeCode = code;
        this.waiter?.();
        resolve(code);
      });
    });
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], { headers: options.headers, perMessageDeflate: false });
      const peer = new Peer(ws);
      ws.once("open", () => resolve(peer));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
  }

  /** Connects and registers; resolves with `registered`. */
  static async register(url: string, register: Omit<Register, "type"> = {}, options?: ConnectOptions): Promise<Peer> {
    const peer = await Peer.connect(url, options);
    peer.send({ type: "register", ...register });
    const reg: Registered = await peer.next("registered");
    peer.agentId = reg.agent_id;
    return peer;
  }

  send(frame: Frame): void {
    this.ws.send(encode(frame));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** Answers every `task` frame with the handler instead of buffering it. */
  serve(handler: TaskHandler): this {
    this.taskHandler = handler;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.type === "task") {
        this.frames.splice(i, 1);
        handler(f, this);
      }
    }
    return this;
  }

  /** Handles every forwarded `request` frame with the handler instead of buffering it. */
  answer(handler: RequestHandler): this {
    this.requestHandler = handler;
    for (const f of this.take("request")) handler(f, this);
    return this;
  }

  /** Removes and returns every buffered frame of `type`, in arrival order (for counting at scale). */
  take<T extends FrameType>(type: T): FrameOf<T>[] {
    const taken: FrameOf<T>[] = [];
    const kept: Frame[] = [];
    for (const f of this.frames) (f.type === type ? (taken as Frame[]) : kept).push(f);
    if (taken.length > 0) {
      this.frames.length = 0;
      for (const f of kept) this.frames.push(f);
    }
    return taken;
  }

  /** Replies ok with the task's input echoed back. */
  static echo: TaskHandler = (task, peer) => {
    peer.send({ type: "result", task_id: task.task_id, ok: true, output: task.input, attempt: task.attempt });
  };

  /** Takes the first buffered or future frame of `type` that satisfies `match`. */
  async next<T extends FrameType>(type: T, match: (f: FrameOf<T>) => boolean = () => true, timeoutMs = 10_000): Promise<FrameOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.invalid.length > 0) throw new Error(`broker sent an invalid frame: ${this.invalid[0]}`);
      const i = this.frames.findIndex((f) => f.type === type && match(f as FrameOf<T>));
      if (i >= 0) return this.frames.splice(i, 1)[0] as FrameOf<T>;
      if (this.closeCode !== undefined) {
        throw new Error(`${this.agentId || "peer"}: closed (${this.closeCode}) while waiting for ${type}; buffered: ${this.describe()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.agentId || "peer"}: no ${type} within ${timeoutMs} ms; buffered: ${this.describe()}`);
      await this.arrival(left);
    }
  }

  /** Resolves when a frame arrives or the socket closes, or after `ms` at most. */
  private arrival(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** Takes the next frame whatever its type (to assert what arrives first). */
  async nextAny(timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.invalid.length > 0) throw new Error(`broker sent an invalid frame: ${this.invalid[0]}`);
      if (this.closeCode !== undefined) throw new Error(`closed (${this.closeCode}) while waiting for a frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await this.arrival(left);
    }
    return this.frames.shift()!;
  }

  /**
   * Proves nothing else is pending: sends a `query` and checks its `agents` answer is the next frame
   * (the broker answers a session's frames in order).
   */
  async expectQuiet(timeoutMs = 10_000): Promise<void> {
    const ref = `quiet-${Math.random().toString(36).slice(2)}`;
    this.send({ type: "query", ref, capability: "x-none" });
    const f = await this.nextAny(timeoutMs);
    if (f.type !== "agents" || f.ref !== ref) throw new Error(`expected nothing before the query answer, got ${JSON.stringify(summary(f))}`);
  }

  /** Submits and waits for `accepted`; returns the task id. */
  async submit(capability: string, input: unknown, extra: Partial<FrameOf<"submit">> = {}): Promise<string> {
    const ref = extra.ref ?? `s-${Math.random().toString(36).slice(2)}`;
    this.send({ type: "submit", ref, capability, input: encodePayload(input), ...extra });
    const acc = await this.next("accepted", (a) => a.ref === ref);
    return acc.task_id;
  }

  describe(): string {
    return JSON.stringify(this.frames.slice(0, 10).map(summary));
  }

  async close(): Promise<void> {
    if (this.closeCode === undefined && this.ws.readyState !== WebSocket.CLOSED) {
      this.ws.close(1000);
      await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2_000))]);
      this.ws.terminate();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function summary(f: Frame): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v;
  return out;
}
