/** The agents the MCP tests call: typed capabilities with schemas, progress, and a task that runs until aborted. */
import { createAgent, defineCapability, z, type Agent } from "@agentwire/sdk";

export const Add = defineCapability({
  name: "math.add",
  description: "Adds two numbers.",
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
});

export const Count = defineCapability({ name: "count.up", description: "Counts to n, reporting each step.", input: z.object({ n: z.number().int() }), output: z.number(), progress: z.object({ progress: z.number(), total: z.number() }) });

export const Wait = defineCapability({ name: "wait.forever", description: "Runs until cancelled.", input: z.object({}), output: z.string() });

/**
 * Steps a test has seen: `count.up` reports step i, then waits until the test saw it. An MCP client
 * handles a notification a microtask after reading it but a response at once, so a response read in
 * the same chunk as the last notifications would otherwise end the call before they are delivered.
 */
export class Steps {
  private readonly seen = new Set<number>();
  private readonly waiting = new Map<number, () => void>();
  saw(i: number): void {
    this.seen.add(i);
    this.waiting.get(i)?.();
  }
  reached(i: number): Promise<void> {
    return this.seen.has(i) ? Promise.resolve() : new Promise((resolve) => this.waiting.set(i, resolve));
  }
  reset(): void {
    this.seen.clear();
    this.waiting.clear();
  }
}

/** What the agent saw of the tasks that run until cancelled, and the progress steps the test saw. */
export interface WaitLog {
  started: string[];
  aborted: string[];
  steps: Steps;
}

export async function startMathAgent(url: string, log: WaitLog): Promise<Agent> {
  const agent = createAgent({ url, name: "math" })
    .capability(Add, ({ a, b }) => ({ sum: a + b }))
    .capability(Count, async ({ n }, ctx) => {
      for (let i = 1; i <= n; i++) {
        ctx.progress({ progress: i, total: n });
        await log.steps.reached(i);
      }
      return n;
    })
    .capability(Wait, (_input, ctx) => {
      log.started.push(ctx.task.id);
      return new Promise<string>((_resolve, reject) =>
        ctx.signal.addEventListener("abort", () => {
          log.aborted.push(ctx.task.id);
          reject(ctx.signal.reason);
        }),
      );
    });
  return agent.start();
}
