import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { run, type Child } from "@agentwire/testkit";
import pino from "pino";
import { PublicKey } from "@solana/web3.js";

/** A syntactically valid blockhash that no cluster ever issued: offline signing needs no RPC. */
export const FAKE_BLOCKHASH = new PublicKey(new Uint8Array(32).fill(7)).toBase58();

/** The workspace root, found from this file whether it runs from test/ or dist/test/. */
function findRoot(dir: string): string {
  while (!existsSync(resolve(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("workspace root not found");
    dir = up;
  }
  return dir;
}
const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const BROKER_BIN = resolve(ROOT, "broker/dist/src/bin.js");
/** Broker suites skip (and say so) until the broker's bin is built. */
export const HAVE_BROKER = existsSync(BROKER_BIN);

export const logger = pino({ level: process.env.AGENTWIRE_TEST_VERBOSE === undefined ? "silent" : "debug" });
/** Fast reconnects for tests; the defaults are for production. */
export const backoff = { minMs: 20, maxMs: 250 };

export interface TestBroker extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly child: Child;
  /** Stops the broker (SIGTERM: goaway, grace, exit). */
  stop(): Promise<void>;
  /** Starts a new broker process on the same port. */
  restart(): Promise<void>;
}

async function spawnBroker(port: number, extra: readonly string[]): Promise<{ child: Child; port: number }> {
  const child = run(process.execPath, [BROKER_BIN, "--port", String(port), "--shutdown-grace-ms", "300", ...extra], { label: "broker" });
  const m = await child.waitForLine(/listening.*"port":\s*(\d+)|"port":\s*(\d+).*listening/, 20_000);
  return { child, port: Number(m[1] ?? m[2]) };
}

/** A real broker process on a free port, per suite. */
export async function startBroker(extra: readonly string[] = []): Promise<TestBroker> {
  let { child, port } = await spawnBroker(0, extra);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    get child() {
      return child;
    },
    async stop() {
      await child.stop();
    },
    async restart() {
      ({ child } = await spawnBroker(port, extra));
    },
    async [Symbol.asyncDispose]() {
      await child.stop();
    },
  };
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
