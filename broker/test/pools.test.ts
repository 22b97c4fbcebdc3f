/**
 * Agent pools on a real broker process [§19]: declaring a pool and its supervisor rules, members in
 * registry answers, the autoscaler under a load ramp (up, then back down to min, monotone per phase),
 * scale-down by draining (busy members finish their tasks; nothing fails or runs twice), a SIGKILLed
 * member's task running again elsewhere, GET /v1/pools, /metrics and the recorded pool.scaled events.
 * Time-dependent parts use short configured windows and wait for the frames and events themselves.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot, run, startBroker, waitFor, type BrokerProcess, type Child } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import { Load, TestPool } from "./helpers/pools.js";

const FAST = { interval_ms: 100, window_ms: 300, stabilization_ms: 1_500, cooldown_ms: 200, step: 2 };

let broker: BrokerProcess | undefined;
const cleanup: AsyncDisposable[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c[Symbol.asyncDispose]();
  await broker?.stop();
  broker = undefined;
});
const keep = <T extends AsyncDisposable>(x: T): T => (cleanup.push(x), x);

async function getJson(path: string): Promise<any> {
  const res = await fetch(`${broker!.http}${path}`);
  expect(res.status).toBe(200);
  return res.json();
}

/** The pool.scaled events the broker recorded, oldest first [POOL-14]. */
async function scaledEvents(pool: string): Promise<any[]> {
  const text = await (await fetch(`${broker!.http}/v1/events?type=pool.scaled`)).text();
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)).filter((e) => e.data.pool === pool);
}

/** Whether each phase's steps move one way only: up while loaded, down after [POOL-10]. */
function monotone(steps: [number, number][]): boolean {
  const turn = steps.findIndex(([from, to]) => to < from);
  const up = turn === -1 ? steps : steps.slice(0, turn);
  const down = turn === -1 ? [] : steps.slice(turn);
  return up.every(([f, t]) => t > f) && down.every(([f, t]) => t < f) && down.every(([, t], i) => i === 0 || t < down[i - 1]![1]);
}

