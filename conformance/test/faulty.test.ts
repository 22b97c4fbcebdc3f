/** The suite catches broken implementations, each on the case meant to catch it. */
import { afterAll, describe, expect, it } from "vitest";
import type { BrokerProcess } from "@agentwire/testkit";
import { runAgentSuite, runBrokerSuite, type CaseResult } from "../src/index.js";
import { fixture, startToyBroker } from "./helpers.js";

const status = (results: CaseResult[], id: string) => results.find((r) => r.id === id)?.status;

describe("faulty brokers (test/fixtures/toy-broker.ts)", () => {
  const started: BrokerProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });
  const filter = "/^broker\\.(route\\.priority-order|hb\\.eviction|task\\.requeue-on-loss|trace\\.task)$/";
  const runOn = async (fault?: string) => {
    const broker = await startToyBroker(fault);
    started.push(broker);
    return runBrokerSuite({ url: broker.url, timeoutMs: 3_000 }, { filter });
  };

  it("the toy broker without a fault passes the four cases (so a failure below is the fault's)", async () => {
    const results = await runOn();
    expect(results.map((r) => [r.id, r.status, r.message])).toEqual(results.map((r) => [r.id, "passed", undefined]));
    expect(results).toHaveLength(4);
  });

  it.each([
    ["ignore-priority", "broker.route.priority-order"],
    ["never-evict", "broker.hb.eviction"],
    ["lose-requeued", "broker.task.requeue-on-loss"],
    ["drop-trace", "broker.trace.task"],
  ])("fault %s fails %s", async (fault, caseId) => {
    const results = await runOn(fault);
    expect(status(results, caseId)).toBe("failed");
  });
});

describe("faulty agents (test/fixtures/ts-agent.ts --fault)", () => {
  it.each([
    ["no-heartbeat", "agent.heartbeat", "MUST"],
    ["ignore-cancel", "agent.cancel", "SHOULD"],
    ["ext-types", "agent.wire-format", "MUST"],
    ["late-register", "agent.register", "MUST"],
  ])("fault %s fails %s (%s)", async (fault, caseId, level) => {
    const results = await runAgentSuite({ command: [process.execPath, fixture("ts-agent"), "--fault", fault], timeoutMs: 3_000 }, { filter: caseId });
    const r = results.find((x) => x.id === caseId);
    expect(r?.status, r?.message).toBe("failed");
    expect(r?.level).toBe(level);
  });
});
