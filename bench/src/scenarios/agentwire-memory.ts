/**
 * agentwire in-memory: SDK client (here) → broker bin (child) → SDK echo agent (child). One scenario per
 * event store (`src/event-stores.ts`): `agentwire-memory` with the default ring, `-events-off`,
 * `-events-pg`, `-events-pg-durable`.
 */
import { connect } from "@agentwire/sdk";
import { withEventStores } from "../event-stores.js";
import { pidMeter, selfMeter, startRole, payloadOf } from "../harness.js";

export const agentwireMemoryStores = withEventStores({
  name: "agentwire-memory",
  describe: "SDK client → broker (in-memory backend) → SDK agent (capability echo)",
  async setup(ctx, store) {
    const broker = await store.startBroker("broker", ["--max-in-flight", String(Math.max(1024, ctx.maxInflight * 2))]);
    const agent = await startRole("sdk-agent", [broker.url, String(Math.max(1024, ctx.maxInflight * 2))]);
    const client = await connect({ url: broker.url, name: "bench-client" });
    const payload = payloadOf(ctx.payloadBytes);
    return {
      task: () => client.submit("echo", payload),
      meters: [selfMeter("client"), pidMeter("broker", broker.child.pid), pidMeter("agent", agent.child.pid)],
      async close() {
        await client.close();
        await agent.child.stop();
        await broker.child.stop();
      },
    };
  },
});
