/** The agents the A2A tests call through the bridge. */
import { createAgent, z, type Agent } from "@agentwire/sdk";

export interface WaitLog {
  started: string[];
  aborted: string[];
}

export function mathAgent(url: string, log: WaitLog, token?: string): Promise<Agent> {
  return createAgent({ url, name: "math", token })
    .capability("math.add", { description: "Adds two numbers.", input: z.object({ a: z.number(), b: z.number() }), output: z.object({ sum: z.number() }) }, ({ a, b }) => ({ sum: a + b }))
    .capability("count.up", { description: "Counts to n, reporting each step.", input: z.object({ n: z.number().int() }), output: z.number() }, ({ n }, ctx) => {
      for (let i = 1; i <= n; i++) ctx.progress({ step: i });
      return n;
    })
    .capability("wait.forever", { description: "Runs until cancelled.", input: z.unknown(), output: z.string() }, (_input, ctx) => {
      log.started.push(ctx.task.id);
      return new Promise<string>((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => {
          log.aborted.push(ctx.task.id);
          reject(ctx.signal.reason);
        }),
      );
    })
    .start();
}
