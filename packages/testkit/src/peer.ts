/**
 * The raw-wire test peer: one WebSocket speaking agentwire frames, used by the broker suites and by
 * the conformance suite, on either side of the wire — as a peer talking to a broker (`Peer.connect`,
 * `Peer.register`), or as a mock broker's view of an agent (`new Peer(ws, { side: "broker" })`).
 *
 * Every message is decoded with the reference codec, accepting only the frame types that travel
 * towards this side. Decoded frames are logged in arrival order (`received`, `times`) and, unless a
 * `serve`/`answer` handler takes them, buffered in `pending` until a `next`/`take` consumes them.
 * Messages that break the encoding rules are kept as `violations`. Waits are event-driven under a
 * deadline (never a sleep) and fail with a `PeerError`: at the deadline, when the connection closes,
 * or once the other side sent a malformed message.
 */
import WebSocket, { type RawData } from "ws";
import {
  BROKER_TO_PEER,
  PEER_TO_BROKER,
  SUBPROTOCOL,
  decode,
  encode,
  encodePayload,
  isErrorCode,
  type Frame,
  type FrameOf,
  type FrameType,
  type Register,
  type Task,
} from "@agentwire/wire";

/** A wait on the wire failed: deadline passed, connection closed, malformed message, or upgrade refused. */
export class PeerError extends Error {
  override name = "PeerError";
  /** The HTTP status of a refused upgrade. */
  status?: number;
}

export interface Closed {
  code: number;
  reason: string;
}

/** Which side this endpoint plays: a peer receives broker→peer frames, a broker peer→broker ones. */
export type Side = "peer" | "broker";

export interface PeerOptions {
  /** Default "peer". */
  side?: Side;
  /** Names this endpoint in failure messages; default the side. */
  label?: string;
  /** Default deadline of `next`/`nextAny` in ms; default 10 000. */
  waitMs?: number;
  /**
   * A well-formed frame of a type unknown to this side is listed in `unknown` and otherwise ignored,
   * as ENC-13 asks of a peer, instead of counting as a violation. Default false: the reference
   * broker under test never sends an unknown type.
   */
  ignoreUnknownTypes?: boolean;
}

export interface ConnectOptions extends Omit<PeerOptions, "side"> {
  /** Subprotocols to offer; default [agentwire.v1]. */
  protocols?: string[];
  headers?: Record<string, string>;
  /** Offer permessage-deflate (TRANS-10 lets either side negotiate it); default false. */
  perMessageDeflate?: boolean;
}

export type TaskHandler = (task: Task, peer: Peer) => void;
export type RequestHandler = (request: FrameOf<"request">, peer: Peer) => void;

export class Peer implements AsyncDisposable {
  /** Every decoded frame, in arrival order, whether taken, handled or still pending. */
  readonly received: Frame[] = [];
  /** Arrival times (ms) of each entry of `received`. */
  readonly times: number[] = [];
  /** Received frames not yet taken (nor handled by `serve`/`answer`), in arrival order. */
  readonly pending: Frame[] = [];
  /** Messages that broke the encoding rules, with the reason. */
  readonly violations: string[] = [];
  /** Well-formed frame types unknown to this side, ignored (with `ignoreUnknownTypes`). */
  readonly unknown: string[] = [];
  readonly closed: Promise<Closed>;
  readonly side: Side;
  label: string;
  /** Set by `Peer.register` from `registered.agent_id`. */
  agentId = "";
  /** Called with every decoded frame, after it was logged. */
  onFrame: ((f: Frame) => void) | undefined;
  /** Called when a message failed to decode. */
  onViolation: (() => void) | undefined;
  private readonly waitMs: number;
  private readonly ignoreUnknownTypes: boolean;
  private readonly waiters = new Set<() => void>();
  private closeInfo: Closed | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private taskHandler: TaskHandler | undefined;
  private requestHandler: RequestHandler | undefined;

  constructor(
    readonly ws: WebSocket,
    options: PeerOptions = {},
  ) {
    this.side = options.side ?? "peer";
    this.label = options.label ?? this.side;
    this.waitMs = options.waitMs ?? 10_000;
    this.ignoreUnknownTypes = options.ignoreUnknownTypes ?? false;
    ws.binaryType = "nodebuffer";
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.stopHeartbeat();
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on("error", () => {
      /* surfaced through `closed` */
    });
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
  }

