/** BullMQ: Queue.add + job.waitUntilFinished(QueueEvents) on a private redis-server, Worker in a child. */
import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "@agentwire/testkit";
import { pidMeter, selfMeter, startRole, payloadOf, track } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const bullmq: Scenario = {
  name: "bullmq",
  describe: "BullMQ job + waitUntilFinished on a private redis-server (never 6379), worker in a child",
  async setup(ctx) {
    const redis = await startRedis();
    track(redis.child);
    const connection = { host: "127.0.0.1", port: redis.port };
    const worker = await startRole("bullmq-worker", [String(redis.port), String(Math.max(1, ctx.maxInflight))]);
    const queue = new Queue("bench", { connection });
    const events = new QueueEvents("bench", { connection });
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    // waitUntilFinished adds listeners per pending job.
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    const payload = { p: payloadOf(ctx.payloadBytes) };
    return {
      async task() {
        const job = await queue.add("echo", payload, { removeOnComplete: { count: 50_000 }, removeOnFail: { count: 50_000 } });
        return job.waitUntilFinished(events, 10_000);
      },
      meters: [selfMeter("client"), pidMeter("redis", redis.child.pid), pidMeter("worker", worker.child.pid)],
      async close() {
        await events.close();
        await queue.close();
        await worker.child.stop();
        await redis[Symbol.asyncDispose]();
      },
    };
  },
};
