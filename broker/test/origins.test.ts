/**
 * Browser pages [TRANS-11, HTTP-18]: the Origin check at the WebSocket upgrade and the HTTP API's CORS
 * answers, against real brokers started with and without `--allowed-origins`.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { SUBPROTOCOL } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";
import { startBroker, type RunningBroker } from "./helpers/backends.js";

const APP = "https://app.example.com";
const DEV = "http://127.0.0.1:5173";
const EVIL = "https://evil.example";

/** Opens a WebSocket to `url` as a page of `origin` (none: a non-browser client) would; the upgrade's status and, when refused, its body. */
function upgrade(url: string, origin?: string): Promise<{ status: number; body?: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], origin === undefined ? {} : { origin });
    ws.once("open", () => {
      ws.close(1000);
      resolve({ status: 101 });
    });
    ws.once("unexpected-response", (_req, res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) }));
    });
    ws.once("error", reject);
  });
}

function get(broker: RunningBroker, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${broker.http}${path}`, { headers });
}

function preflight(broker: RunningBroker, path: string, origin: string, method = "POST"): Promise<Response> {
  return fetch(`${broker.http}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": "authorization, content-type" },
  });
}

const forbidden = (origin: string) => ({
  error: { code: "forbidden", message: expect.stringMatching(new RegExp(`${origin.replace(/[.]/g, "\\.")}.*--allowed-origins`)) },
});

describe("origins: no --allowed-origins (same origin only)", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("[TRANS-11] accepts an upgrade without Origin (a non-browser client) and one from the broker's own origin", async () => {
    expect(await upgrade(broker.url)).toEqual({ status: 101 });
    expect(await upgrade(broker.url, `http://127.0.0.1:${broker.port}`)).toEqual({ status: 101 });
    // Same host and port under https: the broker may sit behind a TLS-terminating proxy.
    expect(await upgrade(broker.url, `https://127.0.0.1:${broker.port}`)).toEqual({ status: 101 });
    const peer = await Peer.register(broker.url, { agent_id: "same-origin-page" }, { headers: { origin: `http://127.0.0.1:${broker.port}` } });
    expect(peer.agentId).toBe("same-origin-page");
    await peer.close();
  });

  it("[TRANS-11] refuses any other origin with 403 forbidden before the upgrade", async () => {
    for (const origin of [EVIL, `http://localhost:${broker.port}`, `http://127.0.0.1:${broker.port + 1}`, "null"]) {
      expect(await upgrade(broker.url, origin), origin).toEqual({ status: 403, body: forbidden(origin) });
    }
  });

  it("[HTTP-18] answers requests without Origin and from its own origin; refuses another origin and its preflight", async () => {
    const plain = await get(broker, "/v1/agents");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    const own = `http://127.0.0.1:${broker.port}`;
    const same = await get(broker, "/v1/agents", { origin: own });
    expect(same.status).toBe(200);
    expect(same.headers.get("access-control-allow-origin")).toBe(own);

    const foreign = await get(broker, "/v1/agents", { origin: EVIL });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    expect(await foreign.json()).toEqual(forbidden(EVIL));
    const pre = await preflight(broker, "/v1/tasks", EVIL);
    expect(pre.status).toBe(403);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(pre.headers.get("access-control-allow-methods")).toBeNull();
    expect(await pre.json()).toEqual(forbidden(EVIL));
    // Refused before it takes effect: a foreign page's POST submits nothing.
    const post = await fetch(`${broker.http}/v1/tasks`, { method: "POST", headers: { origin: EVIL, "content-type": "text/plain" }, body: '{"capability":"x"}' });
    expect(post.status).toBe(403);
  });
});

describe("origins: --allowed-origins lists two", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker(["--allowed-origins", `${APP}, ${DEV}`]);
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("[TRANS-11] accepts the listed origins, its own and none; refuses the others", async () => {
    for (const origin of [APP, DEV, `http://127.0.0.1:${broker.port}`, undefined]) expect(await upgrade(broker.url, origin), origin).toEqual({ status: 101 });
    for (const origin of [EVIL, "http://app.example.com", "http://127.0.0.1:5174"]) {
      expect(await upgrade(broker.url, origin), origin).toEqual({ status: 403, body: forbidden(origin) });
    }
  });

  it("[HTTP-18] echoes a listed origin on answers, errors included", async () => {
    const res = await get(broker, "/v1/agents", { origin: APP });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    const missing = await get(broker, "/v1/tasks/nope", { origin: DEV });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(DEV);
  });

  it("[HTTP-18] answers a listed origin's preflight with 204 and the methods and headers the API takes", async () => {
    for (const [path, method] of [["/v1/tasks", "POST"], ["/v1/tasks/t-1", "DELETE"], ["/v1/events?follow=1", "GET"]] as const) {
      const res = await preflight(broker, path, DEV, method);
      expect(res.status).toBe(204);
      expect(Object.fromEntries([...res.headers].filter(([name]) => name.startsWith("access-control-") || name === "vary"))).toEqual({
        "access-control-allow-origin": DEV,
        "access-control-allow-methods": "GET, POST, DELETE",
        "access-control-allow-headers": "authorization, content-type, last-event-id",
        "access-control-max-age": "600",
        vary: "Origin",
      });
    }
  });

  it("[HTTP-18] the live tail (Server-Sent Events) carries the CORS headers too", async () => {
    const abort = new AbortController();
    const res = await fetch(`${broker.http}/v1/events?follow=1`, { headers: { origin: APP }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    abort.abort();
    await res.body?.cancel().catch(() => undefined);
  });

  it("[HTTP-18] a page not listed gets no CORS header", async () => {
    const res = await get(broker, "/livez", { origin: EVIL });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("origins: * (from the env)", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker([], { env: { AGENTWIRE_ALLOWED_ORIGINS: "*" } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("[TRANS-11][HTTP-18] accepts every origin and echoes it", async () => {
    for (const origin of [EVIL, APP, undefined]) expect(await upgrade(broker.url, origin), origin).toEqual({ status: 101 });
    const res = await get(broker, "/v1/agents", { origin: EVIL });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(EVIL);
    expect((await preflight(broker, "/v1/tasks", EVIL)).status).toBe(204);
  });
});

describe("origins: auth on, origin from the config file", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), "aw-origins-")), "broker.json");
    writeFileSync(file, JSON.stringify({ allowedOrigins: [APP], auth: { tokens: [{ token: "page" }] } }));
    broker = await startBroker(["--config", file]);
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("[HTTP-18][HTTP-1] a preflight needs no token; the request itself still does, and its 401 is readable by the page", async () => {
    expect((await preflight(broker, "/v1/agents", APP, "GET")).status).toBe(204);
    const anonymous = await get(broker, "/v1/agents", { origin: APP });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("access-control-allow-origin")).toBe(APP);
    const withToken = await get(broker, "/v1/agents", { origin: APP, authorization: "Bearer page" });
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("[TRANS-11] a listed page still registers with its token only", async () => {
    expect(await upgrade(broker.url, EVIL)).toMatchObject({ status: 403 });
    const peer = await Peer.register(broker.url, { token: "page" }, { headers: { origin: APP } });
    expect(peer.agentId).toEqual(expect.any(String));
    await peer.close();
  });
});
