/**
 * Baseline for the Redis mesh: a zero-logic two-broker mesh doing the Redis work of agentwire's
 * (docs/decisions/003): client → A (ws) → XADD B's task stream → B's XREADGROUP batch → worker (ws) →
 * B stores the response key + ready push (store-response-2) and acks (ack-1) → A's BLMPOP batch +
 * pipelined LINDEX → client. No task records, routing or deadlines; constant connections.
 */
import { WebSocket } from "ws";
import { Packr } from "msgpackr";
import { startRedis } from "@agentwire/testkit";
import { pidMeter, redisConnections, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";

const packr = new Packr({ useRecords: false });

export const meshBaseline: Scenario = {
  name: "mesh-baseline",
  describe: "baseline: zero-logic two-broker mesh over a private redis-server (task stream + consumer group, response key + ready list)",
  async setup(ctx) {
    const redis = await startRedis();
    track(redis.child);
    const b = await startRole("mesh-target", [String(redis.port), "base-b"]);
    const a = await startRole("mesh-origin", [String(redis.port), "base-a", "base-b"]);
    const worker = await startRole("relay-worker", [`ws://127.0.0.1:${String(b.info["port"])}`]);
    const ws = new WebSocket(`ws://127.0.0.1:${String(a.info["port"])}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const pending = new Map<number, (v: unknown) => void>();
    ws.on("message", (data: Buffer) => {
      const [id, payload] = packr.unpack(data) as [number, unknown];
      const done = pending.get(id);
      pending.delete(id);
      done?.(payload);
    });
    const payload = payloadOf(ctx.payloadBytes);
    let next = 0;
    return {
      task: () =>
        new Promise((resolve) => {
          const id = next++;
          pending.set(id, resolve);
          ws.send(packr.pack([id, payload]));
        }),
      meters: [selfMeter("client"), pidMeter("A", a.child.pid), pidMeter("B", b.child.pid), pidMeter("worker", worker.child.pid), pidMeter("redis", redis.child.pid)],
      extra: async () => ({ redis_connections: await redisConnections(redis.port) }),
      async close() {
        ws.close();
        await Promise.all([a.child.stop(), b.child.stop(), worker.child.stop()]);
        await redis[Symbol.asyncDispose]();
      },
    };
  },
};
