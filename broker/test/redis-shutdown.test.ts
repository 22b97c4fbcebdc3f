/**
 * A broker of the mesh that shuts down gracefully hands back what it cannot finish [SHUT-5, MESH-2]:
 * it takes no new work from the mesh during its grace period, and a task still running on its agents
 * when it closes runs again on another broker's agent (the next attempt) instead of failing
 * `shutting_down`. On a standalone redis-server and on a 3-master Redis Cluster.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodePayload } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, STORES, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe.each(STORES)("mesh broker shutdown ($name)", (storeFactory) => {
  it("hands its unfinished tasks to another broker's agent instead of failing them", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `handback-${run}`;
    const mesh = (id: string, ...extra: string[]): Promise<RunningBroker> =>
      startBroker([...store.join, "--broker-id", `${id}-${run}`, "--mesh-liveness-ms", "250", ...extra]);
    await using a = await mesh("a");
    const b = await mesh("b", "--shutdown-grace-ms", "500");
    await using c = await mesh("c");
    const listed = async (agentId: string): Promise<void> => {
      await waitFor(async () => (await agentsOn(a)).some((x) => x.agent_id === agentId) || undefined, 10_000, `${agentId} on A`);
    };
    try {
      // B's agent takes the task and never finishes it (nor leaves on goaway).
      const holder = await Peer.register(b.url, { capabilities: [{ name: capability }] });
      await using client = await Peer.register(a.url, {});
      await listed(holder.agentId);
      const stuck = await client.submit(capability, "stuck on B");
      expect((await holder.next("task")).task_id).toBe(stuck);
      await using worker = (await Peer.register(c.url, { capabilities: [{ name: capability }] })).serve(Peer.echo);
      await listed(worker.agentId);

      b.child.kill("SIGTERM");
      await holder.next("goaway");
      // Submitted while B drains: whichever broker A picks, they run on C's agent.
      const late: string[] = [];
      for (let i = 0; i < 6; i++) late.push(await client.submit(capability, `late ${i}`));
      expect(await b.child.exited).toBe(0);

      const first = await client.next("result", (f) => f.task_id === stuck, 15_000);
      expect([first.ok, first.attempt, decodePayload(first.output!)]).toEqual([true, 2, "stuck on B"]);
      for (const [i, id] of late.entries()) {
        const r = await client.next("result", (f) => f.task_id === id, 15_000);
        expect([r.ok, decodePayload(r.output!)], id).toEqual([true, `late ${i}`]);
      }
      await holder.close().catch(() => undefined);
    } finally {
      await b.stop().catch(() => undefined);
    }
  });
});
