/**
 * A child-process pool member for sdk/test/pool.test.ts: a plain SDK agent, no pool code. Its broker,
 * pool and agent id come from AGENTWIRE_URL, AGENTWIRE_POOL and AGENTWIRE_INSTANCE_ID, which its
 * supervisor sets. `pool.hold` reports who runs it, holds its first attempt for `ms`, and returns
 * at once on a later attempt.
 */
import { createAgent, z, type Agent } from "../src/index.js";

const agent: Agent = createAgent({ url: process.env.AGENTWIRE_URL!, name: "pool-member", capacity: 2, backoff: { minMs: 20, maxMs: 250 } }).capability(
  "pool.hold",
  { input: z.object({ ms: z.number() }) },
  async (input, ctx): Promise<{ agent: string | undefined; attempt: number }> => {
    ctx.progress({ agent: agent.id, attempt: ctx.task.attempt });
    if (ctx.task.attempt === 1) await new Promise((resolve) => setTimeout(resolve, input.ms));
    return { agent: agent.id, attempt: ctx.task.attempt };
  },
);
await agent.start();
// A drain (the broker's, or SIGTERM from the supervisor) ends the session; the process then exits 0.
process.once("SIGTERM", () => void agent.drain({ timeoutMs: 5_000 }));
