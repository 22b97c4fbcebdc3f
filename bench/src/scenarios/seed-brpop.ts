/** The seed's original pattern: LPUSH the task, then one blocking BRPOP response:{task_id} per task. */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { startRedis } from "@agentwire/testkit";
import { pidMeter, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const seedBrpop: Scenario = {
  name: "seed-brpop",
  describe: "seed pattern: LPUSH tasks; one blocking connection per waiter doing BRPOP response:{task_id}",
  async setup(ctx) {
    const redis = await startRedis();
    track(redis.child);
    const worker = await startRole("brpop-worker", [String(redis.port), String(Math.min(64, Math.max(1, ctx.maxInflight)))]);
    const push = new Redis({ host: "127.0.0.1", port: redis.port });
    // A blocked BRPOP holds its connection, so each waiter needs its own: a pool as large as the in-flight level.
    const free: Redis[] = [];
    const all: Redis[] = [];
    const take = (): Redis => {
      const c = free.pop();
      if (c !== undefined) return c;
      const n = new Redis({ host: "127.0.0.1", port: redis.port });
      all.push(n);
      return n;
    };
    const input = payloadOf(ctx.payloadBytes);
    return {
      async task() {
        const id = randomUUID();
        const waiter = take();
        try {
          await push.lpush("tasks", JSON.stringify({ id, input }));
          const got = await waiter.brpop(`response:${id}`, 10);
          if (got === null) throw new Error("brpop timed out");
          return JSON.parse(got[1]) as unknown;
        } finally {
          free.push(waiter);
        }
      },
      meters: [selfMeter("client"), pidMeter("redis", redis.child.pid), pidMeter("worker", worker.child.pid)],
      extra: () => ({ redis_connections: all.length + 1 }),
      async close() {
        push.disconnect();
        for (const c of all) c.disconnect();
        await worker.child.stop();
        await redis[Symbol.asyncDispose]();
      },
    };
  },
};
