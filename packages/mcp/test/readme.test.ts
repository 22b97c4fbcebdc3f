/**
 * The README.md blocks of the MCP section marked `run by packages/mcp/test/readme.test.ts`: the broker
 * with `/mcp` mounted, run as a user's .mjs next to @agentwire/broker and @agentwire/mcp, then called
 * by the MCP SDK's client with the token (and refused without it).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createAgent, z, type Agent } from "@agentwire/sdk";
import { blocksRunBy, freePort, repoRoot, run, type Child } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TOKEN = "readme-token";

describe("README.md: MCP on the broker's port", () => {
  const blocks = blocksRunBy("README.md", "packages/mcp/test/readme.test.ts");
  let dir = "";
  let broker: Child;
  let agent: Agent;
  let port = 0;

  beforeAll(async () => {
    expect(blocks).toHaveLength(1);
    port = await freePort();
    // Inside the package, so that its name and its dev dependencies resolve as in a user's project.
    dir = mkdtempSync(join(repoRoot(), "packages", "mcp", ".readme-"));
    const file = join(dir, "broker.mjs");
    writeFileSync(file, blocks[0]!.replaceAll("7420", String(port)));
    broker = run(process.execPath, [file], { env: { ...process.env, AGENTWIRE_TOKEN: TOKEN }, label: "readme-broker" });
    await broker.waitForLine(/"msg":"listening"/, 20_000);
    agent = await createAgent({ url: `ws://127.0.0.1:${port}`, name: "upper", token: TOKEN })
      .capability("text.upper", { description: "Upper-cases text.", input: z.object({ text: z.string() }), output: z.object({ text: z.string() }) }, ({ text }) => ({ text: text.toUpperCase() }))
      .start();
  });
  afterAll(async () => {
    await agent?.close();
    await broker?.stop();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("refuses /mcp without the token and serves the mesh's tools with it", async () => {
    const refused = await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(401);
    const mcp = new McpClient({ name: "readme", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    try {
      expect((await mcp.listTools()).tools.map((t) => t.name)).toEqual(["text.upper"]);
      expect((await mcp.callTool({ name: "text.upper", arguments: { text: "hi" } })).structuredContent).toEqual({ text: "HI" });
    } finally {
      await mcp.close();
    }
  });
});
