/**
 * Accepted tasks outlive the broker that accepted them [MESH-7, MESH-4]: a client whose broker is
 * killed (and maybe restarted with the same id) submits its open tasks again with their idempotency
 * keys on any broker of the mesh and gets each task's own result once, whether the task ran on another
 * broker's agent or on an agent of the dead broker (then it runs again elsewhere, as the next attempt).
 * An idempotency key is mesh-wide. On a standalone redis-server and on a 3-master Redis Cluster.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodePayload, encodePayload, type FrameOf } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, STORES, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";
import { digest } from "../src/auth.js";
import { scopedKey, tokenScope } from "../src/tasks/task-service.js";

/** Submits with an idempotency key; resolves with the `accepted` frame. */
async function submitKeyed(p: Peer, capability: string, key: string): Promise<FrameOf<"accepted">> {
  const ref = `r-${key}`;
  p.send({ type: "submit", ref, capability, input: encodePayload(key), idempotency_key: key });
  return p.next("accepted", (f) => f.ref === ref, 15_000);
}

/** An agent that answers each task with its own id and input, counting runs per task id; `hold` keeps tasks until released. */
function countingAgent(peer: Peer, runs: Map<string, number[]>, hold = false): { release(): void } {
  const held: FrameOf<"task">[] = [];
  let holding = hold;
  const answer = (t: FrameOf<"task">): void =>
    peer.send({ type: "result", task_id: t.task_id, ok: true, output: encodePayload({ id: t.task_id, input: decodePayload(t.input) }), attempt: t.attempt });
  peer.serve((t) => {
    runs.set(t.task_id, [...(runs.get(t.task_id) ?? []), t.attempt]);
    if (holding) held.push(t);
    else answer(t);
  });
  return {
    release() {
      holding = false;
      for (const t of held.splice(0)) answer(t);
    },
  };
}

