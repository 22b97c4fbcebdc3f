/**
 * The chaos instrument's accounting (test/chaos/report.ts) on hand-made records: each invariant holds
 * for a clean history and catches exactly the violation it is about, and what the spec allows
 * (a re-run after an agent failure, agent_lost at the last attempt) is not counted against it.
 */
import { describe, expect, it } from "vitest";
import type { KeyRecord, ResultRecord } from "./chaos/client.js";
import { analyse, type ChaosData, type Exec, type FaultRecord } from "./chaos/report.js";

const T = 1_000_000;

function key(n: number, results: Partial<ResultRecord>[] = [{}], extra: Partial<KeyRecord> = {}): KeyRecord {
  const k = `k-${n}`;
  return {
    key: k,
    createdAt: T + n,
    firstSentAt: T + n,
    sends: 1,
    sentOn: 1,
    answered: true,
    refs: [`${k}.1`],
    accepted: [{ taskId: `t-${n}`, duplicate: false, at: T + n + 1, conn: 1 }],
    refusals: [],
    results: results.map((r) => ({
      taskId: `t-${n}`,
      ok: true,
      code: undefined,
      message: undefined,
      outputKey: k,
      outputTaskId: `t-${n}`,
      attempt: 1,
      refMatches: true,
      at: T + n + 50,
      conn: 1,
      url: "ws://a/",
      ...r,
    })),
    ...extra,
  };
}

const exec = (n: number, attempt: number, at = T + n + 10, taskId = `t-${n}`): Exec => ({ agent: "B0#1", broker: "B", taskId, attempt, key: `k-${n}`, at });

function data(keys: KeyRecord[], execs: Exec[], faults: FaultRecord[] = [], more: Partial<ChaosData> = {}): ChaosData {
  return {
    store: "redis",
    storeNote: "test",
    durationMs: 10_000,
    inflight: 4,
    drainMs: 1_000,
    livenessMs: 250,
    settleMs: 1_750,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1_000,
    taskTimeoutMs: 30_000,
    maxAttempts: 3,
    agentsPerBroker: 1,
    startedAt: T,
    endedAt: T + 10_000,
    keys,
    strays: [],
    sharedTaskIds: [],
    otherErrors: [],
    connections: [{ n: 1, url: "ws://a/", registeredAt: T }],
    brokerUrls: { "ws://a/": "A" },
    execs,
    evictions: [],
    faults,
    ...more,
  };
}

const failing = (d: ChaosData): string[] =>
  analyse(d)
    .invariants.filter((i) => !i.ok)
    .map((i) => i.id);

const fault = (n: number, kind: FaultRecord["kind"], at: number): FaultRecord => ({ n, name: `fault ${n}`, kind, at, restoredAt: at + 100, servedAt: at + 150, fullAt: at + 200, note: "" });

describe("chaos report", () => {
  it("a clean history passes every invariant", () => {
    const r = analyse(data([key(1), key(2)], [exec(1, 1), exec(2, 1)]));
    expect(r.ok).toBe(true);
    expect(r.invariants.map((i) => i.id)).toEqual(["I1", "I2", "I3", "I4", "I5", "I6", "I7"]);
    expect(r.executionsHistogram.get(1)).toBe(2);
  });

  it("I1: a key answered twice", () => {
    expect(failing(data([key(1, [{}, { at: T + 90 }])], [exec(1, 1)]))).toEqual(["I1"]);
  });

  it("I2: output of another key, a result for a task never accepted, a result with another key's ref", () => {
    expect(failing(data([key(1, [{ outputKey: "k-9" }])], [exec(1, 1)]))).toEqual(["I2"]);
    expect(failing(data([key(1)], [exec(1, 1)], [], { strays: [{ taskId: "t-x", ref: undefined, ok: true, at: T }] }))).toEqual(["I2"]);
    expect(failing(data([key(1, [{ refMatches: false }])], [exec(1, 1)]))).toEqual(["I2"]);
    expect(failing(data([key(1)], [exec(1, 1), exec(7, 1)]))).toEqual(["I2"]); // an execution of a key never made
  });

  it("I3: a key never answered", () => {
    expect(failing(data([key(1, [])], [exec(1, 1)]))).toEqual(["I3"]);
  });

  it("I4: more executions than max_attempts", () => {
    const f = fault(1, "agent", T);
    expect(failing(data([key(1)], [exec(1, 1), exec(1, 2), exec(1, 3), exec(1, 4)], [f]))).toEqual(["I4"]);
  });

  it("I5: one attempt number executed twice (a resubmit that became a new task, a stale broker's rerun)", () => {
    const f = fault(1, "broker", T);
    expect(failing(data([key(1)], [exec(1, 1), exec(1, 1, T + 500, "t-1b")], [f]))).toEqual(["I5"]);
  });

  it("I6: a re-run is fine after an agent or broker failure or an eviction, not after a Redis fault alone or none", () => {
    const reruns = [exec(1, 1, T + 10), exec(1, 2, T + 600)];
    expect(failing(data([key(1)], reruns, [fault(1, "agent", T + 300)]))).toEqual([]);
    expect(failing(data([key(1)], reruns, [], { evictions: [{ broker: "B", agentId: "x", at: T + 400 }] }))).toEqual([]);
    expect(failing(data([key(1)], reruns, [fault(1, "redis", T + 300)]))).toEqual(["I6"]);
    expect(failing(data([key(1)], reruns))).toEqual(["I6"]);
    // A broker fault long over (past its settle time) explains nothing.
    expect(failing(data([key(1)], [exec(1, 1, T + 5_000), exec(1, 2, T + 5_600)], [fault(1, "broker", T)]))).toEqual(["I6"]);
  });

  it("I7: error results, a task lost until its deadline included; agent_lost at the last attempt is allowed", () => {
    const err = (code: string, attempt: number): Partial<ResultRecord> => ({ ok: false, code, outputKey: undefined, outputTaskId: undefined, attempt });
    expect(failing(data([key(1, [err("no_agents", 1)])], []))).toEqual(["I7"]);
    expect(failing(data([key(1, [err("shutting_down", 1)])], [exec(1, 1)]))).toEqual(["I7"]);
    expect(failing(data([key(1, [err("agent_lost", 2)])], [exec(1, 1)]))).toEqual(["I7"]);
    expect(failing(data([key(1, [{ ...err("deadline_exceeded", 1), at: T + 31_000 }])], [exec(1, 1)]))).toEqual(["I7"]);
    const f = fault(1, "agent", T);
    expect(failing(data([key(1, [err("agent_lost", 3)])], [exec(1, 1), exec(1, 2), exec(1, 3)], [f]))).toEqual([]);
  });
});