  static connect(url: string, options: ConnectOptions = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], {
        headers: options.headers ?? {},
        perMessageDeflate: options.perMessageDeflate ?? false,
        handshakeTimeout: 10_000,
      });
      const peer = new Peer(ws, { ...options, side: "peer" });
      ws.once("open", () => resolve(peer));
      ws.once("unexpected-response", (_req, res) => reject(Object.assign(new PeerError(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once("error", (err) => reject(err));
    });
  }

  /** Connects and registers; resolves once `registered` came, with `agentId` set. */
  static async register(url: string, register: Omit<Register, "type"> = {}, options?: ConnectOptions): Promise<Peer> {
    const peer = await Peer.connect(url, options);
    peer.send({ type: "register", ...register });
    peer.agentId = (await peer.next("registered")).agent_id;
    return peer;
  }

  /** Replies ok with the task's input echoed back (a `serve` handler). */
  static echo: TaskHandler = (task, peer) => {
    peer.send({ type: "result", task_id: task.task_id, ok: true, output: task.input, attempt: task.attempt });
  };

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!isBinary) {
      this.violation(`text message (frames are binary, TRANS-6): ${bytes.toString("utf8").slice(0, 80)}`);
      return;
    }
    let frame: Frame;
    try {
      frame = decode(bytes, { maxFrameBytes: 1 << 30, accept: this.side === "peer" ? BROKER_TO_PEER : PEER_TO_BROKER });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const type = (err as { details?: { type?: string } }).details?.type;
      if (code === "unknown_type" && typeof type === "string" && this.side === "peer" && this.ignoreUnknownTypes) {
        this.unknown.push(type);
        this.wake();
      } else this.violation(`${code ?? "error"}: ${(err as Error).message} (bytes ${bytes.subarray(0, 48).toString("hex")})`);
      return;
    }
    if (frame.type === "error" && !isErrorCode(frame.code) && !frame.code.startsWith("x-")) {
      this.violations.push(`error code ${JSON.stringify(frame.code)} is not in the registry (ERR-5)`);
    }
    this.received.push(frame);
    this.times.push(Date.now());
    this.onFrame?.(frame);
    if (frame.type === "task" && this.taskHandler !== undefined) this.taskHandler(frame, this);
    else if (frame.type === "request" && this.requestHandler !== undefined) this.requestHandler(frame, this);
    else this.pending.push(frame);
    this.wake();
  }

  private violation(why: string): void {
    this.violations.push(why);
    this.onViolation?.();
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Sends a frame; it need not be valid (conformance cases send broken ones on purpose). */
  send(frame: Frame | (Record<string, unknown> & { type: string })): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encode(frame as Frame));
  }

  sendRaw(data: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** Answers every `task` frame with the handler instead of buffering it (buffered ones included). */
  serve(handler: TaskHandler): this {
    this.taskHandler = handler;
    for (const f of this.takeAll("task")) handler(f, this);
    return this;
  }

  /** Handles every forwarded `request` frame with the handler instead of buffering it (buffered ones included). */
  answer(handler: RequestHandler): this {
    this.requestHandler = handler;
    for (const f of this.takeAll("request")) handler(f, this);
    return this;
  }

  /** Takes the first pending frame matching `pred`, if any. */
  takeAny(pred: (f: Frame) => boolean = () => true): Frame | undefined {
    const i = this.pending.findIndex(pred);
    return i < 0 ? undefined : this.pending.splice(i, 1)[0];
  }

  /** Takes the first pending frame of `type` matching `pred`, if any. */
  take<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true): FrameOf<T> | undefined {
    return this.takeAny((f) => f.type === type && pred(f as FrameOf<T>)) as FrameOf<T> | undefined;
  }

  /** Takes every pending frame of `type` matching `pred`, in arrival order (for counting at scale). */
  takeAll<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true): FrameOf<T>[] {
    const taken: FrameOf<T>[] = [];
    const kept: Frame[] = [];
    for (const f of this.pending) {
      if (f.type === type && pred(f as FrameOf<T>)) taken.push(f as FrameOf<T>);
      else kept.push(f);
    }
    if (taken.length > 0) {
      this.pending.length = 0;
      for (const f of kept) this.pending.push(f);
    }
    return taken;
  }

  /** Every frame of `type` matching `pred` received so far (taken or not). */
  all<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true): FrameOf<T>[] {
    return this.received.filter((f): f is FrameOf<T> => f.type === type && pred(f as FrameOf<T>));
  }

  /** Waits for and takes the first pending or future frame of `type` matching `pred`. */
  next<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true, timeoutMs = this.waitMs, what: string = type): Promise<FrameOf<T>> {
    return this.nextAny((f) => f.type === type && pred(f as FrameOf<T>), timeoutMs, what) as Promise<FrameOf<T>>;
  }

  /**
   * Waits for and takes the first pending or future frame matching `pred` (by default the next frame
   * whatever its type, to assert what arrives first). Fails with a `PeerError` at the deadline, when
   * the connection closes first, or once a malformed message arrived.
   */
  nextAny(pred: (f: Frame) => boolean = () => true, timeoutMs = this.waitMs, what = "a frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.violations.length > 0) return done(() => reject(this.failure(`malformed message (${this.violations[0]}) while waiting`, what)));
        const f = this.takeAny(pred);
        if (f !== undefined) return done(() => resolve(f));
        if (this.closeInfo !== undefined) done(() => reject(this.failure(`connection closed (${this.closeInfo?.code}) while waiting`, what)));
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`no frame within ${timeoutMs} ms`, what))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the close, or fails with a `PeerError` at the deadline. */
  closedWithin(timeoutMs: number, what = "the connection to close"): Promise<Closed> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new PeerError(`${this.who}: expected ${what} within ${timeoutMs} ms; it stayed open`)), timeoutMs);
      void this.closed.then((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  /**
   * Proves nothing else is pending: sends a `query` and checks its `agents` answer is the next frame
   * (the broker answers a session's frames in order).
   */
  async expectQuiet(timeoutMs = this.waitMs): Promise<void> {
    const ref = `quiet-${Math.random().toString(36).slice(2)}`;
    this.send({ type: "query", ref, capability: "x-none" });
    const f = await this.nextAny(() => true, timeoutMs, `the answer to query ${ref}`);
    if (f.type !== "agents" || f.ref !== ref) throw new PeerError(`${this.who}: expected nothing before the query answer, got ${summarize(f)}`);
  }

  /** Submits and waits for `accepted`; returns the task id. */
  async submit(capability: string, input: unknown, extra: Partial<FrameOf<"submit">> = {}): Promise<string> {
    const ref = extra.ref ?? `s-${Math.random().toString(36).slice(2)}`;
    this.send({ type: "submit", ref, capability, input: encodePayload(input), ...extra });
    const acc = await this.next("accepted", (a) => a.ref === ref, this.waitMs, `accepted for ${ref}`);
    return acc.task_id;
  }

  /** The first pending frames, summarized. */
  describe(): string {
    return `[${this.pending.slice(0, 10).map(summarize).join(", ")}]`;
  }

  /** Sends a `heartbeat` (with the fields `frame` returns) every `everyMs` until stopped or closed. */
  startHeartbeat(everyMs: number, frame: () => Record<string, unknown> = () => ({})): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.send({ type: "heartbeat", ...frame() }), everyMs);
  }

  stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Closes with `code`; terminates the socket if the close handshake takes over 2 s. */
  async close(code = 1000): Promise<void> {
    this.stopHeartbeat();
    if (this.closeInfo !== undefined) return;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    const timer = setTimeout(() => this.ws.terminate(), 2_000);
    await this.closed;
    clearTimeout(timer);
  }

  terminate(): void {
    this.stopHeartbeat();
    this.ws.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private get who(): string {
    return this.agentId === "" ? this.label : `${this.label} ${this.agentId}`;
  }

  private failure(cause: string, what: string): PeerError {
    const recent = this.received.slice(-8).map(summarize).join(", ");
    return new PeerError(`${this.who}: ${cause}: expected ${what}; pending: ${this.describe()}; last frames: [${recent}]`);
  }
}

/** A short one-line description of a frame for failure messages and reports. */
export function summarize(f: Frame): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(f)) {
    if (k === "type") continue;
    const s = v instanceof Uint8Array ? `bin(${Buffer.from(v).toString("hex").slice(0, 24)})` : JSON.stringify(v);
    parts.push(`${k}:${(s ?? "").slice(0, 40)}`);
  }
  return `${f.type}{${parts.join(" ")}}`;
}
