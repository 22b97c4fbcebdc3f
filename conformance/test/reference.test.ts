/**
 * Acceptance: the reference broker passes every broker case on each backend the broker suites use —
 * memory, redis (one broker on a mesh store), mesh (brokers A and B on one Redis: clients on A,
 * agents on B, so every task crosses brokers) and mesh-cluster (the same on a 3-master Redis
 * Cluster) — and the SDK-free TS agent passes every agent case.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, releaseClusters, type RunningBroker } from "@agentwire/testkit";
import { BrokerCtx, brokerCases, runAgentSuite, runCases, table, type CaseResult } from "../src/index.js";
import { REFERENCE_ARGS, fixture } from "./helpers.js";

const failures = (results: CaseResult[]) => results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.status} ${r.message ?? ""}`);

afterAll(releaseClusters);

/**
 * Cases that skip themselves when agents and clients are on different brokers of a mesh, because a
 * MESH rule of SPEC.md lets a mesh differ in what they check; the skip message cites the rule (case id
 * → rule). On memory and redis they run; on mesh and mesh-cluster they must skip, and no other case may.
 * broker.route.priority-order: MESH-2 (tasks queue on the agents' broker after `accepted`; the broker
 * suite's ROUTE-2 test checks the order on a mesh by waiting on that broker's queue-depth metric).
 */
const RELAXED_ACROSS_BROKERS: ReadonlyMap<string, string> = new Map([["broker.route.priority-order", "MESH-2"]]);

describe.each(BACKENDS)("reference broker ($name)", (backend) => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await backend.start(REFERENCE_ARGS);
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it.for(brokerCases.map((c) => [c.id, c] as const))("%s", async ([, c]) => {
    const [result] = await runCases([c], () => new BrokerCtx({ url: broker.url, agentUrl: broker.agentUrl, http: broker.http, timeoutMs: 10_000 }));
    const rule = RELAXED_ACROSS_BROKERS.get(c.id);
    if (broker.agentUrl !== broker.url && rule !== undefined) {
      // The case must skip here, citing its rule: that is what this test checks on a mesh.
      expect([result?.status, result?.message?.startsWith(`${rule}: `)]).toEqual(["skipped", true]);
      return;
    }
    if (failures([result!]).length > 0) console.error(table([result!]));
    expect(failures([result!])).toEqual([]);
  });
});

describe("SDK-free TypeScript agent (test/fixtures/ts-agent.ts)", () => {
  it("passes every agent case", async () => {
    const results = await runAgentSuite({ command: [process.execPath, fixture("ts-agent")], timeoutMs: 10_000 });
    expect(failures(results)).toEqual([]);
  }, 180_000);
});
