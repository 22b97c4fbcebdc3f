/**
 * agentwire-memory with the dashboard open: the same client → broker → SDK agent, plus one viewer
 * (a child process) following the dashboard's live stream at the page's rate, so the broker serves
 * the stream while it routes. Compare with agentwire-memory in the same run (bench/README, "The
 * dashboard's cost"); only when named.
 */
import { connect } from "@agentwire/sdk";
import { pidMeter, selfMeter, startBroker, startRole, payloadOf } from "../harness.js";
import type { Scenario } from "../scenario.js";

/** What the page asks for (broker/dashboard/src/main.ts). */
const PAGE_RATE = 2_000;

export const agentwireMemoryDashboard: Scenario = {
  name: "agentwire-memory-dashboard",
  describe: `agentwire-memory with a dashboard viewer on GET /v1/dashboard/live?rate=${PAGE_RATE}`,
  optional: true,
  async setup(ctx) {
    const broker = await startBroker(["--max-in-flight", String(Math.max(1024, ctx.maxInflight * 2))]);
    const agent = await startRole("sdk-agent", [broker.url, String(Math.max(1024, ctx.maxInflight * 2))]);
    const viewer = await startRole("dashboard-viewer", [broker.http, String(PAGE_RATE)]);
    const client = await connect({ url: broker.url, name: "bench-client" });
    const payload = payloadOf(ctx.payloadBytes);
    return {
      task: () => client.submit("echo", payload),
      meters: [selfMeter("client"), pidMeter("broker", broker.child.pid), pidMeter("agent", agent.child.pid), pidMeter("viewer", viewer.child.pid)],
      async close() {
        await client.close();
        await viewer.child.stop();
        await agent.child.stop();
        await broker.child.stop();
      },
    };
  },
};
