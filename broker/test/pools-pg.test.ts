/**
 * pool.scaled in the PostgreSQL event store [POOL-14, EVT-1]: a decision is recorded with its figures
 * in its pool's stream, replayed by /v1/events?type=pool.scaled, with the pool as the event's
 * correlation id and the reason as its causation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, startPostgres, waitFor, type PostgresInstance } from "@agentwire/testkit";
import { freshDatabase, query } from "./helpers/postgres.js";
import { TestPool } from "./helpers/pools.js";

let server: PostgresInstance;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describe("pool.scaled in PostgreSQL", () => {
  it("is recorded in the pool's stream and replayed", async () => {
    const url = await freshDatabase(server);
    const broker = await startBroker(["--events", url]);
    try {
      const pool = await TestPool.declare(broker.url, { name: "pg-pool", min: 2, max: 3, autoscale: { interval_ms: 100 } }, { autoStart: false });
      await waitFor(() => (pool.scales.length >= 1 ? true : undefined), 10_000, "below_min");
      const replay = await waitFor(async () => {
        const text = await (await fetch(`${broker.http}/v1/events?type=pool.scaled`)).text();
        const events = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { stream: string; stream_position: number; data: Record<string, unknown> });
        return events.length > 0 ? events : undefined;
      }, 10_000, "the replay of pool.scaled");
      expect(replay[0]).toMatchObject({ stream: "pool-pg-pool", stream_position: 1, data: { type: "pool.scaled", pool: "pg-pool", from: 0, to: 2, reason: "below_min", broker_id: expect.any(String) } });
      const rows = await query<{ stream: string; metadata: Record<string, string> }>(url, "SELECT stream, metadata FROM agentwire_events WHERE type = 'pool.scaled'");
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ stream: "pool-pg-pool", metadata: { correlation_id: "pg-pool", causation: "below_min" } });
      await pool[Symbol.asyncDispose]();
    } finally {
      await broker.stop();
    }
  });
});
