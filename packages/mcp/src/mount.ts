/**
 * `/mcp` on the broker's own port: an HttpMount for `startBroker({ ...config, mounts: [mcpMount()] })`.
 * The broker checks the bearer token first; the bridge connects back to the broker that received the
 * request (its local address) with that same token.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { mcpHttpHandler } from "./http.js";
import type { CatalogOptions } from "./tools.js";
import type { Logger } from "@agentwire/sdk";

export interface McpMountOptions extends CatalogOptions {
  /** Path prefix (default /mcp). */
  prefix?: string;
  logger?: Logger;
}

/** The shape of the broker's HttpMount (`@agentwire/broker`), without depending on the broker package. */
export interface McpMount {
  readonly prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  close(): Promise<void>;
}

export function mcpMount(options: McpMountOptions = {}): McpMount {
  const handler = mcpHttpHandler((req) => ({ ...options, url: localBroker(req), token: bearer(req), name: "agentwire-mcp" }));
  return { prefix: options.prefix ?? "/mcp", handle: handler.handle, close: handler.close };
}

/** The WebSocket URL of the server that accepted `req`. */
export function localBroker(req: IncomingMessage): string {
  const host = req.socket.localAddress ?? "127.0.0.1";
  const h = host.startsWith("::ffff:") ? host.slice(7) : host;
  return `ws://${h.includes(":") ? `[${h}]` : h}:${req.socket.localPort}/`;
}

export function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}
