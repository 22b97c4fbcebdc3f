import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, run, startBroker, startRedis } from "../src/index.js";

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().trim());
    });
    socket.once("error", reject);
  });
}

describe("testkit", () => {
  it("starts a private redis-server on a free loopback port and removes it on dispose", async () => {
    let port: number;
    {
      await using redis = await startRedis();
      port = redis.port;
      expect(port).not.toBe(6379);
      expect(await ping(port)).toBe("+PONG");
      await redis.stop(true);
      await expect(ping(port)).rejects.toThrow();
      await redis.restart();
      expect(await ping(port)).toBe("+PONG");
    }
    await expect(ping(port)).rejects.toThrow();
  });

  it("waits for a line of a child process and reports its exit", async () => {
    const child = run(process.execPath, ["-e", "console.log('listening on 4242'); setTimeout(() => process.exit(3), 50)"]);
    const m = await child.waitForLine(/listening on (\d+)/);
    expect(m[1]).toBe("4242");
    expect(await child.exited).toBe(3);
    await expect(child.waitForLine("never printed", 1_000)).rejects.toThrow(/exited with 3/);
  });

  it("hands out distinct free ports", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    expect(new Set(ports).size).toBeGreaterThan(1);
  });

  it("starts the broker bin on port 0, restarts it on the same port, and stops it on dispose", async () => {
    let port: number;
    {
      await using broker = await startBroker(["--heartbeat-interval-ms", "1000"], { label: "testkit-broker" });
      port = broker.port;
      expect(port).toBeGreaterThan(0);
      expect([broker.url, broker.agentUrl, broker.http]).toEqual([`ws://127.0.0.1:${port}/`, `ws://127.0.0.1:${port}/`, `http://127.0.0.1:${port}`]);
      expect((await fetch(`${broker.http}/livez`)).status).toBe(200);
      const first = broker.child;
      first.kill("SIGKILL");
      expect(await first.exited).toBe("SIGKILL");
      await broker.restart();
      expect(broker.child.pid).not.toBe(first.pid);
      expect((await fetch(`${broker.http}/livez`)).status).toBe(200);
      expect(broker.port).toBe(port);
    }
    await expect(fetch(`http://127.0.0.1:${port}/livez`)).rejects.toThrow();
  });

  it("starts the broker on a given port with extra environment", async () => {
    const port = await freePort();
    {
      await using broker = await startBroker([], { port });
      expect(broker.port).toBe(port);
      expect((await fetch(`${broker.http}/livez`)).status).toBe(200);
    }
    await expect(fetch(`http://127.0.0.1:${port}/livez`)).rejects.toThrow();
    await expect(startBroker([], { env: { AGENTWIRE_MAX_IN_FLIGHT: "zero" } })).rejects.toThrow(/exited with 2[^]*AGENTWIRE_MAX_IN_FLIGHT: expected integer/);
  });
});
