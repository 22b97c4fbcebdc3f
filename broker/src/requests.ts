/** Requests forwarded to a target and waiting for its `response`; timeouts via the deadline heap. */
import type { Deadlined } from "./tasks/deadlines.js";
import type { Session } from "./session.js";

export interface RequestRecord extends Deadlined {
  /** The id the broker gave the target. */
  readonly id: string;
  /** The caller's own request id, used in the response it gets. */
  readonly callerId: string;
  /** null: the caller is on broker `originBroker`, answered through the mesh. */
  readonly caller: Session | null;
  /** null: the target is on another broker, which answers through the mesh. */
  readonly target: Session | null;
  readonly originBroker?: string | undefined;
}

export class RequestTable {
  private readonly pending = new Map<string, RequestRecord>();

  get size(): number {
    return this.pending.size;
  }

  add(r: RequestRecord): void {
    this.pending.set(r.id, r);
  }

  get(id: string): RequestRecord | undefined {
    return this.pending.get(id);
  }

  delete(r: RequestRecord): void {
    this.pending.delete(r.id);
  }
}
