/**
 * A broker on Redis that is SIGKILLed and restarted resumes its own runs [WF-15]: the new process
 * (same broker id, a new incarnation) takes their lapsed leases and finishes them, joining the step
 * attempt that was running instead of running it again.
 */
import { createAgent, decodePayload, encodePayload, type Agent, type WorkflowDefinition } from "@agentwire/sdk";
import { startBroker, startRedisStore, waitFor, type BrokerProcess, type MeshStore } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

let store: MeshStore;
let broker: BrokerProcess;
let agent: Agent;
const executions = new Map<string, number>();
let release!: () => void;
const gate = new Promise<void>((resolve) => (release = resolve));
const waiting = new Set<number>();

const flow: WorkflowDefinition = {
  workflow: 1,
  name: "restart-flow",
  version: "1.0.0",
  steps: [
    { id: "slow", capability: "rs.slow", input: { n: { $ref: "/input/n" } } },
    { id: "next", capability: "rs.next", after: ["slow"], input: { $ref: "/steps/slow/output" } },
  ],
};

beforeAll(async () => {
  store = await startRedisStore();
  broker = await startBroker([...store.join, "--broker-id", "wf-restart"]);
  const count = (k: string): void => void executions.set(k, (executions.get(k) ?? 0) + 1);
  agent = createAgent({ url: broker.url, name: "restart-worker", logger: pino({ level: "silent" }), backoff: { minMs: 20, maxMs: 200 } })
    .capability("rs.slow", { input: z.object({ n: z.number() }) }, async (input) => {
      waiting.add(input.n);
      await gate;
      count(`slow:${input.n}`);
      return { n: input.n };
    })
    .capability("rs.next", { input: z.object({ n: z.number() }) }, async (input) => {
      count(`next:${input.n}`);
      return { last: input.n };
    });
  await agent.start();
}, 60_000);

afterAll(async () => {
  await agent?.drain();
  await broker?.stop();
  await store?.stop();
});

describe("workflows on a restarted broker", () => {
  it("a killed broker's runs resume in its next process [WF-15]", async () => {
    const client = await Peer.register(broker.url, { name: "starter" });
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      client.send({ type: "run", ref: `r${n}`, workflow: flow as unknown as Record<string, unknown>, input: encodePayload({ n }), watch: false });
      ids.push((await client.next("run_accepted", (f) => f.ref === `r${n}`)).run_id);
    }
    await waitFor(() => (waiting.size === 3 ? true : undefined), 10_000, "the three slow steps to run");
    broker.child.kill("SIGKILL");
    await broker.restart();
    const watcher = await Peer.register(broker.url, { name: "watcher" }, { waitMs: 30_000 });
    for (const id of ids) watcher.send({ type: "run_watch", ref: `w-${id}`, run_id: id });
    for (const id of ids) await watcher.next("ack", (a) => a.ref === `w-${id}`);
    // The agent reconnects to the new process; the slow steps it held end now.
    release();
    for (const [n, id] of ids.entries()) {
      const r = await watcher.next("run_result", (f) => f.run_id === id, 30_000);
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      expect(decodePayload(r.output!)).toEqual({ last: n });
    }
    // The step after the restart ran once per run. (A slow step the agent held when its broker died is
    // at least once: the mesh runs the lost process's task again, TASK lifecycle.)
    for (let n = 0; n < 3; n++) expect(executions.get(`next:${n}`), `run ${n}`).toBe(1);
    expect(ids.filter((id) => broker.child.lines.some((l) => l.includes(id) && l.includes("resuming a run")))).toEqual(ids);
    await watcher.close();
  }, 90_000);
});
