/**
 * The browser transport: the platform's WebSocket. Browsers send no custom headers on an upgrade, so
 * the token travels in `register` only (the broker accepts it there [AUTH]); the page's Origin is
 * checked against the broker's `--allowed-origins`.
 */
import type { Transport, TransportSocket } from "./transport.js";

// The platform's WebSocket, declared here so the SDK compiles without the DOM library.
interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: (() => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: (() => void) | null;
  onclose: ((e: { code: number; reason: string }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
declare const WebSocket: { new (url: string, protocol: string): WebSocketLike; readonly OPEN: number };

export const transport: Transport = (url, options, events) => {
  const ws = new WebSocket(url, options.protocol);
  ws.binaryType = "arraybuffer";
  let closed = false;
  ws.onopen = () => events.open();
  ws.onmessage = (e) => {
    if (e.data instanceof ArrayBuffer) events.message(new Uint8Array(e.data));
  };
  ws.onerror = () => events.error(new Error(`WebSocket error on ${url}`));
  ws.onclose = (e) => {
    if (closed) return;
    closed = true;
    events.close(e.code, e.reason);
  };
  const handle: TransportSocket = {
    get protocol() {
      return ws.protocol;
    },
    get isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(bytes) {
      ws.send(bytes);
    },
    close(code, reason) {
      // Browsers only let a page send 1000 or 3000-4999.
      ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    },
    terminate() {
      ws.close();
      if (!closed) {
        closed = true;
        events.close(1006, "terminated");
      }
    },
  };
  return handle;
};
