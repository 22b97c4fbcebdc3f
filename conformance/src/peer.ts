/**
 * A raw agentwire endpoint over one WebSocket, used on both sides: as a peer talking to a broker under
 * test, and as the mock broker's view of an agent under test. It decodes every message with the
 * reference codec, keeps what arrived in order, and lets cases wait for a frame with a deadline.
 * Messages that fail to decode are kept as `violations`: the other side broke an ENC rule.
 */
import WebSocket, { type RawData } from "ws";
import {
  BROKER_TO_PEER,
  PEER_TO_BROKER,
  SUBPROTOCOL,
  decode,
  encode,
  isErrorCode,
  type Frame,
  type FrameOf,
  type FrameType,
} from "@agentwire/wire";
import { Failure } from "./case.js";

export interface Closed {
  code: number;
  reason: string;
}

export interface ConnectOptions {
  /** Subprotocols to offer; default [agentwire.v1]. */
  protocols?: string[];
  headers?: Record<string, string>;
}

/** Which direction the frames we receive travel: a peer receives broker→peer frames. */
export type Side = "peer" | "broker";

export class WirePeer {
  /** Every decoded frame, in arrival order. */
  readonly received: Frame[] = [];
  /** Messages that broke the encoding rules, with the reason. */
  readonly violations: string[] = [];
  /** Frame types that were well-formed but unknown to this side (ignored per ENC-13). */
  readonly unknown: string[] = [];
  readonly closed: Promise<Closed>;
  /** Arrival times (ms) of each entry of `received`. */
  readonly times: number[] = [];
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<() => void>();
  private closeInfo: Closed | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Called with every decoded frame, after it was stored. */
  onFrame: ((f: Frame) => void) | undefined;
  /** Called when a message failed to decode. */
  onViolation: (() => void) | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly side: Side,
    readonly label: string = side,
  ) {
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

  static connect(url: string, options: ConnectOptions = {}): Promise<WirePeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], { headers: options.headers ?? {}, handshakeTimeout: 10_000 });
      const peer = new WirePeer(ws, "peer");
      ws.once("open", () => resolve(peer));
      ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`upgrade refused with HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once("error", (err) => reject(err));
    });
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!isBinary) {
      this.violations.push(`text message (frames are binary, TRANS-6): ${bytes.toString("utf8").slice(0, 80)}`);
      return;
    }
    try {
      const frame = decode(bytes, { maxFrameBytes: 1 << 30, accept: this.side === "peer" ? BROKER_TO_PEER : PEER_TO_BROKER });
      if (frame.type === "error" && !isErrorCode(frame.code) && !frame.code.startsWith("x-")) {
        this.violations.push(`error code ${JSON.stringify(frame.code)} is not in the registry (ERR-5)`);
      }
      this.received.push(frame);
      this.times.push(Date.now());
      this.onFrame?.(frame);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const type = (err as { details?: { type?: string } }).details?.type;
      if (code === "unknown_type" && typeof type === "string" && this.side === "peer") this.unknown.push(type);
      else {
        this.violations.push(`${code ?? "error"}: ${(err as Error).message} (bytes ${bytes.subarray(0, 48).toString("hex")})`);
        this.onViolation?.();
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(frame: Record<string, unknown> & { type: string }): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encode(frame as Frame));
  }

  sendRaw(data: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** Finds (and consumes) the first not yet consumed frame matching `pred`, if any. */
  takeAny(pred: (f: Frame) => boolean): Frame | undefined {
    for (let i = 0; i < this.received.length; i++) {
      const f = this.received[i]!;
      if (this.consumed.has(i) || !pred(f)) continue;
      this.consumed.add(i);
      return f;
    }
    return undefined;
  }

  take<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true): FrameOf<T> | undefined {
    return this.takeAny((f) => f.type === type && pred(f as FrameOf<T>)) as FrameOf<T> | undefined;
  }

  /** Every frame of `type` received so far (consumed or not). */
  all<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true): FrameOf<T>[] {
    return this.received.filter((f): f is FrameOf<T> => f.type === type && pred(f as FrameOf<T>));
  }

  /** Waits for the next frame of `type` matching `pred`; fails the case at the deadline. */
  next<T extends FrameType>(type: T, pred: (f: FrameOf<T>) => boolean = () => true, timeoutMs = 5_000, what?: string): Promise<FrameOf<T>> {
    return this.nextAny((f) => f.type === type && pred(f as FrameOf<T>), timeoutMs, what ?? type) as Promise<FrameOf<T>>;
  }

  /** Waits for the first frame matching `pred` (one waiter, so a race never strands a frame). */
  nextAny(pred: (f: Frame) => boolean, timeoutMs = 5_000, what = "frame"): Promise<Frame> {
    const found = this.takeAny(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        const f = this.takeAny(pred);
        if (f !== undefined) return done(() => resolve(f));
        if (this.closeInfo !== undefined) done(() => reject(this.failure(`connection closed (${this.closeInfo?.code}) while waiting:`, what)));
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        settle();
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`no frame within ${timeoutMs} ms:`, what))), timeoutMs);
      this.waiters.add(waiter);
      waiter();
    });
  }

  /** Resolves with the close, or fails the case at the deadline. */
  closedWithin(timeoutMs: number, what = "the connection to close"): Promise<Closed> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Failure(`${this.label}: expected ${what} within ${timeoutMs} ms; it stayed open`)), timeoutMs);
      void this.closed.then((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  private failure(prefix: string, what: string): Failure {
    const recent = this.received.slice(-8).map((f) => summarize(f)).join(", ");
    return new Failure(`${this.label}: ${prefix} expected ${what}; last frames: [${recent}]`);
  }

  /** Sends a bare `heartbeat` every `everyMs` until stopped or closed. */
  startHeartbeat(everyMs: number, frame: () => Record<string, unknown> = () => ({})): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.send({ type: "heartbeat", ...frame() }), everyMs);
  }

  stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

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
