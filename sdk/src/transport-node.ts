/** The Node transport: the `ws` package, with frames sent within one event-loop turn leaving in one write. */
import type { Duplex } from "node:stream";
import WebSocket from "ws";
import type { Transport, TransportSocket } from "./transport.js";

/** Corked bytes after which the socket is flushed before the turn ends. */
const FLUSH_BYTES = 4 * 1024;

export const transport: Transport = (url, options, events) => {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const ws = new WebSocket(url, options.protocol, { headers, maxPayload: options.maxPayload });
  ws.binaryType = "nodebuffer";
  /** The open socket's TCP stream, corked from a turn's first send until the turn ends. */
  let socket: Duplex | undefined;
  let corked = false;
  ws.on("upgrade", (res) => (socket = res.socket));
  ws.on("open", () => events.open());
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) events.message(data);
  });
  ws.on("error", (err) => events.error(err));
  ws.on("close", (code, reason) => {
    socket = undefined;
    events.close(code, reason.toString());
  });
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
      const s = socket;
      if (!corked && s !== undefined) {
        corked = true;
        s.cork();
        setImmediate(() => {
          corked = false;
          s.uncork();
        });
      }
      ws.send(bytes, { binary: true });
      // A long turn still lets the broker start on the first frames.
      if (s !== undefined && s.writableLength >= FLUSH_BYTES) {
        s.uncork();
        s.cork();
      }
    },
    close(code, reason) {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    },
    terminate() {
      ws.terminate();
    },
  };
  return handle;
};
