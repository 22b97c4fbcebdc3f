// The trade workflow: analyze → assess_risk → execute, run by the broker over three agents. The risk
// step fails twice and is retried by its policy (100 ms, then 200 ms); the events show each attempt.
//   pnpm build && node broker/dist/src/bin.js &   then   node examples/workflow/index.mjs [SYMBOL]
import { connect, ref, retry, workflow } from "@agentwire/sdk";
import { startAgents } from "./agents.mjs";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";

export const trade = workflow("trade", { description: "analyze the market, assess the risk, execute the trade" })
  .step("analyze", "market_analyzer", { input: ref("/input") })
  .step("assess_risk", "risk_manager", { input: ref("/steps/analyze/output"), retry: retry({ maxAttempts: 3, initialIntervalMs: 100, backoffFactor: 2 }) })
  .step("execute", "trade_executor", {
    input: { symbol: ref("/input/symbol"), side: ref("/steps/analyze/output/signal"), quantity: ref("/steps/assess_risk/output/max_quantity") },
  })
  .output({ analysis: ref("/steps/analyze/output"), risk: ref("/steps/assess_risk/output"), execution: ref("/steps/execute/output") })
  .build();

const stopAgents = await startAgents(url);
const client = await connect({ url });
const run = client.run(trade, { symbol: process.argv[2] ?? "SOL" });
let start;
for await (const e of run.events()) {
  start ??= e.at;
  const what = [e.step, e.attempt === undefined ? undefined : `attempt ${e.attempt}`].filter(Boolean).join(" ");
  const why = e.error === undefined ? "" : `  ${e.error.code}: ${e.error.message}`;
  const next = e.delayMs === undefined ? "" : `, next in ${e.delayMs} ms`;
  console.log(`+${String(e.at - start).padStart(4)} ms  ${[e.type, what].filter(Boolean).join(" ")}${why}${next}`);
}
try {
  console.log("output", JSON.stringify(await run));
} catch (err) {
  console.log("failed", err.code, err.message);
  process.exitCode = 1;
}
await client.drain();
await stopAgents();
