// The three agents of the trade workflow: "market_analyzer", "risk_manager" (its risk model is
// warming up: the first two attempts of each task fail, the third succeeds) and "trade_executor".
//   node examples/workflow/agents.mjs      serves them until SIGTERM or Ctrl-C
import { pathToFileURL } from "node:url";
import { AgentwireError, createAgent, z } from "@agentwire/sdk";

const PRICES = { SOL: 142.5, ETH: 3120.5, BTC: 97_250 };

/** Starts the three agents on the broker at `url`; resolves with a function that drains them. */
export async function startAgents(url) {
  const analyzer = createAgent({ url, name: "market-analyzer" }).capability(
    "market_analyzer",
    { input: z.object({ symbol: z.string() }), output: z.object({ symbol: z.string(), price: z.number(), trend: z.string(), signal: z.enum(["buy", "sell"]) }) },
    ({ symbol }) => {
      const price = PRICES[symbol];
      if (price === undefined) throw new AgentwireError("unknown_symbol", `no market data for ${symbol}`);
      return { symbol, price, trend: "up", signal: "buy" };
    },
  );
  const risk = createAgent({ url, name: "risk-manager" }).capability(
    "risk_manager",
    { input: z.object({ symbol: z.string(), price: z.number(), signal: z.string() }), output: z.object({ approved: z.boolean(), level: z.string(), max_quantity: z.number() }) },
    // The task's attempt is the workflow step's [WF-13]: this model answers from the third one on. An
    // application code is not retryable for the task itself, so the step's policy retries it, with its
    // backoff [WF-11] (a retryable error would be dispatched again at once by the task lifecycle).
    ({ price }, ctx) => {
      if (ctx.task.attempt < 3) throw new AgentwireError("risk_model_unavailable", `risk model warming up (attempt ${ctx.task.attempt})`);
      return { approved: true, level: "moderate", max_quantity: Math.floor(5_000 / price) };
    },
  );
  let orders = 0;
  const executor = createAgent({ url, name: "trade-executor" }).capability(
    "trade_executor",
    { input: z.object({ symbol: z.string(), side: z.string(), quantity: z.number() }), output: z.object({ order_id: z.string(), status: z.string(), symbol: z.string(), side: z.string(), quantity: z.number() }) },
    ({ symbol, side, quantity }) => ({ order_id: `ord-${++orders}`, status: "filled", symbol, side, quantity }),
  );
  // One after the other: once trade_executor is listed, all three are.
  await analyzer.start();
  await risk.start();
  await executor.start();
  return async () => void (await Promise.all([analyzer.drain(), risk.drain(), executor.drain()]));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const stop = await startAgents(process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420");
  console.log("market_analyzer, risk_manager, trade_executor ready");
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void stop().then(() => process.exit(0)));
}
