/**
 * The README's screenshot of the dashboard's overview, from a real run: a broker, four SDK agents on
 * three capabilities (one slow, so its queue builds up, one failing now and then), a client keeping
 * tasks flowing, and Debian's Chromium showing /dashboard/ once the charts have half a minute of data.
 *
 *   pnpm build && node broker/dist/scripts/dashboard-screenshot.js [out.png]   (default docs/dashboard-overview.png)
 */
import { join, resolve } from "node:path";
import { connect, createAgent, type Agent } from "@agentwire/sdk";
import { repoRoot, startBroker } from "@agentwire/testkit";
import pino from "pino";
import { z } from "zod";
import { HAVE_CHROMIUM, launchChromium } from "../test/helpers/browser.js";

if (process.argv[2] === "--help" || process.argv[2] === "-h") {
  process.stdout.write("usage: node broker/dist/scripts/dashboard-screenshot.js [out.png]   (default docs/dashboard-overview.png; AGENTWIRE_SCREENSHOT_SECONDS of load first, default 30)\n");
  process.exit(0);
}
const out = resolve(process.argv[2] ?? join(repoRoot(), "docs", "dashboard-overview.png"));
const SECONDS = Number(process.env.AGENTWIRE_SCREENSHOT_SECONDS ?? 30);
if (!HAVE_CHROMIUM) {
  process.stderr.write("dashboard-screenshot: /usr/bin/chromium is missing (bash scripts/ensure-chromium.sh installs it)\n");
  process.exit(2);
}
const logger = pino({ level: "silent" });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

await using broker = await startBroker(["--broker-id", "b-demo", "--events-payloads", "1024"]);
const agents: Agent[] = [];
for (const [i, caps] of [["quote.price", "doc.summarize"], ["quote.price"], ["doc.summarize", "image.resize"], ["image.resize"]].entries()) {
  let agent = createAgent({ url: broker.url, name: `worker-${i + 1}`, agentId: `worker-${i + 1}`, logger });
  for (const cap of caps) {
    agent = agent.capability(cap, { input: z.unknown(), output: z.unknown() }, async (input, ctx) => {
      ctx.progress({ step: "working" });
      // Summaries are slow (their queue grows); one resize in twenty fails.
      await sleep(cap === "doc.summarize" ? 40 + Math.random() * 60 : 2 + Math.random() * 8);
      if (cap === "image.resize" && Math.random() < 0.05) throw new Error("unsupported format");
      return input;
    });
  }
  await agent.start();
  agents.push(agent);
}
const client = await connect({ url: broker.url, name: "demo-client", logger });
let running = true;
const flow = async (capability: string, inFlight: number, pauseMs: number): Promise<void> => {
  while (running) {
    await Promise.allSettled(Array.from({ length: inFlight }, () => client.submit(capability, { at: Date.now() }, { maxAttempts: 1 })));
    await sleep(pauseMs);
  }
};
const flows = [flow("quote.price", 24, 5), flow("doc.summarize", 40, 0), flow("image.resize", 12, 10)];

await using browser = await launchChromium({ width: 1400, height: 900 });
const page = await browser.context.newPage();
await page.goto(`${broker.http}/dashboard/`);
await page.locator("#conn.open").waitFor({ timeout: 10_000 });
process.stderr.write(`dashboard-screenshot: ${SECONDS} s of load for the charts…\n`);
await sleep(SECONDS * 1000);
await page.screenshot({ path: out });
running = false;
await Promise.allSettled(flows);
await client.close();
for (const a of agents) await a.close();
process.stdout.write(`${out}\n`);
