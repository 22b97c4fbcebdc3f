// An agent written with the SDK that follows the conformance convention (protocol/IMPLEMENTING.md):
// conformance.echo, conformance.slow and conformance.strict. On goaway it finishes its work, closes
// with 1000 and exits.
//   pnpm build && node conformance/dist/src/cli.js agent -- node examples/conformance-agent/index.mjs
import { createAgent, z } from "@agentwire/sdk";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";

/** Waits `ms`, or rejects with the signal's reason (cancel, deadline, lost connection). */
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => (clearTimeout(timer), reject(signal.reason));
    const timer = setTimeout(() => (signal.removeEventListener("abort", onAbort), resolve()), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

const agent = createAgent({ url, name: "conformance-agent" })
  // Output = input, whatever the document: no output schema, so nothing is stripped or coerced.
  .capability("conformance.echo", { input: z.unknown(), description: "Returns its input" }, (input) => input)
  .capability(
    "conformance.slow",
    { input: z.object({ ms: z.int().nonnegative(), steps: z.int().nonnegative() }), description: "Sends `steps` progress frames, then waits `ms`" },
    async ({ ms, steps }, ctx) => {
      for (let step = 1; step <= steps; step++) ctx.progress({ step, steps });
      await sleep(ms, ctx.signal); // cancel and the deadline abort ctx.signal: the SDK reports the failure
      return { slept_ms: ms };
    },
  )
  // Anything but a map with an int `n` fails validation before the handler runs: error.code invalid_input.
  .capability("conformance.strict", { input: z.object({ n: z.int() }).loose(), description: "Accepts a map with an int n" }, (input) => input)
  // The broker is shutting down: take no new work, finish what is running, close with 1000; the process then exits.
  .onGoaway(({ graceMs }) => agent.drain(graceMs).catch(() => agent.close()));

await agent.start();
