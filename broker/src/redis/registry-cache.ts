/**
 * This broker's copy of the agents registered on other brokers, replaced per broker whenever that
 * broker announces a change (and on every liveness tick, so a lost notice heals within one tick).
 */
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

  /** A broker with a ready agent for `capability`, or undefined; rotates over candidates. */
  private turn = 0;
  brokerFor(capability: string): string | undefined {
    const candidates = this.query({ capability }).filter((a) => a.status === "ready" || a.status === "busy");
    if (candidates.length === 0) return undefined;
    return candidates[this.turn++ % candidates.length]!.broker_id;
  }
}

export function parseAgents(hash: Record<string, string>): AgentInfo[] {
  return Object.values(hash).map((json) => JSON.parse(json) as AgentInfo);
}
