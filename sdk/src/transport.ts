/**
 * What the Connection needs from a WebSocket, so one core runs on Node (the `ws` package,
 * transport-node.ts) and in browsers (the native WebSocket, transport-web.ts). The package's
 * `#transport` import picks one by environment; `ConnectOptions.transport` overrides it.
 */
export interface TransportSocket {
  /** The subprotocol the broker selected (valid once open). */
  readonly protocol: string;
  readonly isOpen: boolean;
  /** Bytes queued but not yet written. */
  readonly bufferedAmount: number;
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Drops the connection without a close handshake. */
  terminate(): void;
}

export interface TransportEvents {
  open(): void;
  /** One binary message; text messages are not passed up. */
  message(data: Uint8Array): void;
  /** A failure before or during the connection; `close` follows it. */
  error(err: Error): void;
  close(code: number, reason: string): void;
}

export interface DialOptions {
  protocol: string;
  /** Sent as `Authorization: Bearer` where the platform allows headers (not in browsers: `register.token` carries it). */
  token?: string | undefined;
  maxPayload: number;
}

/** Opens one WebSocket; events arrive through `events` (`close` exactly once). */
export type Transport = (url: string, options: DialOptions, events: TransportEvents) => TransportSocket;
