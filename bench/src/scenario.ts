/** What one scenario file exports; the CLI runs each at every in-flight level of the run. */
import type { EventsMode } from "./event-stores.js";
import type { LoadOptions, LoadResult, Meter } from "./harness.js";

export interface ScenarioContext {
  payloadBytes: number;
  /** Largest in-flight level of the run: size pools and worker concurrency for it. */
  maxInflight: number;
}

export interface Running {
  /** One round trip; resolves when the answer is back. */
  task(): Promise<unknown>;
  /** Processes to meter, client first. */
  meters: Meter[];
  close(): Promise<void>;
  /** Extra figures reported with every row of this scenario (e.g. connections per broker). */
  extra?(): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Drives the load itself (e.g. autocannon) instead of the harness's closed loop; same bounds. */
  drive?(o: LoadOptions): Promise<LoadResult>;
}

export interface Scenario {
  name: string;
  /** One line: what is measured. */
  describe: string;
  setup(ctx: ScenarioContext): Promise<Running>;
  /** A variant of `family` with the broker's event store `mode` (`src/event-stores.ts`). */
  events?: { family: string; mode: EventsMode };
  /** Run only when named in `--scenarios`, not in the default set. */
  optional?: boolean;
}
