/**
 * agentwire-mcp against a real broker and real agents, driven by the MCP SDK's own client: over stdio
 * (the bin as a child process), over Streamable HTTP (the bin with --http), and mounted on the broker's
 * port at /mcp behind its bearer auth.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { defaults, startBroker as startBrokerInProcess } from "@agentwire/broker";
import { createAgent, z, type Agent } from "@agentwire/sdk";
import { repoRoot, run, startBroker, waitFor, type BrokerProcess, type Child } from "@agentwire/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpHttpHandler, mcpMount } from "../src/index.js";
import { startMathAgent, Steps, type WaitLog } from "./mesh.js";

const BIN = join(repoRoot(), "packages", "mcp", "dist", "src", "bin.js");

let broker: BrokerProcess;
let agent: Agent;
const log: WaitLog = { started: [], aborted: [], steps: new Steps() };

beforeAll(async () => {
  broker = await startBroker();
  agent = await startMathAgent(broker.url, log);
});
afterAll(async () => {
  await agent?.close();
  await broker?.stop();
});

interface Connected {
  mcp: McpClient;
  close(): Promise<void>;
}

const transports: [string, () => Promise<Connected>][] = [
  [
    "stdio",
    async () => {
      const mcp = new McpClient({ name: "test", version: "1.0.0" });
      await mcp.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "--url", broker.url, "--poll-ms", "100"], stderr: "pipe" }));
      return { mcp, close: () => mcp.close() };
    },
  ],
  [
    "streamable http",
    async () => {
      const child: Child = run(process.execPath, [BIN, "--url", broker.url, "--poll-ms", "100", "--http", "--port", "0"], { label: "agentwire-mcp" });
      const line = await child.waitForLine(/"msg":"listening"/);
      const { port } = JSON.parse(line.input!) as { port: number };
      const mcp = new McpClient({ name: "test", version: "1.0.0" });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
      return {
        mcp,
        close: async () => {
          await mcp.close();
          await child.stop();
        },
      };
    },
  ],
];

describe.each(transports)("agentwire-mcp over %s", (_name, open) => {
  let c: Connected;
  beforeAll(async () => {
    c = await open();
  });
  afterAll(async () => {
    await c?.close();
  });

  it("lists the mesh's capabilities as tools with their JSON Schemas", async () => {
    const { tools } = await c.mcp.listTools();
    const add = tools.find((t) => t.name === "math.add");
    expect(add?.description).toBe("Adds two numbers.");
    expect(add?.inputSchema).toMatchObject({ type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] });
    expect(add?.outputSchema).toMatchObject({ type: "object", properties: { sum: { type: "number" } } });
    // A capability whose output is not an object: MCP wants an object, so it is wrapped as `output`.
    expect(tools.find((t) => t.name === "count.up")?.outputSchema).toMatchObject({ type: "object", properties: { output: { type: "number" } } });
  });

  it("calls a tool as a task and returns its output", async () => {
    const result = await c.mcp.callTool({ name: "math.add", arguments: { a: 2, b: 3 } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ sum: 5 });
    expect(result.content).toEqual([{ type: "text", text: '{"sum":5}' }]);
  });

  it("maps task progress to MCP progress notifications", async () => {
    const seen: Progress[] = [];
    log.steps.reset();
    const onprogress = (p: Progress): void => {
      seen.push(p);
      log.steps.saw(p.progress);
    };
    const result = await c.mcp.callTool({ name: "count.up", arguments: { n: 3 } }, undefined, { onprogress });
    expect(result.structuredContent).toEqual({ output: 3 });
    expect(seen.map((p) => [p.progress, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
  });

  it("cancels the task when the MCP call is cancelled; the agent sees the abort", async () => {
    const before = log.started.length;
    const abort = new AbortController();
    const call = c.mcp.callTool({ name: "wait.forever", arguments: {} }, undefined, { signal: abort.signal });
    const taskId = await waitFor(() => log.started[before], 10_000, "the task to start on the agent");
    abort.abort("the user gave up");
    await expect(call).rejects.toThrow();
    await waitFor(() => (log.aborted.includes(taskId) ? true : undefined), 10_000, "the agent to see the abort");
  });

  it("ends the call with an error result when the task is cancelled on the mesh", async () => {
    const before = log.started.length;
    const call = c.mcp.callTool({ name: "wait.forever", arguments: {} });
    const taskId = await waitFor(() => log.started[before], 10_000, "the task to start on the agent");
    const res = await fetch(`${broker.http}/v1/tasks/${encodeURIComponent(taskId)}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const result = await call;
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: "text", text: expect.stringMatching(/^cancelled: /) }]);
  });

  it("announces tools/list_changed as agents register and leave", async () => {
    let changes = 0;
    c.mcp.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const names = async (): Promise<string[]> => (await c.mcp.listTools()).tools.map((t) => t.name);
    const echo = await createAgent({ url: broker.url, name: "echo" })
      .capability("echo.say", { input: z.string(), output: z.string() }, (s) => s)
      .start();
    await waitFor(() => (changes >= 1 ? true : undefined), 10_000, "list_changed after the agent registered");
    expect(await names()).toContain("echo.say");
    // Its input and output are strings: MCP wants objects, so they travel as `input` and `output`.
    expect((await c.mcp.callTool({ name: "echo.say", arguments: { input: "hi" } })).structuredContent).toEqual({ output: "hi" });
    const seen = changes;
    await echo.close();
    await waitFor(() => (changes > seen ? true : undefined), 10_000, "list_changed after the agent left");
    expect(await names()).not.toContain("echo.say");
  });
});

describe("agentwire-mcp mounted on the broker's port at /mcp", () => {
  const TOKEN = "mcp-secret";
  let server: Awaited<ReturnType<typeof startBrokerInProcess>>;
  let math: Agent;

  beforeAll(async () => {
    server = await startBrokerInProcess({ ...defaults(), port: 0, auth: { tokens: [{ token: TOKEN }] }, mounts: [mcpMount({ pollMs: 100 })] }, pino({ level: "silent" }));
    const url = `ws://127.0.0.1:${server.address.port}/`;
    math = await createAgent({ url, name: "math", token: TOKEN }).capability("math.add", { input: z.object({ a: z.number(), b: z.number() }), output: z.object({ sum: z.number() }) }, ({ a, b }) => ({ sum: a + b })).start();
  }, 30_000);
  afterAll(async () => {
    await math?.close();
    await server?.close();
  });

  it("refuses a request without the broker's token with 401", async () => {
    const res = await fetch(`http://127.0.0.1:${server.address.port}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("agentwire-mcp --http without --token passes each session's bearer token on: none gets 401, the token works", async () => {
    const child = run(process.execPath, [BIN, "--url", `ws://127.0.0.1:${server.address.port}/`, "--http", "--port", "0"], { label: "agentwire-mcp" });
    try {
      const { port } = JSON.parse((await child.waitForLine(/"msg":"listening"/)).input!) as { port: number };
      const url = new URL(`http://127.0.0.1:${port}/mcp`);
      await expect(new McpClient({ name: "test", version: "1.0.0" }).connect(new StreamableHTTPClientTransport(url))).rejects.toMatchObject({ code: 401, message: expect.stringContaining("unauthorized") });
      const mcp = new McpClient({ name: "test", version: "1.0.0" });
      await mcp.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
      expect((await mcp.listTools()).tools.map((t) => t.name)).toEqual(["math.add"]);
      await mcp.close();
    } finally {
      await child.stop();
    }
  });

  it("lists and calls the mesh's tools with the token", async () => {
    const mcp = new McpClient({ name: "test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${server.address.port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    try {
      const { tools } = await mcp.listTools();
      expect(tools.map((t) => t.name)).toEqual(["math.add"]);
      const result = await mcp.callTool({ name: "math.add", arguments: { a: 40, b: 2 } });
      expect(result.structuredContent).toEqual({ sum: 42 });
    } finally {
      await mcp.close();
    }
  });
});

describe("mcpHttpHandler's session bound", () => {
  it("closes the oldest session once maxSessions are open: its next request is told the session is unknown", async () => {
    const handler = mcpHttpHandler(() => ({ url: broker.url }), { maxSessions: 2 });
    const server = createServer((req, res) => void handler.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
    const clients = [0, 1, 2].map(() => new McpClient({ name: "test", version: "1.0.0" }));
    try {
      for (const mcp of clients) await mcp.connect(new StreamableHTTPClientTransport(url));
      await expect(clients[0]!.listTools()).rejects.toThrow(/unknown MCP session|404/);
      for (const mcp of clients.slice(1)) expect((await mcp.listTools()).tools.map((t) => t.name)).toContain("math.add");
    } finally {
      await Promise.allSettled(clients.map((c) => c.close()));
      await handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("agentwire-mcp over stdio, its lifetime", () => {
  it("exits 0 once the MCP client closes its stdin", async () => {
    const child = run(process.execPath, [BIN, "--url", broker.url], { label: "agentwire-mcp", stdio: ["pipe", "pipe", "pipe"] });
    // Up and connected to the broker: it answers initialize.
    child.proc.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`);
    await child.waitForLine(/"id":1,.*"serverInfo"|"serverInfo".*"id":1/);
    child.proc.stdin!.end();
    expect(await child.exited).toBe(0);
  });
});
