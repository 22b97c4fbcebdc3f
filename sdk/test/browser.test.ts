import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokerBin } from "@agentwire/testkit";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, type Agent, type Client } from "../src/index.js";
import { bundleBrowser } from "../scripts/bundle-browser.js";
import { HAVE_BROKER, backoff, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

/** Debian's Chromium; `bash scripts/ensure-chromium.sh` (run by `pnpm test`) installs it. */
const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const TITLE = HAVE_CHROMIUM ? "the SDK in Chromium" : `the SDK in Chromium (skipped: ${CHROMIUM} is missing; bash scripts/ensure-chromium.sh installs it)`;

/** Whether this broker checks WebSocket Origins (`--allowed-origins`); older brokers refuse the unknown flag. */
function brokerHasAllowedOrigins(): boolean {
  return execFileSync(process.execPath, [brokerBin(), "--help"], { encoding: "utf8" }).includes("--allowed-origins");
}

/** Serves the page, its script and the bundle from loopback; everything else is 404. */
function servePage(bundleFile: string): Promise<Server> {
  const files: Record<string, { type: string; body: Buffer }> = {
    "/": { type: "text/html", body: Buffer.from(`<!doctype html><meta charset="utf-8"><title>agentwire</title><script type="module" src="/page.js"></script>`) },
    "/page.js": { type: "text/javascript", body: readFileSync(new URL("./browser/page.js", import.meta.url)) },
    "/agentwire.js": { type: "text/javascript", body: readFileSync(bundleFile) },
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? ""];
    res.writeHead(file === undefined ? 404 : 200, { "content-type": file?.type ?? "text/plain" }).end(file?.body ?? "not found");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe.skipIf(!HAVE_BROKER || !HAVE_CHROMIUM)(TITLE, () => {
  const dir = mkdtempSync(join(tmpdir(), "agentwire-browser-"));
  let http: Server;
  let broker: TestBroker;
  let agent: Agent;
  let publisher: Client;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const bundle = await bundleBrowser(join(dir, "agentwire.js"));
    http = await servePage(bundle.file);
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    // The page's origin differs from the broker's (another port): a broker that checks Origins must list it.
    broker = await sdkBroker(brokerHasAllowedOrigins() ? ["--allowed-origins", origin] : []);
    agent = createAgent({ url: broker.url, name: "node-worker", logger, backoff }).capability(
      "text.shout",
      { input: z.object({ text: z.string() }), output: z.object({ shouted: z.string() }) },
      ({ text }, ctx) => {
        ctx.progress({ step: 1, of: text });
        ctx.progress({ step: 2, of: text });
        return { shouted: text.toUpperCase() };
      },
    );
    await agent.start();
    publisher = await connect({ url: broker.url, name: "node-publisher", logger, backoff });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.exposeFunction("subscribed", () => publisher.publish("news.browser", { headline: "from node" }));
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => "connectFailure" in globalThis);
  });

  afterAll(async () => {
    await browser?.close();
    await publisher?.close();
    await agent?.close();
    await broker?.stop();
    await new Promise((resolve) => http?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("connects from the page, streams a Node agent's task, awaits another, and receives a topic Node publishes to", async () => {
    const args = { url: broker.url, capability: "text.shout", topic: "news.>" };
    const run = page.evaluate((a) => (globalThis as unknown as { scenario(a: unknown): Promise<unknown> }).scenario(a), args);
    const got = (await within(run, 30_000, "the page's scenario")) as Record<string, unknown>;

    expect(got.streamed).toEqual([
      { type: "progress", data: { step: 1, of: "streamed" } },
      { type: "progress", data: { step: 2, of: "streamed" } },
      { type: "result", output: { shouted: "STREAMED" } },
    ]);
    expect(got.progress).toEqual([
      { step: 1, of: "submitted" },
      { step: 2, of: "submitted" },
    ]);
    expect(got.submitted).toEqual({ id: expect.any(String), output: { shouted: "SUBMITTED" } });
    expect(got.incoming).toEqual({ from: publisher.id, topic: "news.browser", payload: { headline: "from node" } });
    expect(got.globals).toEqual({ Buffer: "undefined", process: "undefined", setImmediate: "undefined" });
    expect(pageErrors).toEqual([]);
  });

  it("rejects a connect to something that is not a broker with ConnectError", async () => {
    const notABroker = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    const run = page.evaluate((url) => (globalThis as unknown as { connectFailure(url: string): Promise<unknown> }).connectFailure(url), notABroker);
    await expect(within(run, 10_000, "the page's failed connect")).resolves.toEqual({ connectError: true, code: "connect_failed", retryable: true });
  });
});
