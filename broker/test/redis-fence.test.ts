/**
 * Attempts are counted mesh-wide and a broker that was taken for dead is fenced [TASK-5, MESH-7]:
 * a paused broker that wakes up runs nothing a survivor took from it and stores no result for it; an
 * attempt number raised by local retries survives the broker's death; a reclaim never passes
 * max_attempts. On a standalone redis-server and on a 3-master Redis Cluster.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, STORES, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const LIVENESS = ["--mesh-liveness-ms", "250"];

describe.each(STORES)("mesh attempts and fencing ($name)", (storeFactory) => {
  const listed = async (on: RunningBroker, agentId: string): Promise<void> => {
    await waitFor(async () => (await agentsOn(on)).some((x) => x.agent_id === agentId) || undefined, 10_000, `${agentId} listed`);
  };

  it("a paused broker that wakes up neither runs nor answers the tasks a survivor took over", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `paused-${run}`;
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", `${id}-${run}`, ...LIVENESS]);
    await using a = await mesh("a");
    await using b = await mesh("b");
    await using c = await mesh("c");
    // B's agent takes one task at a time: the first runs there, the second waits in B's queue.
    await using onB = await Peer.register(b.url, { capabilities: [{ name: capability }], capacity: 1 });
    await using client = await Peer.register(a.url, {});
    await listed(a, onB.agentId);
    const first = await client.submit(capability, 1);
    const second = await client.submit(capability, 2);
    expect((await onB.next("task")).task_id).toBe(first);
    await using onC = await Peer.register(c.url, { capabilities: [{ name: capability }] });
    await listed(b, onC.agentId);

    b.child.kill("SIGSTOP");
    // A survivor takes both over once B's liveness key is gone: C's agent runs them as attempt 2.
    const taken = [await onC.next("task", undefined, 30_000), await onC.next("task", undefined, 30_000)];
    expect(taken.map((t) => [t.task_id, t.attempt]).sort()).toEqual([[first, 2], [second, 2]].sort());
    b.child.kill("SIGCONT");

    // B finds it lost the first task and stops it on its agent; its late result is not stored.
    const cancel = await onB.next("cancel", (f) => f.task_id === first, 15_000);
    expect(cancel.task_id).toBe(first);
    onB.send({ type: "result", task_id: first, ok: true, output: new Uint8Array([0xa1, 0x42]), attempt: 1 }); // "B"
    onB.send({ type: "query", ref: "q1" });
    await onB.next("agents", (f) => f.ref === "q1");
    // The freed capacity does not send B's agent the second task: B no longer owns it.
    expect(onB.takeAll("task").map((t) => t.task_id)).toEqual([]);

    for (const t of taken) onC.send({ type: "result", task_id: t.task_id, ok: true, output: t.input, attempt: t.attempt });
    for (const id of [first, second]) {
      const r = await client.next("result", (f) => f.task_id === id, 15_000);
      expect([r.ok, r.attempt]).toEqual([true, 2]);
    }
  });

  it("an attempt raised by a local retry is not run again after its broker dies, and a reclaim stops at max_attempts", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `retry-${run}`;
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", `${id}-${run}`, ...LIVENESS]);
    await using a = await mesh("a");
    const b = await mesh("b");
    await using c = await mesh("c");
    try {
      const x = await Peer.register(b.url, { capabilities: [{ name: capability }] });
      await using client = await Peer.register(a.url, {});
      await listed(a, x.agentId);
      const three = await client.submit(capability, "three attempts", { max_attempts: 3 });
      const two = await client.submit(capability, "two attempts", { max_attempts: 2 });
      await x.next("task", (f) => f.task_id === three);
      await x.next("task", (f) => f.task_id === two);
      // X goes away: B requeues both and runs them as attempt 2 on its other agent Y.
      await using y = await Peer.register(b.url, { capabilities: [{ name: capability }] });
      await x.close();
      const retried = [await y.next("task", (f) => f.attempt === 2, 10_000), await y.next("task", (f) => f.attempt === 2, 10_000)];
      expect(retried.map((t) => t.task_id).sort()).toEqual([three, two].sort());
      await using onC = await Peer.register(c.url, { capabilities: [{ name: capability }] });
      await listed(b, onC.agentId);

      b.child.kill("SIGKILL");
      await b.child.exited;
      // Attempt 2 ran on B: the reclaim runs attempt 3, and only where attempts are left.
      const reclaimed = await onC.next("task", undefined, 30_000);
      expect([reclaimed.task_id, reclaimed.attempt]).toEqual([three, 3]);
      onC.send({ type: "result", task_id: three, ok: true, output: reclaimed.input, attempt: 3 });
      expect((await client.next("result", (f) => f.task_id === three, 15_000)).attempt).toBe(3);
      const lost = await client.next("result", (f) => f.task_id === two, 15_000);
      expect([lost.ok, lost.error?.code, lost.attempt]).toEqual([false, "agent_lost", 2]);
      expect(onC.takeAll("task").map((t) => t.task_id)).toEqual([]);
    } finally {
      await b.stop().catch(() => undefined);
    }
  });
});
