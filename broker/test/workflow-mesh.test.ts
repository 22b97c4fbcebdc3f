/**
 * Workflow runs outlive the broker running them [WF-15]: two real broker processes on a private
 * redis-server; the broker running 100 runs is killed with SIGKILL mid-way, and the survivor takes
 * their leases and finishes every run without running a completed step again (the agents count).
 */
import { createAgent, decodePayload, encodePayload, type Agent, type WorkflowDefinition } from "@agentwire/sdk";
import { releaseClusters, startBroker, STORES, waitFor, type BrokerProcess, type MeshStore } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const logger = pino({ level: "silent" });
const RUNS = 100;


const flow: WorkflowDefinition = {
  workflow: 1,
  name: "mesh-flow",
  version: "1.0.0",
  steps: [
    { id: "one", capability: "wf.one", input: { n: { $ref: "/input/n" } } },
    { id: "two", capability: "wf.two", after: ["one"], input: { n: { $ref: "/input/n" }, from: { $ref: "/steps/one/output" } } },
    { id: "three", capability: "wf.three", after: ["two"], input: { n: { $ref: "/input/n" } } },
  ],
  output: { n: { $ref: "/input/n" }, two: { $ref: "/steps/two/output/v" }, three: { $ref: "/steps/three/output/v" } },
};

afterAll(() => releaseClusters());

