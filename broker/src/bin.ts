#!/usr/bin/env node
/** agentwire-broker: parse config, start, log `listening`, shut down gracefully on SIGTERM/SIGINT. */
import { pino } from "pino";
import { ConfigError, parseConfig, usage } from "./config.js";
import { startBroker, type Broker } from "./broker.js";

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agentwire-broker: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const { config } = parsed;
  const logger = process.stdout.isTTY
    ? pino({ level: config.logLevel, transport: { target: "pino-pretty" } })
    : pino({ level: config.logLevel });
  // Handlers first: a signal that arrives once `listening` is logged must shut down gracefully.
  let broker: Broker | undefined;
  let early: NodeJS.Signals | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (broker === undefined) {
      early ??= signal;
      return;
    }
    if (++signals > 1) {
      logger.warn({ signal }, "second signal: closing now");
      void broker.close().then(() => process.exit(0));
      return;
    }
    logger.info({ signal }, "signal received");
    void broker.shutdown(signal === "SIGTERM" ? "broker shutting down (SIGTERM)" : "broker shutting down (SIGINT)").then(() => {
      logger.flush();
      process.exit(0);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  broker = await startBroker(config, logger);
  if (early !== undefined) onSignal(early);
}

main().catch((err: unknown) => {
  process.stderr.write(`agentwire-broker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
