/** agentwire in-memory: SDK client (here) → broker bin (child) → SDK echo agent (child). */
import { connect } from "@agentwire/sdk";
import { pidMeter, selfMeter, startBroker, startRole, payloadOf } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const agentwireMemory: Scenario = {
  name: "agentwire-memory",
  describe: "SDK client → broker (in-memory backend) → SDK agent (capability echo)",
  async setup(ctx) {
    const broker = await startBroker(["--max-in-flight", String(Math.max(1024, ctx.maxInflight * 2))]);
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
};