describe.each(STORES)("workflows across a mesh on $name", (storeFactory) => {
  let store: MeshStore;
  let a: BrokerProcess;
  let b: BrokerProcess;
  let agent: Agent;
  /** Executions per "<step>:<n>", counted by the agent. */
  const executions = new Map<string, number>();
  const ran = (key: string): void => void executions.set(key, (executions.get(key) ?? 0) + 1);
  /** Tasks of wf.hold the agent holds, and those whose cancel it saw. */
  const held = new Set<string>();
  const cancelled = new Set<string>();
  /** Runs whose wf.gate step waits for `open()`. */
  const gated = new Set<number>();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));

  beforeAll(async () => {
    store = await storeFactory.start();
    a = await startBroker([...store.join, "--broker-id", "wf-a"], { label: "broker wf-a" });
    b = await startBroker([...store.join, "--broker-id", "wf-b"], { label: "broker wf-b" });
    const step = (name: string, ms: number) => async (input: { n: number }) => {
      // Some work that takes time, so that the kill finds runs in every step.
      await new Promise((resolve) => setTimeout(resolve, ms));
      ran(`${name}:${input.n}`);
      return { v: `${name}-${input.n}` };
    };
    agent = createAgent({ url: b.url, name: "mesh-worker", agentId: "mesh-worker", logger, capacity: 64, backoff: { minMs: 20, maxMs: 250 } })
      .capability("wf.one", { input: z.object({ n: z.number() }) }, step("one", 50))
      .capability("wf.two", { input: z.object({ n: z.number() }).passthrough() }, step("two", 400))
      .capability("wf.three", { input: z.object({ n: z.number() }) }, step("three", 50))
      .capability("wf.hold", { input: z.unknown() }, (_input, ctx) =>
        new Promise((_resolve, reject) => {
          held.add(ctx.task.id);
          ctx.signal.addEventListener("abort", () => {
            cancelled.add(ctx.task.id);
            reject(ctx.signal.reason);
          });
        }),
      )
      .capability("wf.gate", { input: z.object({ n: z.number() }) }, async (input) => {
        gated.add(input.n);
        await gate;
        ran(`gate:${input.n}`);
        return { n: input.n };
      })
      .capability("wf.after", { input: z.object({ n: z.number() }) }, async (input) => {
        ran(`after:${input.n}`);
        return { done: input.n };
      });
    await agent.start();
    // Broker A routes to B's agent once it lists it.
    await listsAgent(a);
  }, 60_000);

  afterAll(async () => {
    await agent?.drain();
    await a?.stop();
    await b?.stop();
    await store?.stop();
  });

  const listsAgent = (broker: BrokerProcess): Promise<true> =>
    waitFor(async () => {
      const res = (await (await fetch(`${broker.http}/v1/agents`)).json()) as { agents: Array<{ agent_id: string }> };
      return res.agents.some((x) => x.agent_id === "mesh-worker") ? true : undefined;
    }, 10_000, "broker A to list the agent of broker B");

  it("a SIGKILLed broker's 100 runs complete on the survivor; no completed step runs twice [WF-13, WF-15]", async () => {
    const starter = await Peer.register(a.url, { name: "starter" }, { waitMs: 20_000 });
    const ids: string[] = [];
    for (let n = 0; n < RUNS; n++) starter.send({ type: "run", ref: `r${n}`, workflow: flow as unknown as Record<string, unknown>, input: encodePayload({ n }), watch: false });
    for (let n = 0; n < RUNS; n++) ids.push((await starter.next("run_accepted", (f) => f.ref === `r${n}`)).run_id);
    // Mid-way: some runs are past step two, the rest in it or before it.
    await waitFor(() => ([...executions.keys()].filter((k) => k.startsWith("two:")).length >= 10 ? true : undefined), 30_000, "ten runs past step two");
    a.child.kill("SIGKILL");
    const doneBeforeKill = [...executions.keys()].filter((k) => k.startsWith("three:")).length;
    expect(doneBeforeKill).toBeLessThan(RUNS);

    const watcher = await Peer.register(b.url, { name: "watcher" }, { waitMs: 60_000 });
    for (const id of ids) watcher.send({ type: "run_watch", ref: `w-${id}`, run_id: id });
    const results = await Promise.all(ids.map((id) => watcher.next("run_result", (f) => f.run_id === id, 60_000)));
    for (const [n, r] of results.entries()) {
      expect(r.ok, `run ${n}: ${JSON.stringify(r.error)}`).toBe(true);
      expect(decodePayload(r.output!)).toEqual({ n, two: `two-${n}`, three: `three-${n}` });
    }
    for (let n = 0; n < RUNS; n++) {
      for (const s of ["one", "two", "three"]) expect(executions.get(`${s}:${n}`), `${s} of run ${n}`).toBe(1);
    }
    // The survivor took the runs that were not done over (its log says so for each).
    const resumed = b.child.lines.filter((l) => l.includes("resuming a run whose broker is gone")).length;
    expect(resumed).toBeGreaterThanOrEqual(RUNS - doneBeforeKill);
    expect(resumed).toBeGreaterThan(0);
    // The survivor's view of a run: every step succeeded once.
    const view = (await (await fetch(`${b.http}/v1/runs/${ids[RUNS - 1]}`)).json()) as { state: string; steps: Record<string, { state: string; attempts: number }> };
    expect(view).toMatchObject({ state: "completed", steps: { one: { state: "succeeded", attempts: 1 }, two: { state: "succeeded", attempts: 1 }, three: { state: "succeeded", attempts: 1 } } });
    await watcher.close();
    await starter.close().catch(() => undefined);
  }, 120_000);

  it("a run is cancelled through another broker of the mesh, whose watcher gets its result [WF-20, WF-21]", async () => {
    await a.restart();
    await listsAgent(a);
    const starter = await Peer.register(a.url, { name: "starter-2" }, { waitMs: 20_000 });
    const hold: WorkflowDefinition = { workflow: 1, name: "mesh-hold", version: "1.0.0", steps: [{ id: "h", capability: "wf.hold" }] };
    starter.send({ type: "run", ref: "h1", workflow: hold as unknown as Record<string, unknown>, input: encodePayload(null) });
    const runId = (await starter.next("run_accepted", (f) => f.ref === "h1")).run_id;
    const taskId = (await starter.next("run_event", (e) => e.run_id === runId && e.event === "workflow.step.started")).task_id!;
    await waitFor(() => (held.has(taskId) ? true : undefined), 10_000, "the agent to hold the step's task");
    const watcher = await Peer.register(b.url, { name: "watcher-2" }, { waitMs: 20_000 });
    watcher.send({ type: "run_watch", ref: "w1", run_id: runId });
    await watcher.next("ack", (f) => f.ref === "w1");
    // Broker B does not run it: A cancels it at its next lease renewal.
    const del = await fetch(`${b.http}/v1/runs/${runId}`, { method: "DELETE" });
    expect(del.status).toBe(202);
    await waitFor(() => (cancelled.has(taskId) ? true : undefined), 10_000, "the agent to see the cancel");
    for (const peer of [starter, watcher]) expect(await peer.next("run_result", (f) => f.run_id === runId)).toMatchObject({ ok: false, error: { code: "cancelled" } });
    // The watcher on B got the transitions A wrote after the watch, then the result [WF-21].
    expect(watcher.all("run_event", (e) => e.run_id === runId).map((e) => `${e.event}${e.step === undefined ? "" : `:${e.step}`}`)).toEqual(["workflow.step.cancelled:h", "workflow.cancelled"]);
    const order = watcher.received.filter((f) => "run_id" in f && f.run_id === runId).map((f) => f.type);
    expect(order.at(-1)).toBe("run_result");
    await watcher.close();
    await starter.close();
  }, 60_000);

  it("a broker shutting down gracefully leaves its runs to the mesh, which finishes them [WF-15]", async () => {
    const starter = await Peer.register(a.url, { name: "starter-3" }, { waitMs: 20_000 });
    const gateFlow: WorkflowDefinition = { workflow: 1, name: "mesh-gate", version: "1.0.0", steps: [{ id: "g", capability: "wf.gate", input: { n: { $ref: "/input/n" } } }, { id: "after", capability: "wf.after", after: ["g"], input: { n: { $ref: "/input/n" } } }] };
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      starter.send({ type: "run", ref: `g${n}`, workflow: gateFlow as unknown as Record<string, unknown>, input: encodePayload({ n }), watch: false });
      ids.push((await starter.next("run_accepted", (f) => f.ref === `g${n}`)).run_id);
    }
    await waitFor(() => (gated.size === 5 ? true : undefined), 10_000, "every run's first step to be running");
    const stopped = a.stop(30_000);
    await a.child.waitForLine(/shutting down/, 10_000);
    open();
    const watcher = await Peer.register(b.url, { name: "watcher-3" }, { waitMs: 30_000 });
    for (const id of ids) watcher.send({ type: "run_watch", ref: `w-${id}`, run_id: id });
    for (const id of ids) expect(await watcher.next("run_result", (f) => f.run_id === id)).toMatchObject({ ok: true });
    for (let n = 0; n < 5; n++) expect([executions.get(`gate:${n}`), executions.get(`after:${n}`)], `run ${n}`).toEqual([1, 1]);
    // Broker B finished them: it resumed each (A gave their leases up instead of starting step two).
    expect(ids.filter((id) => b.child.lines.some((l) => l.includes(id) && l.includes("resuming a run")))).toEqual(ids);
    expect(await stopped).toBe(0);
    await watcher.close();
    await starter.close().catch(() => undefined);
  }, 60_000);
});
