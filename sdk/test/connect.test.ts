/**
 * Connection errors that tell the truth: a first connect that cannot reach a broker fails with a typed
 * error within its timeout (or when its signal aborts), a URL that is not ws:// is refused at once,
 * `waitForBroker` waits however long, and `status()` / `closed()` tell what the connection does.
 */
import { freePort } from "@agentwire/testkit";
import { UnauthorizedError } from "@agentwire/wire";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConnectError, InvalidUrlError, connect, createAgent, type Status } from "../src/index.js";
import { HAVE_BROKER, backoff, logger, sdkBroker, within } from "./helpers.js";

describe("connect errors", () => {
  it("a closed port rejects with ConnectError within the connect timeout, naming the URL and the last failure", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const err = await connect({ url, logger, backoff, connectTimeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    const e = err as ConnectError;
    expect(e.code).toBe("connect_failed");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain(url);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.details?.attempts).toBeGreaterThanOrEqual(1);
    // Bounded by the timeout, not by a fixed retry count: well under the 5 s default.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("the default connect timeout applies when none is given", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const err = await within(connect({ url, logger, backoff }).catch((e: unknown) => e), 15_000, "default timeout");
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toContain("no session within 5000 ms");
  });

  it("an AbortSignal gives the connect up", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const controller = new AbortController();
    const pending = connect({ url, logger, backoff, waitForBroker: true, signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error("user gave up"));
    const err = await within(pending, 5_000, "abort");
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toContain("aborted");
    expect((err as Error).cause).toEqual(new Error("user gave up"));
  });

  it.each([
    ["http://127.0.0.1:7420", /ws:\/\/ or wss:\/\/.*did you mean ws:\/\/127\.0\.0\.1:7420/],
    ["localhost:7420", /ws:\/\/ or wss:\/\//],
    ["127.0.0.1:7420", /not a URL/],
    ["not a url", /not a URL/],
  ])("the URL %s is refused at once with InvalidUrlError", async (url, message) => {
    await expect(connect({ url, logger })).rejects.toThrow(message);
    await expect(connect({ url, logger })).rejects.toBeInstanceOf(InvalidUrlError);
    expect(() => createAgent({ url, name: "x", logger })).toThrow(InvalidUrlError);
  });

  it("an agent's start() fails the same way", async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const agent = createAgent({ url, name: "lonely", logger, backoff, connectTimeoutMs: 300 }).capability("x.y", { input: z.object({}) }, () => 1);
    await expect(agent.start()).rejects.toBeInstanceOf(ConnectError);
    await expect(agent.closed()).resolves.toBeInstanceOf(ConnectError);
  });
});

describe.skipIf(!HAVE_BROKER)("connect to a broker that comes later, status and closed", () => {
  it("waitForBroker keeps trying until the broker is up; status() tells each step; closed() resolves on close", async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}`;
    const pending = connect({ url, logger, backoff, waitForBroker: true, connectTimeoutMs: 50 });
    const broker = await sdkBroker(["--port", String(port)]);
    try {
      const client = await within(pending, 20_000, "connect once the broker is up");
      const seen: Status[] = [];
      const watching = (async () => {
        for await (const s of client.status()) seen.push(s);
      })();
      await broker.restart();
      // The client reconnects on its own; the status feed says so.
      await within(
        (async () => {
          while (!seen.some((s) => s.type === "connected" && s.again)) await new Promise((r) => setImmediate(r));
        })(),
        20_000,
        "reconnected status",
      );
      const types = seen.map((s) => s.type);
      expect(types[0]).toBe("disconnected");
      expect(types).toContain("reconnecting");
      expect(types.at(-1)).toBe("connected");
      await client.close();
      await within(watching, 5_000, "status ends after close");
      expect(seen.at(-1)).toEqual({ type: "closed", error: undefined });
      await expect(client.closed()).resolves.toBeUndefined();
    } finally {
      await broker.stop();
    }
  });

  it("a broker that refuses the token rejects connect with UnauthorizedError, and closed() resolves with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aw-auth-"));
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ auth: { tokens: [{ token: "good", admin: true }] } }));
    const broker = await sdkBroker(["--config", file]);
    try {
      const err = await connect({ url: broker.url, token: "bad", logger, backoff }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnauthorizedError);
      const ok = await connect({ url: broker.url, token: "good", logger, backoff });
      await ok.close();
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
