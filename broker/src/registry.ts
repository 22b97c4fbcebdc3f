/**
 * Registered sessions by agent id, and agents by capability in registration order. Answers
 * "who may serve this task" (version range via semver, tags, status) and registry queries.
 */
import type { AgentInfo, AgentStatus, Capability } from "@agentwire/wire";
import type { EventBus } from "./events.js";
import { capabilityMatches, mayServe } from "./serving.js";
import type { OfferedCapability, Session } from "./session.js";

export interface AgentFilter {
  capability?: string | undefined;
  status?: AgentStatus | undefined;
  tags?: readonly string[] | undefined;
}

const NONE: readonly Session[] = [];

export class Registry {
  private readonly byId = new Map<string, Session>();
  private readonly byCapability = new Map<string, Session[]>();
  /** Each offered capability name, one string instance per name (see `capabilityName`). */
  private readonly names = new Map<string, string>();
  private seq = 0;
  /** Called after a session registers, leaves or changes status (a mesh republishes the registry). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly brokerId: string,
    private readonly events: EventBus,
  ) {}

  /**
   * The registry's own instance of an offered capability name (else `name` itself): a task that keeps
   * it shares one string with every task for that capability instead of holding the copy its frame
   * was decoded into.
   */
  capabilityName(name: string): string {
    return this.names.get(name) ?? name;
  }

  /** Reports a change that `add`/`remove` do not see: a status from a heartbeat, or drain. */
  changed(session?: Session): void {
    if (session !== undefined && session.isAgent && this.events.active) {
      this.events.agent(session.status === "draining" ? "agent.draining" : "agent.status", session);
    }
    this.onChange?.();
  }

  get size(): number {
    return this.byId.size;
  }

  get(agentId: string): Session | undefined {
    return this.byId.get(agentId);
  }

  all(): IterableIterator<Session> {
    return this.byId.values();
  }

  add(session: Session, capabilities: readonly Capability[]): void {
    session.seq = ++this.seq;
    for (const c of capabilities) {
      const offered: OfferedCapability = {
        name: c.name,
        version: c.version ?? "1.0.0",
        tags: c.tags ?? [],
        raw: c as Record<string, unknown>,
        ranges: new Map(),
      };
      session.caps.set(c.name, offered);
      let list = this.byCapability.get(c.name);
      if (list === undefined) {
        this.byCapability.set(c.name, (list = []));
        this.names.set(c.name, c.name);
      }
      list.push(session);
    }
    this.byId.set(session.agentId, session);
    if (session.isAgent && this.events.active) this.events.agent("agent.registered", session);
    this.onChange?.();
  }

  remove(session: Session): void {
    if (this.byId.get(session.agentId) !== session) return;
    this.byId.delete(session.agentId);
    for (const name of session.caps.keys()) {
      const list = this.byCapability.get(name);
      if (list === undefined) continue;
      const i = list.indexOf(session);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) {
        this.byCapability.delete(name);
        this.names.delete(name);
      }
    }
    if (session.isAgent && this.events.active) this.events.agent("agent.left", session);
    this.onChange?.();
  }

  /** Sessions offering `capability`, in registration order. */
  offering(capability: string): readonly Session[] {
    return this.byCapability.get(capability) ?? NONE;
  }

  /** Whether the agent's capability satisfies a task's version range and required tags. */
  matches(session: Session, capability: string, range: string | undefined, tags: readonly string[] | undefined): boolean {
    const cap = session.caps.get(capability);
    return cap !== undefined && capabilityMatches(cap.version, cap.tags, session.tags, range, tags, cap.ranges);
  }

  /** Whether some live, non-draining agent could ever serve such a task (no_agents otherwise). */
  anyOffers(capability: string, range: string | undefined, tags: readonly string[] | undefined): boolean {
    for (const s of this.offering(capability)) {
      if (mayServe(s) && this.matches(s, capability, range, tags)) return true;
    }
    return false;
  }

  /** Every registered session, clients included: the mesh's directory of who is connected where. */
  directory(): AgentInfo[] {
    const out: AgentInfo[] = [];
    for (const s of this.byId.values()) if (s.state !== "closed") out.push(this.info(s));
    return out;
  }

  query(filter: AgentFilter): AgentInfo[] {
    const out: AgentInfo[] = [];
    const pool = filter.capability === undefined ? this.byId.values() : this.offering(filter.capability);
    for (const s of pool) {
      if (!s.isAgent || s.state === "closed") continue;
      if (filter.status !== undefined && s.status !== filter.status) continue;
      if (filter.tags !== undefined && !filter.tags.every((t) => s.tags.includes(t) || [...s.caps.values()].some((c) => c.tags.includes(t)))) continue;
      out.push(this.info(s));
    }
    return out;
  }

  info(s: Session): AgentInfo {
    const info: AgentInfo = {
      agent_id: s.agentId,
      name: s.name,
      broker_id: this.brokerId,
      status: s.status,
      in_flight: s.tasks.size,
      capacity: s.capacity,
      tier: s.tier,
      tags: [...s.tags],
      capabilities: [...s.caps.values()].map((c) => c.raw as Capability),
      connected_at: s.connectedAt,
    };
    if (s.pool !== undefined) info.pool = s.pool; // [POOL-2]
    return info;
  }
}
