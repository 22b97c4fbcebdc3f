/**
 * The README.md blocks of the A2A section marked `run by packages/a2a/test/readme.test.ts`, run as a
 * user's .mjs files next to @agentwire/a2a: the standalone A2A server over a broker with a `text.upper`
 * agent, then the A2A SDK client's call to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAgent, z, type Agent } from "@agentwire/sdk";
import { blocksRunBy, freePort, repoRoot, run, startBroker, type BrokerProcess, type Child } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("README.md: the A2A server and a client of it", () => {
  const blocks = blocksRunBy("README.md", "packages/a2a/test/readme.test.ts");
  let dir = "";
  let broker: BrokerProcess;
  let agent: Agent;
  let server: Child;
  let a2aPort = 0;
  const ports = (code: string): string => code.replaceAll("7420", String(broker.port)).replaceAll("7422", String(a2aPort));

  beforeAll(async () => {
    expect(blocks).toHaveLength(2);
    broker = await startBroker();
    agent = await createAgent({ url: broker.url, name: "upper" })
      .capability("text.upper", { input: z.string(), output: z.string() }, (text) => text.toUpperCase())
      .start();
    a2aPort = await freePort();
    // Inside the package, so that its name and its dependencies resolve as in a user's project.
    dir = mkdtempSync(join(repoRoot(), "packages", "a2a", ".readme-"));
    writeFileSync(join(dir, "server.mjs"), ports(blocks[0]!));
    writeFileSync(join(dir, "client.mjs"), ports(blocks[1]!));
    server = run(process.execPath, [join(dir, "server.mjs")], { label: "readme-a2a" });
    await server.waitForLine(`A2A agent at http://127.0.0.1:${a2aPort}`, 20_000);
  });
  afterAll(async () => {
    await server?.stop();
    await agent?.close();
    await broker?.stop();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("the client's message runs text.upper through the bridge", async () => {
    const client = run(process.execPath, [join(dir, "client.mjs")], { label: "readme-a2a-client" });
    const code = await client.exited;
    expect(code, client.lines.join("\n")).toBe(0);
    expect(client.lines).toContain("HELLO");
  });
});
