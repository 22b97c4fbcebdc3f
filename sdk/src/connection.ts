/**
 * The WebSocket connection: connect, reconnect with jittered exponential backoff, frame in, frame out.
 * It knows nothing of agents, registration or tasks; the Session above it does. The socket itself
 * comes from a Transport (the `ws` package on Node, the platform's WebSocket in browsers).
 */
import { BROKER_TO_PEER, SUBPROTOCOL, decode, encode, type Frame } from "@agentwire/wire";
import { transport as defaultTransport } from "#transport";
import { unref, type Timer } from "./log.js";
import type { Transport, TransportSocket } from "./transport.js";

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
  /** The socket closed (or never opened: `error` says why); `retryInMs` when a new attempt is scheduled. */
  close(code: number, reason: string, retryInMs: number | undefined, error: Error | undefined): void;
}

export interface ConnectionOptions {
  url: string;
  token?: string | undefined;
  backoff?: BackoffOptions | undefined;
  maxFrameBytes?: number;
  transport?: Transport | undefined;
}

/** Delay before reconnect attempt `n` (0-based): "equal jitter" over an exponential ceiling. */
export function backoffDelay(n: number, { minMs = 100, maxMs = 5_000 }: BackoffOptions = {}): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(n, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export class Connection {
  private socket: TransportSocket | undefined;
  private attempts = 0;
  private timer: Timer | undefined;
  private stopped = false;
  private readonly transport: Transport;
  maxFrameBytes: number;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? 1 << 30;
    this.transport = options.transport ?? defaultTransport;
  }

  get isOpen(): boolean {
    return this.socket?.isOpen === true;
  }

  /** Bytes queued in the socket but not yet written. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  /** Failed dials since the last accepted session. */
  get failedAttempts(): number {
    return this.attempts;
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
    const socket = this.socket;
    if (socket === undefined || !socket.isOpen) return false;
    socket.send(encode(frame));
    return true;
  }

  /** Drops the current socket; a new one is dialled after backoff (unless stopped). */
  restart(code = 1000, reason = "reconnect"): void {
    this.socket?.close(code, reason);
  }

  /** Closes for good; resolves when the socket is gone. */
  async stop(code = 1000, reason = "closing"): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      this.onGone = resolve;
      socket.close(code, reason);
      // A broker that never answers the close handshake must not hold us.
      unref(setTimeout(() => socket.terminate(), 2_000));
    });
  }

  private onGone: (() => void) | undefined;

  private dial(): void {
    let error: Error | undefined;
    const socket: TransportSocket = this.transport(
      this.options.url,
      { protocol: SUBPROTOCOL, token: this.options.token, maxPayload: this.maxFrameBytes },
      {
        open: () => {
          if (socket.protocol !== SUBPROTOCOL) {
            error = new Error(`the server did not select the ${SUBPROTOCOL} subprotocol: is ${this.options.url} an agentwire broker?`);
            socket.close(1002, `broker did not select ${SUBPROTOCOL}`);
            return;
          }
          this.events.open();
        },
        message: (data) => {
          let frame: Frame;
          try {
            frame = decode(data, { accept: BROKER_TO_PEER, maxFrameBytes: this.maxFrameBytes });
          } catch (err) {
            this.events.badFrame(err);
            return;
          }
          this.events.frame(frame);
        },
        error: (err) => (error ??= err),
        close: (code, reason) => {
          if (this.socket !== socket) return;
          this.socket = undefined;
          const gone = this.onGone;
          this.onGone = undefined;
          gone?.();
          const retryInMs = this.stopped ? undefined : backoffDelay(this.attempts++, this.options.backoff);
          this.events.close(code, reason, retryInMs, error);
          if (retryInMs !== undefined && !this.stopped) this.timer = setTimeout(() => this.dial(), retryInMs);
        },
      },
    );
    this.socket = socket;
  }
}
