/**
 * agentwire-mcp on one broker of a mesh, the agents on the other: the registry query the tool list
 * follows spans the mesh, so a tool appears when an agent registers on the other broker, runs there,
 * and disappears (list_changed) when it leaves.
 */
import { join } from "node:path";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { createAgent, z } from "@agentwire/sdk";
import { repoRoot, startMeshPair, waitFor, type RunningBroker } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(repoRoot(), "packages", "mcp", "dist", "src", "bin.js");

describe("agentwire-mcp across a mesh", () => {
  let mesh: RunningBroker;
  let mcp: McpClient;
  beforeAll(async () => {
    mesh = await startMeshPair();
    mcp = new McpClient({ name: "test", version: "1.0.0" });
    await mcp.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, "--url", mesh.url, "--poll-ms", "100"], stderr: "pipe" }));
  }, 60_000);
  afterAll(async () => {
    await mcp?.close();
    await mesh?.stop();
  });

  it("lists, calls and drops the tool of an agent on the other broker", async () => {
    let changes = 0;
    mcp.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const agent = await createAgent({ url: mesh.agentUrl, name: "far" })
      .capability("far.double", { description: "Doubles a number.", input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) }, ({ n }) => ({ n: 2 * n }))
      .start();
    await mesh.visible(agent.id!);
    await waitFor(() => (changes >= 1 ? true : undefined), 10_000, "list_changed for the far agent");
    const tool = (await mcp.listTools()).tools.find((t) => t.name === "far.double");
    expect(tool?.inputSchema).toMatchObject({ properties: { n: { type: "number" } } });
    expect((await mcp.callTool({ name: "far.double", arguments: { n: 21 } })).structuredContent).toEqual({ n: 42 });
    const seen = changes;
    await agent.close();
    await mesh.gone(agent.id!);
    await waitFor(() => (changes > seen ? true : undefined), 10_000, "list_changed once it left");
    expect((await mcp.listTools()).tools.map((t) => t.name)).not.toContain("far.double");
  });
});
