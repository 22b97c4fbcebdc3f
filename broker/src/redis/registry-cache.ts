/**
 * This broker's copy of the agents registered on other brokers, replaced per broker whenever that
 * broker announces a change (and on every liveness tick, so a lost notice heals within one tick).
 */
import semver from "semver";
import type { AgentInfo } from "@agentwire/wire";
import type { AgentFilter } from "../registry.js";

export class RegistryCache {
  private readonly byBroker = new Map<string, AgentInfo[]>();

  get brokers(): IterableIterator<string> {
    return this.byBroker.keys();
  }

  replace(brokerId: string, agents: AgentInfo[]): void {
    if (agents.length === 0) this.byBroker.delete(brokerId);
    else this.byBroker.set(brokerId, agents);
  }

  drop(brokerId: string): void {
    this.byBroker.delete(brokerId);
  }

  query(filter: AgentFilter): AgentInfo[] {
    const out: AgentInfo[] = [];
    for (const agents of this.byBroker.values()) {
      for (const a of agents) {
        if (filter.capability !== undefined && !a.capabilities.some((c) => c.name === filter.capability)) continue;
        if (filter.status !== undefined && a.status !== filter.status) continue;
        if (filter.tags !== undefined && !filter.tags.every((t) => a.tags.includes(t) || a.capabilities.some((c) => (c.tags ?? []).includes(t)))) continue;
        out.push(a);
      }
    }
    return out;
  }

  /** The broker holding a live (not unhealthy) agent with this id, or undefined. */
  brokerOfAgent(agentId: string): string | undefined {
    for (const [brokerId, agents] of this.byBroker) if (agents.some((a) => a.agent_id === agentId && a.status !== "unhealthy")) return brokerId;
    return undefined;
  }

  /**
   * A broker with a ready (or busy) agent offering `capability` in the version `range` with all
   * `tags`; round-robin over the matching brokers (not agents), or undefined when none matches.
   */
  private turn = 0;
  brokerFor(capability: string, range?: string, tags?: readonly string[]): string | undefined {
    const brokers: string[] = [];
    for (const [brokerId, agents] of this.byBroker) {
      if (agents.some((a) => (a.status === "ready" || a.status === "busy") && offers(a, capability, range, tags))) brokers.push(brokerId);
    }
    if (brokers.length === 0) return undefined;
    return brokers[this.turn++ % brokers.length];
  }
}

/** The same test as `Registry.matches`, on a shared agent record. */
function offers(a: AgentInfo, capability: string, range: string | undefined, tags: readonly string[] | undefined): boolean {
  const cap = a.capabilities.find((c) => c.name === capability);
  if (cap === undefined) return false;
  if (range !== undefined && range !== "*" && !semver.satisfies(cap.version ?? "1.0.0", range)) return false;
  if (tags !== undefined) for (const t of tags) if (!(cap.tags ?? []).includes(t) && !a.tags.includes(t)) return false;
  return true;
}

export function parseAgents(hash: Record<string, string>): AgentInfo[] {
  return Object.values(hash).map((json) => JSON.parse(json) as AgentInfo);
}
