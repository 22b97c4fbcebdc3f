#!/usr/bin/env node
/** agentwire-mcp: the mesh's capabilities as MCP tools, over stdio (default) or Streamable HTTP (--http). */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { DEFAULTS } from "@agentwire/sdk";
import { openBridge } from "./bridge.js";
import { mcpHttpHandler } from "./http.js";
import { bearer } from "./mount.js";
import { createMcpServer } from "./server.js";

const USAGE = `usage: agentwire-mcp [options]

An MCP server whose tools are the capabilities of an agentwire mesh; calling a tool runs a task.

options:
  --url URL            the broker's WebSocket URL (default ws://127.0.0.1:${DEFAULTS.port}; env AGENTWIRE_URL)
  --token TOKEN        bearer token for the broker (env AGENTWIRE_TOKEN); with --http and no token,
                       each MCP session uses the bearer token its requests carry
  --capabilities A,B   offer only these capabilities as tools (default: all in the registry)
  --poll-ms N          how often the registry is asked for changes, ms (default 1000)
  --http               serve MCP over Streamable HTTP instead of stdio
  --host HOST          --http: interface to listen on (default 127.0.0.1)
  --port N             --http: TCP port (default 7421, 0 = ephemeral)
  --path PATH          --http: the MCP endpoint's path (default /mcp)
  --help               print this help`;

function fail(message: string): never {
  process.stderr.write(`agentwire-mcp: ${message} (see --help)\n`);
  process.exit(2);
}

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail(`--${name}: expected an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string" },
        token: { type: "string" },
        capabilities: { type: "string" },
        "poll-ms": { type: "string" },
        http: { type: "boolean" },
        host: { type: "string" },
        port: { type: "string" },
        path: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const url = values.url ?? process.env.AGENTWIRE_URL ?? `ws://127.0.0.1:${DEFAULTS.port}`;
  if (!/^wss?:\/\/./.test(url)) fail(`--url: expected ws://host:port or wss://host:port, got ${JSON.stringify(url)}`);
  const http = values.http === true;
  if (!http && (values.host !== undefined || values.port !== undefined || values.path !== undefined)) fail("--host, --port and --path need --http");
  const path = values.path ?? "/mcp";
  if (!path.startsWith("/")) fail(`--path: expected a path starting with /, got ${JSON.stringify(path)}`);
  const options = {
    url,
    token: values.token ?? process.env.AGENTWIRE_TOKEN,
    capabilities: values.capabilities?.split(",").map((c) => c.trim()).filter((c) => c !== ""),
    pollMs: integer(values["poll-ms"], "poll-ms", 50, 3_600_000, 1_000),
  };

  if (!http) {
    // stdout is the MCP channel: the SDK's log lines must not reach it.
    console.log = console.error;
    const bridge = await openBridge(options);
    const server = createMcpServer(bridge.client, bridge.catalog);
    const stop = (): void => void bridge.close().then(() => process.exit(0));
    server.onclose = stop;
    // The MCP client closing our stdin ends the session; the broker connection would keep the process alive.
    process.stdin.once("end", stop);
    await server.connect(new StdioServerTransport());
    return;
  }

  const port = integer(values.port, "port", 0, 65535, 7421);
  const host = values.host ?? "127.0.0.1";
  const handler = mcpHttpHandler((req) => ({ ...options, token: options.token ?? bearer(req) }));
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://mcp").pathname;
    if (pathname !== path) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: `no route ${pathname}; MCP is at ${path}` } }));
      return;
    }
    handler.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32603, message: err instanceof Error ? err.message : String(err) }, id: null }));
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  const bound = (server.address() as AddressInfo).port;
  process.stderr.write(`${JSON.stringify({ level: "info", time: Date.now(), name: "agentwire-mcp", host, port: bound, path, msg: "listening" })}\n`);
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void handler.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`agentwire-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
