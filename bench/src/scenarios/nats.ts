/** NATS request/reply (not durable): nats-server started here on a free port, responder in a child. */
import { connect } from "nats";
import { freePort, run } from "@agentwire/testkit";
import { pidMeter, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const NATS_SERVER = process.env["AGENTWIRE_NATS_SERVER"] ?? "/usr/sbin/nats-server";

export const nats: Scenario = {
  name: "nats",
  describe: "NATS request/reply through a private nats-server (never 4222), responder in a child",
  async setup(ctx) {
    const port = await freePort();
    if (port === 4222) throw new Error("refusing port 4222: it belongs to the machine's nats-server");
    const server = track(run(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port)], { label: "nats-server" }));
    await server.waitForLine(/Server is ready/i, 15_000);
    const url = `nats://127.0.0.1:${port}`;
    const responder = await startRole("nats-responder", [url]);
    const nc = await connect({ servers: url });
    const data = new TextEncoder().encode(payloadOf(ctx.payloadBytes));
    return {
      task: () => nc.request("echo", data, { timeout: 10_000 }),
      meters: [selfMeter("client"), pidMeter("nats-server", server.pid), pidMeter("responder", responder.child.pid)],
      async close() {
        await nc.close();
        await responder.child.stop();
        await server.stop();
      },
    };
  },
};
