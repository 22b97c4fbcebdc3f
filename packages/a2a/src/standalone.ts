/** An A2A server of its own port over a broker: `a2aServer({ url, port })`. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { a2aHandler, type A2aHandlerOptions } from "./server.js";

export interface A2aServerOptions extends Omit<A2aHandlerOptions, "url"> {
  /** The broker's WebSocket URL. */
  url: string;
  host?: string;
  /** TCP port (default 0: the kernel picks one). */
  port?: number;
}

export interface A2aServer extends AsyncDisposable {
  /** The A2A endpoint, e.g. http://127.0.0.1:7422 (the card is at `<url>/.well-known/agent-card.json`). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the A2A agent on its own port. Without `token`, each request's bearer token is the one the
 * bridge connects to the broker with, so the broker's auth decides what the caller may do.
 */
export async function a2aServer(options: A2aServerOptions): Promise<A2aServer> {
  const handler = a2aHandler(options);
  const server = createServer((req, res) => handler.handle(req, res));
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(options.port ?? 0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await handler.close();
  };
  return { url: `http://${host}:${port}${handler.prefix}`, close, [Symbol.asyncDispose]: close };
}
