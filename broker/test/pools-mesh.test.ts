/**
 * Pools across a mesh [POOL-15]: figures are mesh-wide (load submitted on broker A, members on
 * broker B: the pool still scales up, and A's decisions drain B's members through B), and exactly one
 * broker decides — SIGKILL the deciding broker and, once its supervisor has moved to the survivor,
 * the survivor takes the lease (a higher fence) and the decisions.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startBroker, startMeshPair, startRedisStore, waitFor, type MeshStore, type RunningBroker } from "@agentwire/testkit";
import { Load, TestPool } from "./helpers/pools.js";

const LIVENESS = ["--mesh-liveness-ms", "250"];
const FAST = { interval_ms: 100, window_ms: 300, stabilization_ms: 1_500, cooldown_ms: 200, step: 2 };

const cleanup: (AsyncDisposable | (() => Promise<unknown>))[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await (typeof c === "function" ? c() : c[Symbol.asyncDispose]());
});

async function pools(http: string): Promise<any[]> {
  return ((await (await fetch(`${http}/v1/pools`)).json()) as { pools: any[] }).pools;
}

/** A mesh pair with a pool supervised on A whose members register on B, its first member started, and a client on A. */
async function meshPool(name: string, min: number, max: number): Promise<{ mesh: RunningBroker; pool: TestPool; load: Load }> {
  const mesh = await startMeshPair(LIVENESS);
  cleanup.push(() => mesh.stop());
  const pool = await TestPool.declare(mesh.url, { name, min, max, autoscale: FAST }, { memberUrl: mesh.agentUrl });
  cleanup.push(pool);
  const load = await Load.connect(mesh.url);
  cleanup.push(load);
  await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
  await pool.started();
  await mesh.visible(pool.members[0]!.peer.agentId);
  return { mesh, pool, load };
}

