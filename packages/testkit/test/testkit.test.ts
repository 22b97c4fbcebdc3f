import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, run, startRedis } from "../src/index.js";

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
});
