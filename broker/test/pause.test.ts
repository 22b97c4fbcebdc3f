/**
 * A broker that was paused (SIGSTOP, a long stall) does not evict the peers it could not hear while
 * it was not running [HB-4]: its own pause is not their silence.
 */
import { describe, expect, it } from "vitest";
import { startBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe("a paused broker", () => {
  it("keeps the sessions that kept heartbeating while it was stopped", async () => {
    await using b = await startBroker(["--heartbeat-interval-ms", "100", "--heartbeat-timeout-ms", "400"]);
    await using agent = await Peer.register(b.url, { capabilities: [{ name: "paused" }] });
    const beat = setInterval(() => agent.send({ type: "heartbeat" }), 100);
    try {
      b.child.kill("SIGSTOP");
      // Longer than the heartbeat timeout: the peer's heartbeats queue up in the socket meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      b.child.kill("SIGCONT");
      agent.send({ type: "query", ref: "after" });
      const reply = await agent.next("agents", (f) => f.ref === "after");
      expect(reply.agents.map((a) => a.agent_id)).toContain(agent.agentId);
      expect(agent.isClosed).toBe(false);
    } finally {
      clearInterval(beat);
    }
  });
});
