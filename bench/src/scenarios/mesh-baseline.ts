/**
 * Baseline for the Redis mesh: a zero-logic two-broker mesh doing the Redis work of agentwire's
 * (docs/decisions/003): client → A (ws) → XADD of a one-field MessagePack entry to B's task stream →
 * B's XREADGROUP batch → worker (ws) → B stores the turn's answers with store-responses.lua (response
 * keys + `<id>\n<response>` ready entries) and acks them with ack-2.lua → A's BLMPOP batch → client.
 * No task records, routing, deadlines or validation; constant connections.
 */
import { startRedis } from "@agentwire/testkit";
import { pidMeter, redisConnections, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";
import { packedClient } from "./relay.js";

export const meshBaseline: Scenario = {
  name: "mesh-baseline",
  describe: "baseline: zero-logic two-broker mesh over a private redis-server (task stream + consumer group, response key + ready list)",
  async setup(ctx) {
    const redis = await startRedis();
    track(redis.child);
    const b = await startRole("mesh-target", [String(redis.port), "base-b"]);
    const a = await startRole("mesh-origin", [String(redis.port), "base-a", "base-b"]);
    const worker = await startRole("relay-worker", [`ws://127.0.0.1:${String(b.info["port"])}`]);
    const client = await packedClient(`ws://127.0.0.1:${String(a.info["port"])}`, payloadOf(ctx.payloadBytes));
    return {
      task: client.task,
      meters: [selfMeter("client"), pidMeter("A", a.child.pid), pidMeter("B", b.child.pid), pidMeter("worker", worker.child.pid), pidMeter("redis", redis.child.pid)],
      extra: async () => ({ redis_connections: await redisConnections(redis.port) }),
      async close() {
        client.close();
        await Promise.all([a.child.stop(), b.child.stop(), worker.child.stop()]);
        await redis[Symbol.asyncDispose]();
      },
    };
  },
};