describe("pools on one broker", () => {
  it("declares a pool once per supervisor, shows members' pool in registry answers, and frees the name when the supervisor leaves [POOL-1..POOL-5]", async () => {
    broker = await startBroker();
    const pool = keep(await TestPool.declare(broker.url, { name: "q", min: 0, max: 3 }));
    const other = keep(await Peer.register(broker.url, { name: "other" }));
    other.send({ type: "pool", ref: "o1", name: "q", capabilities: ["work"], min: 0, max: 1 });
    const refused = await other.next("error", (e) => e.ref === "o1");
    expect(refused.code).toBe("pool_supervised");
    // The supervisor's own update is taken; crossed thresholds are not.
    await pool.redeclare({ name: "q", capabilities: ["work"], min: 0, max: 4 });
    pool.sup.send({ type: "pool", ref: "bad", name: "q", capabilities: ["work"], min: 0, max: 4, autoscale: { down_threshold: 0.9, up_threshold: 0.5 } });
    const bad = await pool.sup.next("error", (e) => e.ref === "bad");
    expect(bad).toMatchObject({ code: "bad_frame", details: { path: "autoscale" } });
    pool.sup.send({ type: "pool", ref: "mm", name: "q", capabilities: ["work"], min: 3, max: 2 });
    expect((await pool.sup.next("error", (e) => e.ref === "mm")).code).toBe("bad_frame");

    const m = await pool.startMember();
    other.send({ type: "query", ref: "qq" });
    const answer = await other.next("agents", (a) => a.ref === "qq");
    expect(answer.agents.find((a) => a.agent_id === m.peer.agentId)?.pool).toBe("q");
    const http = await getJson("/v1/agents");
    expect(http.agents.find((a: any) => a.agent_id === m.peer.agentId)?.pool).toBe("q");
    const view = (await getJson("/v1/pools")).pools.find((p: any) => p.name === "q");
    expect(view).toMatchObject({ name: "q", capabilities: ["work"], min: 0, max: 4, size: 1, capacity: 2, supervisor: pool.sup.agentId, decider: expect.any(String) });
    expect(view.autoscale).toEqual({ up_threshold: 0.8, down_threshold: 0.2, step: 2, interval_ms: 1000, window_ms: 10000, stabilization_ms: 30000, cooldown_ms: 5000 });
    expect(view.members).toEqual([{ agent_id: m.peer.agentId, broker_id: view.decider, status: "ready", in_flight: 0, capacity: 2 }]);

    // The supervisor leaves: the pool stays, and another session may declare it.
    await pool.sup.close();
    await waitFor(async () => ((await getJson("/v1/pools")).pools[0]?.supervisor === null ? true : undefined), 10_000, "the pool to lose its supervisor");
    other.send({ type: "pool", ref: "o2", name: "q", capabilities: ["work"], min: 0, max: 1 });
    await other.next("ack", (a) => a.ref === "o2");
  });

  it("grows with a load ramp and shrinks back to min, one way per phase; every task completes exactly once [POOL-8..POOL-12]", async () => {
    broker = await startBroker();
    const pool = keep(await TestPool.declare(broker.url, { name: "ramp", min: 2, max: 10, autoscale: FAST }));
    const load = keep(await Load.connect(broker.url));
    await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
    expect(pool.scales[0]).toMatchObject({ pool: "ramp", from: 0, to: 2, reason: "below_min" });
    await pool.started();

    // Phase 1: load rises in two steps; the pool follows (capacity 2 per member).
    const ids = await load.submit(4);
    await waitFor(() => (pool.size >= 4 ? true : undefined), 15_000, "the pool to reach 4");
    await pool.started();
    ids.push(...(await load.submit(8)));
    await waitFor(() => (pool.size >= 8 && pool.held === 12 ? true : undefined), 20_000, `the pool to reach 8 members holding 12 tasks (steps ${JSON.stringify(pool.steps())})`);
    const peak = pool.steps().at(-1)![1];
    const up = pool.scales.slice(1);
    expect(up.every((s) => s.reason === "utilization_high")).toBe(true);

    // Phase 2: the load goes, partly at first (2 tasks stay in flight through the first scale-downs).
    pool.release(10);
    await waitFor(() => (pool.steps().some(([f, t]) => t < f) ? true : undefined), 20_000, "a scale-down");
    pool.release();
    await waitFor(() => (pool.steps().at(-1)![1] === 2 ? true : undefined), 30_000, `the pool back at min 2 (steps ${JSON.stringify(pool.steps())})`);
    await waitFor(() => (pool.size === 2 ? true : undefined), 10_000, "drained members to leave");

    expect(peak).toBe(8);
    expect(monotone(pool.steps())).toBe(true);
    const down = pool.scales.filter((s) => s.to < s.from);
    for (const s of down) {
      expect(s.reason).toBe("utilization_low");
      expect(s.drain).toHaveLength(s.from - s.to);
    }
    // Every task ended completed, once: none failed, none ran twice, none needed a second attempt.
    await waitFor(() => (load.results.size === ids.length ? true : undefined), 10_000, "every result");
    for (const id of ids) {
      expect(load.results.get(id)?.ok, id).toBe(true);
      expect(pool.executions.get(id), id).toBe(1);
    }
    // The decisions are events, replayed in order, and in GET /v1/pools [POOL-14].
    const events = await scaledEvents("ramp");
    expect(events.map((e) => [e.data.from, e.data.to])).toEqual(pool.steps());
    expect(events[0].data).toMatchObject({ pool: "ramp", reason: "below_min", broker_id: expect.any(String) });
    const view = (await getJson("/v1/pools")).pools.find((p: any) => p.name === "ramp");
    expect(view.decisions.map((d: any) => [d.from, d.to])).toEqual(pool.steps());
    expect(view).toMatchObject({ size: 2, desired: 2, in_flight: 0, queued: 0 });
  });

  it("drains the idlest members on scale-down; a busy drained member finishes its task, which runs once [POOL-12, DRAIN-7]", async () => {
    broker = await startBroker();
    const pool = keep(await TestPool.declare(broker.url, { name: "busy", min: 3, max: 5, autoscale: FAST }, { capacity: 10 }));
    const load = keep(await Load.connect(broker.url));
    await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
    await pool.started();
    // One idle member more than min would keep: 4 members, 3 tasks spread over 3 of them.
    const extra = await pool.startMember();
    const ids = await load.submit(3);
    await waitFor(() => (pool.held === 3 ? true : undefined), 10_000, "3 tasks held");
    // min 1: utilization 3/40 is below the band; the next decisions drain the idle member first, then busy ones.
    await pool.redeclare({ name: "busy", capabilities: ["work"], min: 1, max: 5, autoscale: FAST });
    await waitFor(() => (pool.steps().at(-1)?.[1] === 1 ? true : undefined), 20_000, `the pool down to 1 (steps ${JSON.stringify(pool.steps())})`);
    const first = pool.scales.find((s) => s.to < s.from)!;
    expect(first.drain?.[0]).toBe(extra.peer.agentId); // fewest in flight, and the newest
    const busyDrained = pool.members.filter((m) => m.drained && m.heldAtDrain > 0);
    expect(busyDrained.length).toBeGreaterThanOrEqual(1);
    // Drained members get no new task while they finish (DRAIN-2): submit more, they go to the one left.
    const more = await load.submit(2);
    await waitFor(() => (pool.held === 5 ? true : undefined), 10_000, "5 tasks held");
    for (const m of pool.members.filter((x) => x.drained)) expect(m.held.length).toBeLessThanOrEqual(m.heldAtDrain);
    pool.release();
    await waitFor(() => (load.results.size === 5 ? true : undefined), 10_000, "every result");
    for (const id of [...ids, ...more]) {
      expect(load.results.get(id)?.ok, id).toBe(true);
      expect(load.results.get(id)?.attempt ?? 1, id).toBe(1);
      expect(pool.executions.get(id), id).toBe(1);
    }
    // Drained members close with 1000 once idle (DRAIN-5).
    for (const m of pool.members.filter((x) => x.drained)) expect((await m.peer.closed).code).toBe(1000);
  });

  it("runs a SIGKILLed member's task again on another member, and asks for a replacement [POOL-9, TASK-22]", async () => {
    broker = await startBroker();
    const pool = keep(await TestPool.declare(broker.url, { name: "kill", min: 2, max: 4, autoscale: FAST }, { autoStart: false }));
    const load = keep(await Load.connect(broker.url));
    await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
    // A member in another process takes the task first.
    const child = startChildMember(broker.url, "kill");
    cleanup.push(child);
    await child.waitForLine(/^REGISTERED /);
    const [id] = await load.submit(1);
    await child.waitForLine(new RegExp(`^EXEC ${id} 1$`));
    const other = await pool.startMember();
    child.kill("SIGKILL");
    await waitFor(() => (other.held.length === 1 ? true : undefined), 15_000, "the task on the other member");
    expect(other.held[0]).toMatchObject({ task_id: id, attempt: 2 });
    pool.release();
    await waitFor(() => (load.results.get(id!) !== undefined ? true : undefined), 10_000, "the result");
    expect(load.results.get(id!)).toMatchObject({ ok: true, attempt: 2 });
    // One member left of min 2: the supervisor is asked for another.
    await waitFor(() => (pool.scales.some((s) => s.from === 1 && s.to === 2 && s.reason === "below_min") ? true : undefined), 10_000, "a below_min scale from 1");
  });

  it("exposes the pool's figures in /metrics for an external autoscaler", async () => {
    broker = await startBroker();
    const pool = keep(await TestPool.declare(broker.url, { name: "m", min: 1, max: 3, autoscale: FAST }));
    const load = keep(await Load.connect(broker.url));
    await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
    await pool.started();
    await load.submit(1);
    await waitFor(() => (pool.held === 1 ? true : undefined), 10_000, "the task held");
    const text = await (await fetch(`${broker.http}/metrics`)).text();
    expect(text).toMatch(/^agentwire_pool_size\{pool="m"\} 1$/m);
    expect(text).toMatch(/^agentwire_pool_desired_size\{pool="m"\} 1$/m);
    expect(text).toMatch(/^agentwire_pool_utilization\{pool="m"\} 0\.5$/m);
    expect(text).toMatch(/^agentwire_pool_queue_depth\{pool="m"\} 0$/m);
    pool.release();
  });
});

/** A pool member in its own process (test/helpers/pool-member.ts, compiled), holding every task it gets. */
function startChildMember(url: string, pool: string): Child {
  const bin = join(repoRoot(), "broker", "dist", "test", "helpers", "pool-member.js");
  return run(process.execPath, [bin, url, pool, "work"], { label: `member ${pool}` });
}
