/** Routing strategies and queue order: SPEC §7. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodePayload, type Task } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe.each(BACKENDS)("routing ($name)", (backend) => {
  let broker: RunningBroker;
  let peers: Peer[] = [];
  const reg = async (...args: Parameters<typeof Peer.register> extends [string, ...infer R] ? R : never) => {
    const p = await registerOn(broker, ...args);
    peers.push(p);
    return p;
  };

  beforeEach(async () => {
    broker = await backend.start();
    peers = [];
  });
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker.stop();
  });

  it("[ROUTE-6] round_robin: 3 agents, 300 tasks → exactly 100 each", async () => {
    const counts = new Map<string, number>();
    const agents = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const a = await reg({ agent_id: `rr-${i}`, capabilities: [{ name: "rr" }], capacity: 1000 });
        a.serve((t, p) => {
          counts.set(p.agentId, (counts.get(p.agentId) ?? 0) + 1);
          Peer.echo(t, p);
        });
        return a;
      }),
    );
    expect(agents).toHaveLength(3);
    const cl = await reg();
    for (let i = 0; i < 300; i++) cl.send({ type: "submit", ref: `r${i}`, capability: "rr", input: encodePayload(i), strategy: "round_robin" });
    for (let i = 0; i < 300; i++) await cl.next("result", () => true, 15_000);
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });

  it("[ROUTE-8] least_loaded sends to the agent reporting less load", async () => {
    const busy = await reg({ agent_id: "ll-busy", capabilities: [{ name: "ll" }], capacity: 10 });
    const idle = await reg({ agent_id: "ll-idle", capabilities: [{ name: "ll" }], capacity: 10 });
    busy.send({ type: "heartbeat", in_flight: 8, capacity: 10, status: "busy" });
    idle.send({ type: "heartbeat", in_flight: 1, capacity: 10, status: "ready" });
    // heartbeats are processed in order before the query answer on each session
    await busy.expectQuiet();
    await idle.expectQuiet();
    const cl = await reg();
    for (let i = 0; i < 4; i++) await cl.submit("ll", i, { strategy: "least_loaded" });
    // broker count grows on idle: 1+k vs 8 → all 4 go to idle
    for (let i = 0; i < 4; i++) await idle.next("task");
    await busy.expectQuiet();
  });

  it("[PRIO-2][PRIO-3] priority: high tasks go to the higher tier, normal ones to the lower tier", async () => {
    const low = await reg({ agent_id: "tier0", capabilities: [{ name: "pr" }], tier: 0 });
    const high = await reg({ agent_id: "tier5", capabilities: [{ name: "pr" }], tier: 5 });
    const cl = await reg();
    for (let i = 0; i < 3; i++) {
      const h = await cl.submit("pr", i, { strategy: "priority", priority: "high" });
      expect((await high.next("task")).task_id).toBe(h);
      const n = await cl.submit("pr", i, { strategy: "priority", priority: "normal" });
      expect((await low.next("task")).task_id).toBe(n);
    }
    const c = await cl.submit("pr", 9, { strategy: "priority", priority: "critical" });
    expect((await high.next("task")).task_id).toBe(c);
    await low.expectQuiet();
    await high.expectQuiet();
  });

  it("[ROUTE-7] capability: the highest satisfying version wins", async () => {
    const v1 = await reg({ capabilities: [{ name: "cv", version: "1.4.0" }] });
    const v2 = await reg({ capabilities: [{ name: "cv", version: "2.1.0" }] });
    const v3 = await reg({ capabilities: [{ name: "cv", version: "3.0.0" }] });
    const cl = await reg();
    const a = await cl.submit("cv", 1, { strategy: "capability", version: "<3" });
    expect((await v2.next("task")).task_id).toBe(a);
    const b = await cl.submit("cv", 1, { strategy: "capability", version: "^1.2" });
    expect((await v1.next("task")).task_id).toBe(b);
    const c = await cl.submit("cv", 1, { strategy: "capability" });
    expect((await v3.next("task")).task_id).toBe(c);
  });

  // Beside conformance broker.route.priority-order: waits on the agents' broker's queue depth, so it checks the order on a mesh too, where that case skips (MESH-2).
  it("[ROUTE-2] with one saturated agent (capacity 1), a critical task submitted after 50 low ones runs before them", async () => {
    const a = await reg({ capabilities: [{ name: "sat" }], capacity: 1 });
    const cl = await reg();
    const first = await cl.submit("sat", "blocker", { priority: "low" });
    const t0 = await a.next("task");
    expect(t0.task_id).toBe(first);
    const lows: string[] = [];
    for (let i = 0; i < 50; i++) lows.push(await cl.submit("sat", i, { priority: "low" }));
    const critical = await cl.submit("sat", "urgent", { priority: "critical" });
    const high = await cl.submit("sat", "soon", { priority: "high" });
    // The 52 wait in the agent's broker's queue before the blocker ends: at once on one broker; in a
    // mesh `accepted` comes from the origin, and the agent's broker reads the handoffs a moment later.
    await waitFor(async () => (/^agentwire_queue_depth\{capability="sat"\} 52$/m.test(await (await fetch(`${broker.agentHttp}/metrics`)).text()) ? true : undefined), 10_000, "52 tasks queued for the agent");
    const order: string[] = [];
    let current: Task = t0;
    for (let i = 0; i < 53; i++) {
      a.send({ type: "result", task_id: current.task_id, ok: true });
      if (i === 52) break;
      current = await a.next("task");
      order.push(current.task_id);
    }
    expect(order[0]).toBe(critical);
    expect(order[1]).toBe(high);
    expect(order.slice(2)).toEqual(lows); // FIFO within a priority
  });

  it("[ROUTE-4] a task without a candidate does not block the tasks behind it", async () => {
    const plain = await reg({ capabilities: [{ name: "tg" }], capacity: 1 });
    const cl = await reg();
    const busy = await cl.submit("tg", 0);
    await plain.next("task");
    const gpu = await reg({ capabilities: [{ name: "tg", tags: ["gpu"] }], capacity: 1 });
    const g1 = await cl.submit("tg", 1, { tags: ["gpu"] });
    expect((await gpu.next("task")).task_id).toBe(g1);
    // both busy; queue: [needs gpu, any]
    const g2 = await cl.submit("tg", 2, { tags: ["gpu"] });
    const any = await cl.submit("tg", 3);
    plain.send({ type: "result", task_id: busy, ok: true });
    expect((await plain.next("task")).task_id).toBe(any);
    gpu.send({ type: "result", task_id: g1, ok: true });
    expect((await gpu.next("task")).task_id).toBe(g2);
  });
});
