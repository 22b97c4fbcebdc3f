/**
 * HTTP mounts (BrokerConfig.mounts): a request whose path is a mount's prefix or under it reaches the
 * mount, once the bearer token was checked [HTTP-1]; other paths do not; the broker closes its mounts
 * when it closes. Against a real broker in this process (mounts are functions: no flag or file holds them).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type Broker } from "../src/broker.js";
import { defaults } from "../src/config.js";
import type { HttpMount } from "../src/http.js";

const TOKEN = "mount-token";

describe("HTTP mounts", () => {
  let broker: Broker;
  let base = "";
  let closed = 0;
  const seen: string[] = [];
  const mount: HttpMount = {
    prefix: "/bridge",
    handle(req: IncomingMessage, res: ServerResponse) {
      seen.push(req.url ?? "");
      res.writeHead(200, { "content-type": "text/plain" }).end(`mounted ${req.method} ${req.url}`);
    },
    close: () => void closed++,
  };

  beforeAll(async () => {
    broker = await startBroker({ ...defaults(), port: 0, auth: { tokens: [{ token: TOKEN }] }, mounts: [mount] }, pino({ level: "silent" }));
    base = `http://127.0.0.1:${broker.address.port}`;
  });
  afterAll(async () => {
    await broker?.close();
  });

  const get = (path: string, token?: string): Promise<Response> => fetch(`${base}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it("hands the prefix and the paths under it to the mount, with the token", async () => {
    for (const path of ["/bridge", "/bridge/", "/bridge/a/b?x=1"]) {
      const res = await get(path, TOKEN);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(`mounted GET ${path}`);
    }
    expect(seen).toEqual(["/bridge", "/bridge/", "/bridge/a/b?x=1"]);
  });

  it("answers 401 before the mount sees a request without the token, or with an unknown one", async () => {
    const before = seen.length;
    for (const token of [undefined, "wrong"]) {
      const res = await get("/bridge/x", token);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    expect(seen.length).toBe(before);
  });

  it("does not take a path that only starts with the prefix's letters", async () => {
    const res = await get("/bridgework", TOKEN);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("closes its mounts when it closes", async () => {
    const other = await startBroker({ ...defaults(), port: 0, mounts: [mount] }, pino({ level: "silent" }));
    const before = closed;
    await other.close();
    expect(closed).toBe(before + 1);
  });
});
