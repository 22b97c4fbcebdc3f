/** Acceptance: the reference broker passes every broker case; the SDK-free TS agent every agent case. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrokerProcess } from "@agentwire/testkit";
import { runAgentSuite, runBrokerSuite, table, type CaseResult } from "../src/index.js";
import { fixture, startReferenceBroker } from "./helpers.js";

const failures = (results: CaseResult[]) => results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.status} ${r.message ?? ""}`);

describe("reference broker", () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startReferenceBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it("passes every broker case", async () => {
    const results = await runBrokerSuite({ url: broker.url, http: broker.http, timeoutMs: 10_000 });
    if (failures(results).length > 0) console.error(table(results));
    expect(failures(results)).toEqual([]);
  }, 240_000);
});

describe("SDK-free TypeScript agent (test/fixtures/ts-agent.ts)", () => {
  it("passes every agent case", async () => {
    const results = await runAgentSuite({ command: [process.execPath, fixture("ts-agent")], timeoutMs: 10_000 });
    expect(failures(results)).toEqual([]);
  }, 180_000);
});
