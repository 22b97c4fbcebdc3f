/**
 * The WebSocket transport: connect, reconnect with jittered exponential backoff, frame in, frame out.
 * It knows nothing of agents, registration or tasks; the Session above it does.
 */
import { BROKER_TO_PEER, SUBPROTOCOL, decode, encode, type Frame } from "@agentwire/wire";
import type { Duplex } from "node:stream";
import WebSocket from "ws";

export interface BackoffOptions {
  /** First reconnect delay, ms (default 100). */
  minMs?: number;
  /** Largest reconnect delay, ms (default 5000). */
  maxMs?: number;
}

export interface ConnectionEvents {
  /** A socket opened; the session sends `register` now. */
  open(): void;
  /** One decoded frame from the broker. */
  frame(frame: Frame): void;
  /** A frame the broker sent that this peer could not decode. */
  badFrame(err: unknown): void;
  /** The socket closed; `willReconnect` tells whether a new attempt is scheduled. */
  close(code: number, reason: string, willReconnect: boolean): void;
}

export interface ConnectionOptions {
  url: string;
  token?: string | undefined;
  backoff?: BackoffOptions | undefined;
  maxFrameBytes?: number;
}

/** Delay before reconnect attempt `n` (0-based): "equal jitter" over an exponential ceiling. */
export function backoffDelay(n: number, { minMs = 100, maxMs = 5_000 }: BackoffOptions = {}): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(n, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Corked bytes after which the socket is flushed before the turn ends. */
const FLUSH_BYTES = 4 * 1024;

export class Connection {
  private ws: WebSocket | undefined;
  /** The open socket's TCP stream, corked from a turn's first send until the turn ends. */
  private socket: Duplex | undefined;
  private corked = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  maxFrameBytes: number;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? 1 << 30;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket but not yet written. */
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  start(): void {
    this.stopped = false;
    this.dial();
  }

  /** Call once the broker accepted the session: the next failure starts backoff from the minimum. */
  resetBackoff(): void {
    this.attempts = 0;
  }

  /** Sends one frame; false when no socket is open (the caller treats it as a lost connection). */
  send(frame: Frame): boolean {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    // Frames sent within one event-loop turn leave in one write, not one syscall each.
    const socket = this.socket;
    if (!this.corked && socket !== undefined) {
      this.corked = true;
      socket.cork();
      setImmediate(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    ws.send(encode(frame), { binary: true });
    // A long turn still lets the broker start on the first frames.
    if (socket !== undefined && socket.writableLength >= FLUSH_BYTES) {
      socket.uncork();
      socket.cork();
    }
    return true;
  }

  /** Drops the current socket; a new one is dialled after backoff (unless stopped). */
  restart(code = 1000, reason = "reconnect"): void {
    this.ws?.close(code, reason);
  }

  /** Closes for good; resolves when the socket is gone. */
  async stop(code = 1000, reason = "closing"): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
      // A broker that never answers the close handshake must not hold us.
      setTimeout(() => ws.terminate(), 2_000).unref();
    });
  }

  private dial(): void {
    const headers: Record<string, string> = {};
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    const ws = new WebSocket(this.options.url, SUBPROTOCOL, { headers, maxPayload: this.maxFrameBytes });
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    ws.on("upgrade", (res) => {
      this.socket = res.socket;
    });
    ws.on("open", () => {
      if (ws.protocol !== SUBPROTOCOL) {
        ws.close(1002, `broker did not select ${SUBPROTOCOL}`);
        return;
      }
      this.events.open();
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return; // brokers send binary only; ignore anything else
      let frame: Frame;
      try {
        frame = decode(data, { accept: BROKER_TO_PEER, maxFrameBytes: this.maxFrameBytes });
      } catch (err) {
        this.events.badFrame(err);
        return;
      }
      this.events.frame(frame);
    });
    ws.on("error", () => {
      // 'close' follows every 'error'; reconnect is decided there.
    });
    ws.on("close", (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.socket = undefined;
      this.events.close(code, reason.toString(), !this.stopped);
      if (!this.stopped) this.timer = setTimeout(() => this.dial(), backoffDelay(this.attempts++, this.options.backoff));
    });
  }
}
