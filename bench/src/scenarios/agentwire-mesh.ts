/**
 * agentwire Redis mesh: SDK client (here) → broker A (bin, child) → A's handoff over a private
 * redis-server → broker B (bin, child) → SDK echo agent on B (child); the result comes back through
 * Redis to A. Reports each broker's Redis connections, which stay the same at every in-flight level.
 */
import { connect } from "@agentwire/sdk";
import { startRedis, waitFor } from "@agentwire/testkit";
import { pidMeter, redisConnections, selfMeter, startBroker, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const agentwireMesh: Scenario = {
  name: "agentwire-mesh",
  describe: "SDK client → broker A → Redis mesh (private redis-server) → broker B → SDK agent (capability echo)",
  async setup(ctx) {
    const redis = await startRedis();
    track(redis.child);
    const limit = String(Math.max(1024, ctx.maxInflight * 2));
    const mesh = (id: string) => startBroker(["--redis", redis.url, "--broker-id", id, "--max-in-flight", limit]);
    const [a, b] = await Promise.all([mesh("bench-a"), mesh("bench-b")]);
    const agent = await startRole("sdk-agent", [b.url, limit]);
    // A routes to B once its registry cache holds B's agent (B publishes it on its liveness tick).
    await waitFor(
      async () => ((await (await fetch(`http://127.0.0.1:${a.port}/v1/agents`)).json()) as { agents: { agent_id: string }[] }).agents.some((x) => x.agent_id === agent.info["id"]) || undefined,
      10_000,
      "B's agent in A's registry",
    );
    const client = await connect({ url: a.url, name: "bench-client" });
    const payload = payloadOf(ctx.payloadBytes);
    return {
      task: () => client.submit("echo", payload),
      meters: [selfMeter("client"), pidMeter("A", a.child.pid), pidMeter("B", b.child.pid), pidMeter("agent", agent.child.pid), pidMeter("redis", redis.child.pid)],
      extra: async () => ({ redis_connections: await redisConnections(redis.port) }),
      async close() {
        await client.close();
        await agent.child.stop();
        await Promise.all([a.child.stop(), b.child.stop()]);
        await redis[Symbol.asyncDispose]();
      },
    };
  },
};
