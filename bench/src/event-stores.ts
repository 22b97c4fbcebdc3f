/**
 * The broker's event store as a scenario parameter: none (`--events-max 0`), the default in-memory ring,
 * or PostgreSQL (`--events <url>`, with or without `--events-durable`) on a private server that the
 * scenario run starts, shares between all its brokers, meters as one more middle-tier process (the
 * postmaster and its backends) and stops after. `withEventStores` makes one scenario per store from one
 * setup: the default store keeps the scenario's own name, the others are `<name>-events-<store>`, run
 * only when named in `--scenarios`, and compared with `<name>-events-off` of the same run.
 */
import { startPostgres, waitFor, type BrokerProcess, type PostgresInstance } from "@agentwire/testkit";
import { startBroker, track, treeMeter, type Meter } from "./harness.js";
import type { Running, Scenario, ScenarioContext } from "./scenario.js";

export type EventsMode = "off" | "memory" | "pg" | "pg-durable";

/** Every store, in the order a scenario's variants run; `label` is how tables name it. */
export const EVENTS_MODES: readonly { mode: EventsMode; label: string }[] = [
  { mode: "off", label: "events off (--events-max 0)" },
  { mode: "memory", label: "memory ring (default)" },
  { mode: "pg", label: "PostgreSQL" },
  { mode: "pg-durable", label: "PostgreSQL, --events-durable" },
];

export const eventsLabel = (mode: EventsMode): string => EVENTS_MODES.find((m) => m.mode === mode)!.label;

/** The scenario name of a family's variant: the default store keeps the family's name. */
export const variantName = (family: string, mode: EventsMode): string => (mode === "memory" ? family : `${family}-events-${mode}`);

/** One scenario run's event store, and the brokers started with it. */
export interface EventStoreRun {
  mode: EventsMode;
  /** Starts a broker bin with this store's flags; its event figures are reported under `name`. */
  startBroker(name: string, args: string[], nodeArgs?: string[]): Promise<BrokerProcess>;
  /** The PostgreSQL server's CPU, when there is one. */
  meters: Meter[];
  /** The private PostgreSQL server (pg, pg-durable). */
  server?: PostgresInstance;
  /** `events`: per broker, from its /metrics, events written, dropped (buffer full) and waiting to be written (none with events off). */
  figures(): Promise<{ events?: Record<string, StoreFigures | "no figures"> }>;
  /** Resolves once no broker of the run has events waiting to be written (PostgreSQL), or rejects after `timeoutMs`. */
  drained(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface StoreFigures {
  written: number;
  dropped: number;
  buffered: number;
}

/** The event store gauges and counters of one broker's /metrics (undefined without a store). */
export async function storeFigures(port: number): Promise<StoreFigures | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string): number | undefined => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text);
    return m === null ? undefined : Number(m[1]);
  };
  const written = read("agentwire_events_written_total");
  if (written === undefined) return undefined;
  return { written, dropped: read("agentwire_events_dropped_total") ?? NaN, buffered: read("agentwire_events_buffered") ?? NaN };
}

export async function openEventStore(mode: EventsMode): Promise<EventStoreRun> {
  let pg: PostgresInstance | undefined;
  if (mode === "pg" || mode === "pg-durable") {
    pg = await startPostgres();
    track(pg.child);
  }
  const args =
    mode === "off" ? ["--events-max", "0"] : mode === "memory" ? [] : ["--events", pg!.url, ...(mode === "pg-durable" ? ["--events-durable"] : [])];
  const brokers = new Map<string, number>();
  const all = async (): Promise<[string, StoreFigures | undefined][]> =>
    Promise.all([...brokers].map(async ([name, port]) => [name, await storeFigures(port).catch(() => undefined)] as [string, StoreFigures | undefined]));
  return {
    mode,
    async startBroker(name, extra, nodeArgs = []) {
      const b = await startBroker([...args, ...extra], nodeArgs);
      brokers.set(name, b.port);
      return b;
    },
    meters: pg !== undefined ? [treeMeter("pg", pg.child.pid)] : [],
    ...(pg !== undefined ? { server: pg } : {}),
    async figures() {
      if (mode === "off") return {};
      return { events: Object.fromEntries((await all()).map(([name, s]) => [name, s ?? "no figures"])) };
    },
    async drained(timeoutMs) {
      await waitFor(async () => ((await all()).every(([, s]) => (s?.buffered ?? 0) === 0) ? true : undefined), timeoutMs, "the event store's buffer to be written");
    },
    async close() {
      await pg?.[Symbol.asyncDispose]();
    },
  };
}

/** A scenario family whose brokers are started with `store.startBroker`. */
export interface EventStoreFamily {
  name: string;
  describe: string;
  setup(ctx: ScenarioContext, store: EventStoreRun): Promise<Running>;
}

/**
 * One scenario per event store from one setup: the store is opened before the setup and closed after
 * the scenario's own close; its meters and figures join the scenario's.
 */
export function withEventStores(family: EventStoreFamily): Scenario[] {
  return EVENTS_MODES.map(({ mode, label }) => ({
    name: variantName(family.name, mode),
    describe: mode === "memory" ? family.describe : `${family.describe}; ${label}`,
    events: { family: family.name, mode },
    optional: mode !== "memory",
    async setup(ctx) {
      const store = await openEventStore(mode);
      let running: Running;
      try {
        running = await family.setup(ctx, store);
      } catch (err) {
        await store.close().catch(() => undefined);
        throw err;
      }
      return {
        ...running,
        meters: [...running.meters, ...store.meters],
        // With events off there is nothing to add to the scenario's own figures.
        extra:
          mode === "off"
            ? running.extra
            : async () => ({ ...(running.extra !== undefined ? await running.extra() : {}), ...(await store.figures()) }),
        async close() {
          try {
            await running.close();
          } finally {
            await store.close();
          }
        },
      };
    },
  }));
}
