/**
 * The Redis mesh chaos test (issue #12), short: the scenario of `pnpm chaos` (test/chaos/harness.ts)
 * compressed to ~15 s of load per store, all six faults (agent kill -9; agent-side broker B kill -9 and
 * restart; C SIGTERM and restart; B SIGSTOP > 3 x liveness; Redis kill -9 and restart; the client's
 * broker A kill -9 and restart), on a standalone Redis and on a 3-master Redis Cluster. Asserts every
 * invariant of test/chaos/report.ts per task key: exactly one result delivered, no foreign result,
 * none unanswered, executions ≤ max_attempts, no attempt number run twice, re-runs only after an
 * agent or broker failure, no error result (but agent_lost at the last attempt).
 *
 * AGENTWIRE_CHAOS_LOGS=dir keeps every process's output and the run's records there;
 * AGENTWIRE_CHAOS_SECONDS overrides the 15 s.
 */
import { describe, expect, it } from "vitest";
import { runChaos, type StoreKind } from "./chaos/harness.js";

const seconds = Number(process.env.AGENTWIRE_CHAOS_SECONDS ?? 15);

describe.each(["redis", "cluster"] as StoreKind[])("mesh chaos (%s)", (store) => {
  it(
    "every task gets exactly one result of its own through all six faults; executions within the spec",
    async ({ signal }) => {
      const report = await runChaos({
        store,
        durationMs: seconds * 1_000,
        inflight: 32,
        drainMs: 10_000,
        logDir: process.env.AGENTWIRE_CHAOS_LOGS,
        signal, // a timed-out or cancelled test stops the run and every process it started
        progress: process.env.AGENTWIRE_TEST_VERBOSE === undefined ? undefined : (line) => process.stderr.write(`chaos[${store}] ${line}\n`),
      });
      console.log(report.table);
      expect(report.keys).toBeGreaterThan(0);
      for (const i of report.invariants) {
        expect.soft(i.ok, `${i.id} ${i.name}: expected ${i.expected}, measured ${i.measured}${i.examples.map((e) => `\n  ${e}`).join("")}`).toBe(true);
      }
    },
    180_000,
  );
});
