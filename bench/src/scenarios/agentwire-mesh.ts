/**
 * agentwire Redis mesh: client (here) → broker A (bin, child) → A's handoff over a private
 * redis-server → broker B (bin, child) → echo agent on B (child); the result comes back through Redis
 * to A. `agentwire-mesh` uses the SDK on both ends, `agentwire-mesh-raw` raw-wire peers (as the mesh
 * baseline does), which leaves the brokers' own cost. Reports each broker's Redis connections, which
 * stay the same at every in-flight level. `agentwire-mesh` comes with one variant per event store
 * (`src/event-stores.ts`).
 */
import { connect } from "@agentwire/sdk";
import { encodePayload } from "@agentwire/wire";
import { agentsOn, startRedis, waitFor } from "@agentwire/testkit";
import { openEventStore, withEventStores, type EventStoreRun } from "../event-stores.js";
import { pidMeter, redisConnections, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Running, Scenario, ScenarioContext } from "../scenario.js";
import { rawClient } from "./agentwire-raw.js";

/** Both brokers are started by `store`: with a PostgreSQL store they write to the same database. */
async function setupMesh(ctx: ScenarioContext, sdk: boolean, store: EventStoreRun): Promise<Running> {
  const redis = await startRedis();
  track(redis.child);
  const limit = String(Math.max(1024, ctx.maxInflight * 2));
  const mesh = (name: string, id: string) => store.startBroker(name, ["--redis", redis.url, "--broker-id", id, "--max-in-flight", limit]);
  const [a, b] = await Promise.all([mesh("A", "bench-a"), mesh("B", "bench-b")]);
  const agent = await startRole(sdk ? "sdk-agent" : "raw-agent", [b.url, limit]);
  // A routes to B once its registry cache holds B's agent.
  await waitFor(async () => (await agentsOn(a)).some((x) => x.agent_id === agent.info["id"]) || undefined, 10_000, "B's agent in A's registry");
  const payload = payloadOf(ctx.payloadBytes);
  let task: () => Promise<unknown>;
  let closeClient: () => Promise<void>;
  if (sdk) {
    const client = await connect({ url: a.url, name: "bench-client" });
    task = () => client.submit("echo", payload);
    closeClient = () => client.close();
  } else {
    const client = await rawClient(a.url);
    const input = encodePayload(payload);
    task = () => client.submit("echo", input);
    closeClient = async () => client.close();
  }
  return {
    task,
    meters: [selfMeter("client"), pidMeter("A", a.child.pid), pidMeter("B", b.child.pid), pidMeter("agent", agent.child.pid), pidMeter("redis", redis.child.pid)],
    extra: async () => ({ redis_connections: await redisConnections(redis.port) }),
    async close() {
      await closeClient();
      await agent.child.stop();
      await Promise.all([a.child.stop(), b.child.stop()]);
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** `agentwire-mesh` with the default event store, and its `-events-off`, `-events-pg`, `-events-pg-durable` variants. */
export const agentwireMeshStores = withEventStores({
  name: "agentwire-mesh",
  describe: "SDK client → broker A → Redis mesh (private redis-server) → broker B → SDK agent (capability echo)",
  setup: (ctx, store) => setupMesh(ctx, true, store),
});

export const agentwireMeshRaw: Scenario = {
  name: "agentwire-mesh-raw",
  describe: "raw-wire client → broker A → Redis mesh (private redis-server) → broker B → raw-wire echo agent (no SDK)",
  setup: async (ctx) => setupMesh(ctx, false, await openEventStore("memory")),
};
