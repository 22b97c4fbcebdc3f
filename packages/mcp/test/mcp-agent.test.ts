/**
 * mcpAgent: an MCP server of the test's own (the MCP SDK's McpServer, a child process over stdio) joins
 * the mesh, and a plain agentwire client calls its tools with `client.submit`.
 */
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect, type Client } from "@agentwire/sdk";
import { repoRoot, run, startBroker, waitFor, type BrokerProcess } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mcpAgent, TOOL_ERROR, type McpAgent } from "../src/index.js";

const SERVER = join(repoRoot(), "packages", "mcp", "dist", "test", "fixtures", "text-server.js");

describe("mcpAgent", () => {
  let broker: BrokerProcess;
  let bridged: McpAgent;
  let client: Client;
  const serverLines: string[] = [];

  beforeAll(async () => {
    broker = await startBroker();
    bridged = await mcpAgent({ command: process.execPath, args: [SERVER], broker: broker.url, prefix: "text.", stderr: "pipe" });
    createInterface({ input: bridged.stderr! }).on("line", (line) => serverLines.push(line));
    client = await connect({ url: broker.url });
  });
  afterAll(async () => {
    await client?.close();
    await bridged?.close();
    await broker?.stop();
  });

  it("registers each tool as a capability with the tool's schemas", async () => {
    expect(bridged.capabilities.sort()).toEqual(["text.fails", "text.shout", "text.ticks"]);
    const [agent] = await client.agents({ capability: "text.shout" });
    const shout = agent?.capabilities.find((c) => c.name === "text.shout");
    expect(shout?.description).toBe("Upper-cases text.");
    expect(shout?.input_schema).toMatchObject({ type: "object", properties: { text: { type: "string" } }, required: ["text"] });
    expect(shout?.output_schema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });
  });

  it("runs a task as a tool call: client.submit gets the structured output", async () => {
    expect(await client.submit("text.shout", { text: "hello mesh" })).toEqual({ text: "HELLO MESH" });
  });

  it("streams the tool's progress notifications as task progress, and cancels the call with the task (the server sees the cancel)", async () => {
    const handle = client.submit("text.ticks", { n: 3 });
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const p of handle.progress()) seen.push(p);
    })().catch(() => undefined);
    await waitFor(() => (seen.length === 3 ? true : undefined), 10_000, "three progress updates");
    expect(seen).toEqual([
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
      { progress: 3, total: 3 },
    ]);
    await handle.cancel();
    await expect(handle.result).rejects.toMatchObject({ code: "cancelled" });
    await reading;
    await waitFor(() => serverLines.find((l) => l.startsWith("cancelled ")), 10_000, "the MCP server to see notifications/cancelled");
  });

  it("fails the task with mcp.tool_error when the tool answers isError", async () => {
    await expect(client.submit("text.fails", {})).rejects.toMatchObject({ code: TOOL_ERROR, message: "it went wrong" });
  });
});

describe("mcpAgent over Streamable HTTP", () => {
  it("reaches a remote MCP server by URL; client.submit calls its tool", async () => {
    const server = run(process.execPath, [SERVER, "--http"], { label: "text-server" });
    const broker = await startBroker();
    try {
      const port = Number((await server.waitForLine(/^listening (\d+)$/))[1]);
      await using bridged = await mcpAgent({ url: `http://127.0.0.1:${port}/mcp`, broker: broker.url, tools: ["shout"] });
      expect(bridged.capabilities).toEqual(["shout"]);
      expect(bridged.stderr).toBeNull();
      await using client = await connect({ url: broker.url });
      expect(await client.submit("shout", { text: "over http" })).toEqual({ text: "OVER HTTP" });
    } finally {
      await broker.stop();
      await server.stop();
    }
  });
});
