/**
 * MCP's Streamable HTTP transport over the mesh: one MCP session per `initialize`, each with its own
 * server, all of one token sharing a bridge. Serves a standalone port (`agentwire-mcp --http`) and the
 * broker's own at `/mcp` (`mcpMount`), where the broker checked the bearer token before and the bridge
 * connects back to it with the caller's token, so the token's ACL applies to what the tools do.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { AgentwireError } from "@agentwire/sdk";
import { openBridge, type Bridge, type BridgeOptions } from "./bridge.js";
import { createMcpServer } from "./server.js";

const MAX_BODY_BYTES = 4 << 20;
/** Sessions kept at once by default; past it the oldest is closed (a client that vanished without DELETE leaves one behind). */
const MAX_SESSIONS = 1_000;

interface McpSession {
  transport: StreamableHTTPServerTransport;
  token: string;
}

export interface McpHttpHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every MCP session and closes the bridges. */
  close(): Promise<void>;
}

/**
 * A Node HTTP handler for MCP over Streamable HTTP. `bridgeOptions(req)` says which broker and token a
 * new session's bridge uses; sessions of the same URL and token share one.
 */
export function mcpHttpHandler(bridgeOptions: (req: IncomingMessage) => BridgeOptions, limits: { maxSessions?: number } = {}): McpHttpHandler {
  const maxSessions = limits.maxSessions ?? MAX_SESSIONS;
  const sessions = new Map<string, McpSession>();
  const bridges = new Map<string, Promise<Bridge>>();

  const bridgeFor = (options: BridgeOptions): Promise<Bridge> => {
    const key = `${options.url} ${options.token ?? ""}`;
    let bridge = bridges.get(key);
    if (bridge === undefined) {
      bridge = openBridge(options);
      bridges.set(key, bridge);
      bridge.catch(() => bridges.delete(key)); // a failed connect is tried again by the next session
    }
    return bridge;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const options = bridgeOptions(req);
    const token = options.token ?? "";
    const id = req.headers["mcp-session-id"];
    const body = req.method === "POST" ? await readJson(req) : undefined;
    if (body instanceof Error) return rpcError(res, 400, -32700, body.message);
    if (typeof id === "string") {
      const session = sessions.get(id);
      // A session is its creator's: another token is told it does not exist.
      if (session === undefined || session.token !== token) return rpcError(res, 404, -32001, "unknown MCP session");
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) return rpcError(res, 400, -32000, "no mcp-session-id: the first request of a session is initialize");
    let bridge: Bridge;
    try {
      bridge = await bridgeFor(options);
    } catch (err) {
      // The broker refused the token (the caller's own, passed on): the caller is told so.
      if (err instanceof AgentwireError && (err.code === "unauthorized" || err.code === "forbidden")) return rpcError(res, err.code === "unauthorized" ? 401 : 403, -32001, `${err.code}: ${err.message}`);
      return rpcError(res, 502, -32603, `cannot reach the agentwire broker: ${err instanceof Error ? err.message : String(err)}`);
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        if (sessions.size >= maxSessions) void sessions.values().next().value?.transport.close();
        sessions.set(sid, { transport, token });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await createMcpServer(bridge.client, bridge.catalog).connect(transport);
    await transport.handleRequest(req, res, body);
  };

  return {
    handle,
    async close() {
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
      sessions.clear();
      const open = [...bridges.values()];
      bridges.clear();
      await Promise.allSettled(open.map(async (b) => (await b).close()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return new Error(`body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    return new Error(`body is not JSON: ${(err as Error).message}`);
  }
}

function rpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const text = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
