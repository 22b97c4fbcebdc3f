import { existsSync } from "node:fs";
import { brokerBin, startBroker, type BrokerProcess } from "@agentwire/testkit";
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import { connect, type Agent, type Client } from "../src/index.js";
import { PublicKey } from "@solana/web3.js";

/** A syntactically valid blockhash that no cluster ever issued: offline signing needs no RPC. */
export const FAKE_BLOCKHASH = new PublicKey(new Uint8Array(32).fill(7)).toBase58();

/** Broker suites skip (and say so) until the broker's bin is built. */
export const HAVE_BROKER = existsSync(brokerBin());

export const logger = pino({ level: process.env.AGENTWIRE_TEST_VERBOSE === undefined ? "silent" : "debug" });
/** Fast reconnects for tests; the defaults are for production. */
export const backoff = { minMs: 20, maxMs: 250 };

export type TestBroker = BrokerProcess;

/** A real broker process on a free port, per suite, with a short shutdown grace (a later flag in `extra` wins). */
export function sdkBroker(extra: readonly string[] = []): Promise<TestBroker> {
  return startBroker(["--shutdown-grace-ms", "300", ...extra]);
}

/** A promise with its resolve function, for waiting on events instead of sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Rejects when `p` has not settled within `ms`: a deadline, never a synchronisation sleep. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A suite's broker, one agent (built by `agent` for the broker's URL) and a plain client: started in
 * `beforeAll`, closed in reverse order in `afterAll`. Read the fields inside tests, not at collection.
 */
export function suiteBroker(agent: (url: string) => Agent, extra: readonly string[] = []): { broker: TestBroker; agent: Agent; client: Client } {
  const suite = {} as { broker: TestBroker; agent: Agent; client: Client };
  beforeAll(async () => {
    suite.broker = await sdkBroker(extra);
    suite.agent = agent(suite.broker.url);
    await suite.agent.start();
    suite.client = await connect({ url: suite.broker.url, logger, backoff });
  });
  afterAll(async () => {
    await suite.client?.close();
    await suite.agent?.close();
    await suite.broker?.stop();
  });
  return suite;
}