describe.each(STORES)("tasks outlive their origin broker ($name)", (storeFactory) => {
  const listed = async (on: RunningBroker, agentId: string): Promise<void> => {
    await waitFor(async () => (await agentsOn(on)).some((x) => x.agent_id === agentId) || undefined, 10_000, `${agentId} listed`);
  };

  it.each(["another broker", "the restarted broker"] as const)(
    "after kill -9 of the client's broker, keys submitted again on %s return each task's own result once",
    async (where) => {
      await using store = await storeFactory.start();
      const run = randomBytes(3).toString("hex");
      const [remoteCap, localCap] = [`remote-${run}`, `local-${run}`];
      const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", `${id}-${run}`, "--mesh-liveness-ms", "250"]);
      const a = await mesh("a");
      await using b = await mesh("b");
      let a2: RunningBroker | undefined;
      try {
        const runs = new Map<string, number[]>();
        // Remote tasks run on B's agent, held until A is gone; local ones on A's own agent, which dies with A.
        const bAgent = await Peer.register(b.url, { capabilities: [{ name: remoteCap }] });
        const onB = countingAgent(bAgent, runs, true);
        countingAgent(await Peer.register(a.url, { capabilities: [{ name: localCap }] }), runs, true);
        const client = await Peer.register(a.url, {});
        await listed(a, bAgent.agentId);
        const keys = [...Array.from({ length: 8 }, (_, i) => `r${i}`), ...Array.from({ length: 4 }, (_, i) => `l${i}`)];
        const ids = new Map<string, string>();
        for (const k of keys) ids.set(k, (await submitKeyed(client, k.startsWith("r") ? remoteCap : localCap, k)).task_id);
        await waitFor(() => (runs.size === keys.length ? true : undefined), 10_000, "every task running");

        a.child.kill("SIGKILL");
        await a.child.exited;
        await client.close();
        // The local capability is offered again, on B: A's own tasks run there as attempt 2.
        countingAgent(await Peer.register(b.url, { capabilities: [{ name: localCap }] }), runs);
        onB.release();
        if (where === "the restarted broker") a2 = await mesh("a");
        const target = a2 ?? b;
        await using again = await Peer.register(target.url, {});
        for (const k of keys) {
          const acc = await submitKeyed(again, k.startsWith("r") ? remoteCap : localCap, k);
          expect([acc.task_id, acc.duplicate], k).toEqual([ids.get(k), true]);
        }
        for (const k of keys) {
          const id = ids.get(k)!;
          const r = await again.next("result", (f) => f.task_id === id, 30_000);
          expect([r.ok, decodePayload(r.output!)], k).toEqual([true, { id, input: k }]);
        }
        await again.expectQuiet(300);
        expect(again.takeAll("result")).toEqual([]);
        for (const k of keys) expect(runs.get(ids.get(k)!), k).toEqual(k.startsWith("r") ? [1] : [1, 2]);
      } finally {
        await a.stop().catch(() => undefined);
        await a2?.stop().catch(() => undefined);
      }
    },
  );

  it("an idempotency key is mesh-wide: the same key on another broker returns the first task", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `idem-${run}`;
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", `${id}-${run}`]);
    await using a = await mesh("a");
    await using b = await mesh("b");
    const runs = new Map<string, number[]>();
    const bAgent = await Peer.register(b.url, { capabilities: [{ name: capability }] });
    const agent = countingAgent(bAgent, runs, true);
    await listed(a, bAgent.agentId);
    await using onA = await Peer.register(a.url, {});
    await using onB = await Peer.register(b.url, {});
    const first = await submitKeyed(onA, capability, "k1");
    expect(first.duplicate).toBeUndefined();
    const second = await submitKeyed(onB, capability, "k1");
    expect([second.task_id, second.duplicate]).toEqual([first.task_id, true]);
    // HTTP submits go through the same submit: the key is mesh-wide there too.
    const post = (query: string): Promise<Response> =>
      fetch(`${b.http}/v1/tasks${query}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ capability, input: "k1", idempotency_key: "k1" }) });
    const open = await post("");
    expect([open.status, await open.json()]).toEqual([202, { task_id: first.task_id, state: "dispatched", duplicate: true }]);
    const waiting = post("?wait=15000");
    agent.release();
    for (const p of [onA, onB]) expect((await p.next("result", (f) => f.task_id === first.task_id, 15_000)).ok).toBe(true);
    const waited = await waiting;
    expect([waited.status, await waited.json()]).toEqual([200, { task_id: first.task_id, state: "succeeded", ok: true, output: { id: first.task_id, input: "k1" } }]);
    // Once ended, the key still answers with the first task and its result.
    const third = await submitKeyed(onB, capability, "k1");
    expect(third.task_id).toBe(first.task_id);
    expect((await onB.next("result", (f) => f.task_id === first.task_id, 15_000)).ok).toBe(true);
    expect(runs.get(first.task_id)).toEqual([1]);
  });

  it("a key left bound to a task this broker never recorded (its submit failed while the store was down) is taken over at once", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `left-${run}`;
    await using a = await startBroker([...store.join, "--broker-id", `a-${run}`]);
    const runs = new Map<string, number[]>();
    const agent = await Peer.register(a.url, { capabilities: [{ name: capability }] });
    countingAgent(agent, runs);
    await using client = await Peer.register(a.url, {});
    // A task id of this broker process (its incarnation's prefix) that it never made nor recorded: what a
    // submit leaves when its record and then its key's release were both refused by a restarting store.
    const made = await submitKeyed(client, capability, "k0");
    const leftover = `${made.task_id.slice(0, made.task_id.lastIndexOf("-") + 1)}zz${run}`;
    const admin = store.admin();
    try {
      await admin.set(`aw:idem:${digest(scopedKey(tokenScope(undefined), "k1"))}`, leftover, "PX", 60_000);
      const accepted = await submitKeyed(client, capability, "k1");
      // Before: the key was followed as a live broker's task about to be recorded (10 s), then to its never-coming end.
      expect(accepted.task_id).not.toBe(leftover);
      expect(accepted.duplicate).toBeUndefined();
      const result = await client.next("result", (f) => f.task_id === accepted.task_id, 15_000);
      expect(decodePayload(result.output!)).toEqual({ id: accepted.task_id, input: "k1" });
      expect(runs.get(accepted.task_id)).toEqual([1]);
    } finally {
      admin.disconnect();
    }
  });
});
