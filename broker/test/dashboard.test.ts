/**
 * The live dashboard in a real browser: Debian's Chromium through playwright-core, against a real
 * broker (auth on: an admin, a read-only and a worker token) and real SDK agents and clients. The page
 * loads with no console errors, shows an agent within a second of its registration, a task's timeline
 * once it ended, updates live as tasks flow (and holds still while paused), cancels a running task
 * (the handler sees the abort), shows a workflow run as its graph and cancels it, and drains an agent; a read-only token sees no actions and the API
 * refuses them with 403 [AUTH-9, HTTP-19..22]. Screenshots of every view go to broker/test/.screenshots/
 * (git-ignored) for a reviewer to look at.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createAgent, type Agent, type Client } from "@agentwire/sdk";
import { startBroker, waitFor, type BrokerProcess } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import type { Page } from "playwright-core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { HAVE_CHROMIUM, launchChromium, type LaunchedBrowser } from "./helpers/browser.js";

const TOKENS = { admin: "dash-admin-token", viewer: "dash-viewer-token", worker: "dash-worker-token" } as const;
const SHOTS = join(import.meta.dirname, ".screenshots");
const logger = pino({ level: "silent" });
const backoff = { minMs: 20, maxMs: 250 };
const TITLE = HAVE_CHROMIUM ? "the dashboard in Chromium" : "the dashboard in Chromium (skipped: /usr/bin/chromium is missing; bash scripts/ensure-chromium.sh installs it)";

describe.skipIf(!HAVE_CHROMIUM)(TITLE, () => {
  const dir = mkdtempSync(join(tmpdir(), "agentwire-dashboard-"));
  let broker: BrokerProcess;
  let browser: LaunchedBrowser;
  let page: Page;
  let client: Client;
  const agents: Agent[] = [];
  const consoleErrors: string[] = [];
  /** Tasks of capability `slow` that started, and those whose handler saw the abort. */
  const started = new Set<string>();
  const aborted = new Set<string>();

  const agent = async (agentId: string, pool?: string): Promise<Agent> => {
    const a = createAgent({ url: broker.url, name: agentId, agentId, token: TOKENS.worker, logger, backoff, pool })
      .capability("echo", { input: z.unknown(), output: z.unknown() }, (input, ctx) => {
        ctx.progress({ step: "echoing" });
        return input;
      })
      .capability("slow", { input: z.unknown(), output: z.unknown() }, (_input, ctx) => {
        started.add(ctx.task.id);
        return new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            aborted.add(ctx.task.id);
            reject(ctx.signal.reason);
          });
        });
      });
    await a.start();
    agents.push(a);
    return a;
  };
  const watch = (p: Page): Page => {
    p.on("console", (m) => void (m.type() === "error" && consoleErrors.push(`${p.url()}: ${m.text()}`)));
    p.on("pageerror", (e) => consoleErrors.push(`${p.url()}: ${e.message}`));
    p.on("response", (r) => void (r.status() >= 400 && consoleErrors.push(`${r.request().method()} ${r.url()}: ${r.status()}`)));
    return p;
  };
  const login = async (p: Page, token: string, hash = ""): Promise<void> => {
    await p.goto(`${broker.http}/dashboard/${hash}`);
    await p.locator("#login input").fill(token);
    await p.locator("#login button").click();
    await p.locator("#conn.open").waitFor({ timeout: 10_000 });
  };
  const open = async (hash: string): Promise<void> => {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await page.locator(`main[data-view="${hash.slice(1).split("/")[0]}"]`).waitFor();
  };
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const api = (path: string, token: string, method = "GET", body?: unknown): Promise<Response> =>
    fetch(`${broker.http}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const config = join(dir, "broker.json");
    writeFileSync(config, JSON.stringify({ auth: { tokens: [{ token: TOKENS.admin, admin: true }, { token: TOKENS.viewer, read_only: true }, { token: TOKENS.worker }] } }));
    broker = await startBroker(["--config", config, "--events-payloads", "4096", "--heartbeat-interval-ms", "500", "--heartbeat-timeout-ms", "5000"]);
    await agent("worker-1");
    client = await connect({ url: broker.url, name: "dashboard-test-client", token: TOKENS.admin, logger, backoff });
    browser = await launchChromium();
    page = watch(await browser.context.newPage());
  });

  afterAll(async () => {
    await browser?.[Symbol.asyncDispose]();
    await client?.close();
    for (const a of agents) await a.close().catch(() => {});
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks for a token, then shows the overview from the live stream", async () => {
    await login(page, TOKENS.admin);
    await page.locator('[data-card="agents"] .value', { hasText: "1" }).waitFor();
    await expect(page.locator('[data-card="brokers"] .value').textContent()).resolves.toBe("1");
    expect(await page.locator("[data-action]").count()).toBe(0); // the overview has no actions
  });

  it("shows an agent that registers within a second", async () => {
    await open("#agents");
    await page.locator('[data-agent="worker-1"]').waitFor();
    await agent("fresh-1");
    // The registration is answered (start resolved): the page shows it within a second.
    await page.locator('[data-agent="fresh-1"]').waitFor({ timeout: 1_000 });
    await shot("agents");
  });

  it("shows a task's timeline after it completes: its events, attempts and progress", async () => {
    const handle = client.submit("echo", { hello: "dashboard" });
    expect(await handle).toEqual({ hello: "dashboard" });
    const id = await handle.id;
    await open(`#tasks/${encodeURIComponent(id)}`);
    const timeline = page.locator("#timeline");
    await timeline.locator('li[data-type="task.succeeded"]').waitFor();
    const types = await timeline.locator("li").evaluateAll((lis) => lis.map((li) => li.getAttribute("data-type")));
    expect(types).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.running", "task.progress", "task.succeeded"]);
    await expect(page.locator("#attempts tbody tr").count()).resolves.toBe(1);
    await expect(page.locator(".task-head .badge").textContent()).resolves.toBe("succeeded");
    await expect(page.locator("pre.output").textContent()).resolves.toContain("dashboard");
    // An ended task offers retry, not cancel.
    await expect(page.locator('[data-action="cancel"]').count()).resolves.toBe(0);
    await shot("task-timeline");
    // Retry submits it again from its recorded input: the page opens the new task's timeline.
    await page.locator('[data-action="retry"]').click();
    await page.waitForFunction((old) => {
      const hash = (globalThis as unknown as { location: { hash: string } }).location.hash;
      return hash.startsWith("#tasks/") && !hash.endsWith(old);
    }, encodeURIComponent(id));
    await page.locator('#timeline li[data-type="task.succeeded"]').waitFor();
    expect(await page.locator("pre.output").textContent()).toContain("dashboard");
  });

  it("updates live as tasks flow, holds still while paused and catches up on resume", async () => {
    await open("#tasks");
    const flow = async (n: number): Promise<string[]> => {
      const handles = Array.from({ length: n }, () => client.submit("echo", { n }));
      await Promise.all(handles);
      return Promise.all(handles.map(async (h) => await h.id));
    };
    const [first] = await flow(20);
    await page.locator(`#live-tasks [data-task="${first}"]`).waitFor();

    await page.locator("#pause").click();
    await page.locator("body.paused").waitFor();
    const [during] = await flow(5);
    // The page still receives (its count moves) but renders nothing new.
    await page.locator("#paused-note", { hasText: /paused · [1-9][\d,]* events since/ }).waitFor();
    await expect(page.locator(`#live-tasks [data-task="${during}"]`).count()).resolves.toBe(0);
    await page.locator("#pause").click();
    await page.locator(`#live-tasks [data-task="${during}"]`).waitFor();
    await shot("tasks");

    await open("#overview");
    await flow(50);
    await page.locator('[data-card="tps"] .value').filter({ hasNotText: /^(0\.0|–)$/ }).waitFor();
    await shot("overview");
  });

  it("stays responsive with the stream at its top rate (10,000 events/s): the page aggregates", async () => {
    const flood = watch(await browser.context.newPage());
    await login(flood, TOKENS.admin, "?rate=10000#events");
    // Publishes are one event each and cost the broker little: a bounded burst of 40,000.
    const publisher = await connect({ url: broker.url, name: "flood", token: TOKENS.admin, logger, backoff });
    try {
      for (let i = 0; i < 40; i++) {
        for (let j = 0; j < 1_000; j++) publisher.publish("flood.test", { i, j });
        await new Promise((resolve) => setImmediate(resolve));
      }
      // While the events arrive the page answers clicks and renders capped lists.
      await flood.locator("#pause").click();
      await flood.locator("body.paused").waitFor();
      await flood.locator("#pause").click();
      await flood.locator("#event-counts", { hasText: /^[1-9]\d{0,2}(,\d{3})+ received/ }).waitFor({ timeout: 30_000 });
      expect(await flood.locator("#live-events tbody tr").count()).toBeLessThanOrEqual(100);
      await flood.screenshot({ path: join(SHOTS, "events.png"), fullPage: true });
    } finally {
      await publisher.close();
      await flood.close();
    }
  });

  it("cancels a running task: the agent's handler sees the abort", async () => {
    const handle = client.submit("slow", {});
    const id = await handle.id;
    await waitFor(() => started.has(id), 10_000, "the slow task started");
    await open(`#tasks/${encodeURIComponent(id)}`);
    await page.locator('#timeline li[data-type="task.dispatched"]').waitFor();
    await page.locator('[data-action="cancel"]').click();
    await waitFor(() => aborted.has(id), 10_000, "the handler saw the abort");
    await expect(handle).rejects.toMatchObject({ code: "cancelled" });
    await page.locator('#timeline li[data-type="task.cancelled"]').waitFor();

    // Found again by a server-side search: capability and state over the recorded events.
    await open("#tasks");
    await page.locator('#task-search [name="capability"]').fill("slow");
    await page.locator('#task-search [name="state"]').selectOption("cancelled");
    await page.locator("#task-search button").click();
    await page.locator(`#search-results [data-task="${id}"]`).waitFor();
    expect(await page.locator("#search-results tbody tr").count()).toBe(1);
  });

  it("shows a pool once GET /v1/pools answers: its size, members and decisions", async () => {
    const supervisor = await Peer.register(broker.url, { token: TOKENS.worker, name: "pool-supervisor" });
    try {
      supervisor.send({ type: "pool", ref: "p1", name: "echoers", capabilities: ["echo"], min: 1, max: 4 });
      await supervisor.next("ack");
      await agent("pooled-1", "echoers");
      // The tab appears with the session: a new load of the page.
      await page.reload();
      await page.locator('[data-view="pools"]').click();
      const pool = page.locator('[data-pool="echoers"]');
      await pool.waitFor();
      await pool.locator("td", { hasText: "pooled-1" }).waitFor();
      await shot("pools");
    } finally {
      await supervisor.close();
    }
  });

  it("shows a workflow run as its graph, each step's state and attempts, and cancels a running run: its step's agent sees the abort", async () => {
    const workflow = {
      workflow: 1,
      name: "dashboard-flow",
      version: "1.0.0",
      steps: [
        { id: "first", capability: "echo" },
        { id: "wait", capability: "slow", after: ["first"] },
        { id: "side", capability: "echo", after: ["first"] },
      ],
    };
    const res = await api("/v1/runs", TOKENS.admin, "POST", { workflow, input: { go: 1 } });
    expect(res.status).toBe(202);
    const { run_id: runId } = (await res.json()) as { run_id: string };
    await open(`#runs/${encodeURIComponent(runId)}`);
    const dag = page.locator("#run-dag");
    await dag.locator('[data-step="first"][data-state="succeeded"]').waitFor();
    await dag.locator('[data-step="side"][data-state="succeeded"]').waitFor();
    await dag.locator('[data-step="wait"][data-state="running"]').waitFor();
    // Columns by depth: the two steps after `first` stand in the second column.
    const columns = await dag.locator(".dag-col").evaluateAll((cols) => cols.map((c) => [...c.querySelectorAll("[data-step]")].map((s) => s.getAttribute("data-step"))));
    expect(columns).toEqual([["first"], ["wait", "side"]]);
    await expect(dag.locator('[data-step="first"]').textContent()).resolves.toContain("attempts 1");
    await shot("run-graph");

    const view = (await (await api(`/v1/runs/${encodeURIComponent(runId)}`, TOKENS.admin)).json()) as { steps: Record<string, { task_id?: string }> };
    const stepTask = view.steps["wait"]!.task_id!;
    await waitFor(() => started.has(stepTask), 10_000, "the slow step started on its agent");
    // A read-only token may look but not cancel [WF-25, AUTH-9].
    const refused = await api(`/v1/runs/${encodeURIComponent(runId)}`, TOKENS.viewer, "DELETE");
    expect({ status: refused.status, body: await refused.json() }).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    await page.locator('[data-action="cancel-run"]').click();
    await waitFor(() => aborted.has(stepTask), 10_000, "the step's handler saw the abort");
    await page.locator('[data-step="wait"][data-state="cancelled"]').waitFor();
    await page.locator(".run-head .badge", { hasText: "cancelled" }).waitFor();
    expect(await page.locator('[data-action="cancel-run"]').count()).toBe(0);

    await open("#runs");
    await page.locator(`#runs-list [data-run="${runId}"]`).waitFor();
    await shot("runs");
  });

  it("drains an agent: it goes DRAINING, is told so, and closes", async () => {
    const drainee = await agent("drainee-1");
    await open("#agents");
    await page.locator('[data-agent="drainee-1"]').waitFor();
    await page.locator("tr", { has: page.locator('[data-agent="drainee-1"]') }).locator('[data-action="drain"]').click();
    // The broker's drain frame makes the SDK agent finish and close for good (DRAIN-5).
    await expect(drainee.closed()).resolves.toBeUndefined();
    await waitFor(async () => !(await (await api("/v1/agents", TOKENS.admin)).text()).includes("drainee-1"), 10_000, "drainee-1 left");
    await page.locator('[data-agent="drainee-1"]').waitFor({ state: "detached" });
  });

  it("shows a read-only token no actions, and the API refuses them with 403 forbidden", async () => {
    const ended = client.submit("echo", { for: "viewer" });
    await ended;
    const id = await ended.id;
    const viewer = watch(await browser.context.newPage());
    try {
      // A new tab: sessionStorage is per tab, so it asks for a token again.
            await login(viewer, TOKENS.viewer, "#agents");
      await viewer.locator("#read-only").waitFor();
      await viewer.locator('[data-agent="worker-1"]').waitFor();
      expect(await viewer.locator("[data-action]").count()).toBe(0);
      await viewer.evaluate(`location.hash = ${JSON.stringify(`#tasks/${encodeURIComponent(id)}`)}`);
      await viewer.locator('#timeline li[data-type="task.succeeded"]').waitFor();
      expect(await viewer.locator("[data-action]").count()).toBe(0);
      await viewer.screenshot({ path: join(SHOTS, "read-only-timeline.png"), fullPage: true });
    } finally {
      await viewer.close();
    }
    const refused = async (path: string, method: string, body?: unknown): Promise<void> => {
      const res = await api(path, TOKENS.viewer, method, body);
      expect({ path, method, status: res.status, body: await res.json() }).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    };
    await refused("/v1/tasks", "POST", { capability: "echo", input: 1 });
    await refused(`/v1/tasks/${encodeURIComponent(id)}`, "DELETE");
    await refused(`/v1/tasks/${encodeURIComponent(id)}/retry`, "POST");
    await refused("/v1/agents/worker-1/drain", "POST");
    await refused("/v1/publish/news.any", "POST", { x: 1 });
    // It reads what an admin reads.
    expect((await api(`/v1/tasks/${encodeURIComponent(id)}`, TOKENS.viewer)).status).toBe(200);
    expect((await api(`/v1/events?task=${encodeURIComponent(id)}`, TOKENS.viewer)).status).toBe(200);
    // A token that is neither admin nor read-only may not watch everything, nor drain.
    expect((await api("/v1/dashboard/live", TOKENS.worker)).status).toBe(403);
    expect((await api("/v1/agents/worker-1/drain", TOKENS.worker, "POST")).status).toBe(403);
  });

  it("screenshots the events view after a replay, and logged no console errors on any page", async () => {
    await open("#events");
    await page.locator("#replay-form button").click();
    await page.locator("#replay tbody tr").first().waitFor();
    await shot("events-replay");
    expect(consoleErrors).toEqual([]);
  });
});
