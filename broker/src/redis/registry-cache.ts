/**
 * This broker's copy of the agents registered on other brokers, replaced per broker whenever that
 * broker announces a change (and on every liveness tick, so a lost notice heals within one tick).
 */
import type { AgentInfo, Strategy } from "@agentwire/wire";
import type { AgentFilter } from "../registry.js";
import { awaitsWork, capabilityMatches, takesWorkNow } from "../serving.js";

/** What other brokers act on in an agent list: ids, status and capability names, not load (in_flight changes with every task). */
export function registryShape(agents: readonly AgentInfo[]): string {
  return JSON.stringify(agents.map((a) => [a.agent_id, a.status, a.capabilities.map((c) => c.name)]));
}

export class RegistryCache {
  private readonly byBroker = new Map<string, AgentInfo[]>();
  private readonly shapes = new Map<string, string>();
  /** Grows whenever some broker's agents change shape (registryShape) or a broker is dropped. */
  version = 0;

  get brokers(): IterableIterator<string> {
    return this.byBroker.keys();
  }

  replace(brokerId: string, agents: AgentInfo[]): void {
    if (agents.length === 0) return this.drop(brokerId);
    this.byBroker.set(brokerId, agents);
    const shape = registryShape(agents);
    if (this.shapes.get(brokerId) !== shape) {
      this.shapes.set(brokerId, shape);
      this.version++;
    }
  }

  drop(brokerId: string): void {
    this.byBroker.delete(brokerId);
    if (this.shapes.delete(brokerId)) this.version++;
  }

  /** Agents (sessions with a capability; clients are never listed) matching the filter. */
  query(filter: AgentFilter): AgentInfo[] {
    const out: AgentInfo[] = [];
    for (const agents of this.byBroker.values()) {
      for (const a of agents) {
        if (a.capabilities.length === 0) continue;
        if (filter.capability !== undefined && !a.capabilities.some((c) => c.name === filter.capability)) continue;
        if (filter.status !== undefined && a.status !== filter.status) continue;
        if (filter.tags !== undefined && !filter.tags.every((t) => a.tags.includes(t) || a.capabilities.some((c) => (c.tags ?? []).includes(t)))) continue;
        out.push(a);
      }
    }
    return out;
  }

  /** The broker holding the session (agent or client) with this id, or undefined. */
  brokerOfAgent(agentId: string): string | undefined {
    for (const [brokerId, agents] of this.byBroker) if (agents.some((a) => a.agent_id === agentId)) return brokerId;
    return undefined;
  }

  /**
   * A broker with a ready (or busy) agent offering `capability` in the version `range` with all
   * `tags`: for `least_loaded`, the broker of the matching agent with the most room (in_flight /
   * capacity as last published, at most one liveness period old); otherwise round-robin over the
   * matching brokers (not agents). Failing that, one whose matching agents are all unhealthy (the task
   * waits there, as it would on a single broker, ROUTE-4); else undefined. Draining agents never count.
   */
  private turn = 0;
  brokerFor(capability: string, range?: string, tags?: readonly string[], strategy?: Strategy): string | undefined {
    const ready: string[] = [];
    const waiting: string[] = [];
    const byLoad = strategy === "least_loaded";
    let leastLoad = Infinity;
    let leastLoaded: string[] = [];
    for (const [brokerId, agents] of this.byBroker) {
      let best: string[] | undefined;
      for (const a of agents) {
        if (!awaitsWork(a.status) || !offers(a, capability, range, tags)) continue;
        if (takesWorkNow(a.status)) {
          best = ready;
          if (!byLoad) break; // one ready agent qualifies the broker
          const load = a.in_flight / Math.max(1, a.capacity);
          if (load < leastLoad) [leastLoad, leastLoaded] = [load, [brokerId]];
          else if (load === leastLoad && !leastLoaded.includes(brokerId)) leastLoaded.push(brokerId);
        } else best ??= waiting;
      }
      best?.push(brokerId);
    }
    const pool = byLoad && leastLoaded.length > 0 ? leastLoaded : ready.length > 0 ? ready : waiting;
    if (pool.length === 0) return undefined;
    return pool[this.turn++ % pool.length];
  }
}

/** `Registry.matches` on a shared agent record. */
function offers(a: AgentInfo, capability: string, range: string | undefined, tags: readonly string[] | undefined): boolean {
  const cap = a.capabilities.find((c) => c.name === capability);
  return cap !== undefined && capabilityMatches(cap.version ?? "1.0.0", cap.tags ?? [], a.tags, range, tags);
}

export function parseAgents(hash: Record<string, string>): AgentInfo[] {
  return Object.values(hash).map((json) => JSON.parse(json) as AgentInfo);
}