describe("pools in a mesh", () => {
  it("scales a pool whose members are on B from load submitted on A, and drains B's members from A", async () => {
    const { mesh, pool, load } = await meshPool("mesh", 1, 6);

    // 6 tasks for 1 member of capacity 2: 2 run on B, 4 wait there; A counts both.
    const ids = await load.submit(6);
    await waitFor(() => (pool.size >= 3 ? true : undefined), 15_000, `the pool to grow (steps ${JSON.stringify(pool.steps())})`);
    expect(pool.scales[1]).toMatchObject({ from: 1, reason: "utilization_high" });
    const view = (await pools(mesh.http)).find((p) => p.name === "mesh");
    expect(view.decider).toBe("mesh-a");
    expect(view.members.every((m: any) => m.broker_id !== view.decider)).toBe(true);

    // The load ends: A drains B's idlest members, which B tells with `drain` [DRAIN-7].
    await waitFor(() => (pool.held === 6 ? true : undefined), 15_000, "every task on a member");
    // A's figures count B's members' tasks (as B publishes them) [POOL-8].
    await waitFor(async () => ((await pools(mesh.http)).find((p) => p.name === "mesh")?.in_flight === 6 ? true : undefined), 10_000, "A to count 6 in flight on B");
    pool.release();
    await waitFor(() => (pool.steps().at(-1)![1] === 1 ? true : undefined), 30_000, `the pool back at 1 (steps ${JSON.stringify(pool.steps())})`);
    await waitFor(() => (pool.size === 1 ? true : undefined), 10_000, "drained members to leave");
    expect(pool.members.filter((m) => m.drained).length).toBe(pool.members.length - 1);
    await waitFor(() => (load.results.size === 6 ? true : undefined), 10_000, "every result");
    for (const id of ids) expect(pool.executions.get(id), id).toBe(1);
  });

  it("counts the tasks queued on every broker as the pool's demand [POOL-8]", async () => {
    const { mesh, pool, load } = await meshPool("queue", 1, 1);
    await load.submit(6);
    // Whichever broker holds the 4 the member has no room for, A and B both see them.
    for (const http of [mesh.http, mesh.agentHttp]) {
      await waitFor(async () => {
        const p = (await pools(http)).find((x) => x.name === "queue");
        return p?.in_flight === 2 && p?.queued === 4 ? true : undefined;
      }, 10_000, `${http} to count 2 in flight and 4 queued`);
    }
    pool.release();
  });

  it("scales from zero in a mesh: a task submitted on A while the pool has no member waits for the member it brings on B [POOL-17]", async () => {
    const mesh = await startMeshPair(LIVENESS);
    cleanup.push(() => mesh.stop());
    const pool = await TestPool.declare(mesh.url, { name: "zero", min: 0, max: 2, autoscale: FAST }, { memberUrl: mesh.agentUrl });
    cleanup.push(pool);
    const load = await Load.connect(mesh.url);
    cleanup.push(load);
    // B learns of the pool through the mesh: a submit on either broker is the pool's demand.
    await waitFor(async () => ((await pools(mesh.agentHttp)).some((p) => p.name === "zero") ? true : undefined), 10_000, "B to know the pool");
    const [id] = await load.submit(1);
    await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 15_000, "a scale-up from zero");
    expect(pool.scales[0]).toMatchObject({ from: 0, to: 1, reason: "utilization_high" });
    await pool.started();
    await waitFor(() => (pool.held === 1 ? true : undefined), 15_000, "the queued task to reach the member on B");
    pool.release();
    await waitFor(() => (load.results.has(id!) ? true : undefined), 10_000, "its result on A");
    expect(load.results.get(id!)).toMatchObject({ ok: true });
    expect(pool.executions.get(id!)).toBe(1);
  });

  it("hands the decisions over when the deciding broker is SIGKILLed", async () => {
    const store: MeshStore = await startRedisStore();
    cleanup.push(store);
    const a = await startBroker([...store.join, "--broker-id", "pool-a", ...LIVENESS], { label: "broker pool-a" });
    const b: RunningBroker = await startBroker([...store.join, "--broker-id", "pool-b", ...LIVENESS], { label: "broker pool-b" });
    cleanup.push(() => b.stop(), () => a.stop());
    // Supervisor on A (A decides), members on B.
    const first = await TestPool.declare(a.url, { name: "handover", min: 2, max: 4, autoscale: FAST }, { memberUrl: b.url });
    cleanup.push(first);
    await waitFor(() => (first.scales.length >= 1 ? true : undefined), 10_000, "below_min from A");
    await first.started();
    await waitFor(async () => ((await pools(b.http)).find((p) => p.name === "handover")?.decider === "pool-a" ? true : undefined), 10_000, "B to see A as the decider");
    const fenceA = first.scales[0]!;
    expect(fenceA).toMatchObject({ from: 0, to: 2 });

    a.child.kill("SIGKILL");
    await a.child.exited;
    // The supervisor reconnects to B and declares again: refused while A still looks alive, then taken.
    const second = await TestPool.declareWhenFree(b.url, { name: "handover", min: 3, max: 4, autoscale: FAST }, { memberUrl: b.url, autoStart: false });
    cleanup.push(second);
    // B decides now: the pool's 2 members are below the new min 3.
    await waitFor(() => (second.scales.some((s) => s.reason === "below_min" && s.from === 2 && s.to === 3) ? true : undefined), 15_000, "a below_min decision from B");
    const events = (await (await fetch(`${b.http}/v1/events?type=pool.scaled`)).text()).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    expect(events.at(-1).data).toMatchObject({ pool: "handover", broker_id: "pool-b", from: 2, to: 3 });
    const view = (await pools(b.http)).find((p) => p.name === "handover");
    expect(view).toMatchObject({ decider: "pool-b", supervisor: second.sup.agentId, size: 2 });
    // The shared decision list holds A's decision and then B's.
    expect(view.decisions.map((d: any) => d.broker_id)).toEqual(["pool-a", "pool-b"]);
  });
});
