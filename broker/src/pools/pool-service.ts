/**
 * The broker's pools [§19]: the table of declared pools and their supervisors, each pool's figures
 * (members and queued tasks, mesh-wide), and the loop that runs each pool's autoscaler where this
 * broker decides for it (it holds the supervisor's session and the pool's lease) and carries out its
 * decisions: drain the idlest members, send the supervisor `scale`, announce `pool.scaled`.
 */
import { errorFromCode, type AgentInfo, type Pool } from "@agentwire/wire";
import type { Logger } from "pino";
import type { EventBus, PoolEvent } from "../events.js";
import type { Registry } from "../registry.js";
import type { Session } from "../session.js";
import { Autoscaler, type Decision, type Figures } from "./autoscaler.js";
import type { PoolMesh, PoolRecord } from "./pool-mesh.js";
import { maxSize, resolveSettings, wireSettings, type PoolsConfig, type Settings } from "./settings.js";

/** One member as GET /v1/pools shows it. */
export interface Member {
  agent_id: string;
  broker_id: string;
  status: AgentInfo["status"];
  in_flight: number;
  capacity: number;
  connected_at: number;
}

interface PoolState {
  name: string;
  capabilities: string[];
  min: number;
  max: number;
  settings: Settings;
  /** The supervisor's live session on this broker, if it is here. */
  supervisor: Session | undefined;
  scaler: Autoscaler;
  lastEvaluated: number;
  /** Size the last decision asked for (the desired size until the next one). */
  desired: number | undefined;
  /** Fence of this broker's lease, 0 while it holds none. */
  fence: number;
}

export interface PoolServiceDeps {
  brokerId: string;
  config: PoolsConfig | undefined;
  registry: Registry;
  /** Tasks queued on this broker for a capability. */
  queued(capability: string): number;
  /** Agents registered on other brokers (the mesh's registry cache). */
  remoteAgents(): AgentInfo[];
  /** Whether an agent id is held by a live session on another broker. */
  liveElsewhere(agentId: string): boolean;
  /** core.drainAgent: puts a member into DRAINING wherever it is connected [DRAIN-7]. */
  drainAgent(agentId: string, cause: string): boolean;
  mesh: PoolMesh;
  events: EventBus;
  log: Logger;
}

/** Shortest time between two pool ticks; each pool is evaluated on its own interval within them. */
const MIN_TICK_MS = 50;
/** The tick of a broker that knows no pool with a shorter interval. */
const IDLE_TICK_MS = 1_000;

export class PoolService {
  private readonly pools = new Map<string, PoolState>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;

  constructor(private readonly deps: PoolServiceDeps) {
    // Every broker of a mesh ticks, supervisor or not: it publishes its queued tasks for the others' pools.
    this.schedule();
  }

  /** A supervisor declares or updates a pool [POOL-3..POOL-7]; throws what refuses it. */
  declare(s: Session, f: Pool): void {
    const existing = this.pools.get(f.name);
    const here = existing?.supervisor;
    const other = here !== undefined ? (here === s || here.state === "closed" ? undefined : here.agentId) : this.remoteSupervisor(f.name, s.agentId);
    if (other !== undefined) {
      throw errorFromCode("pool_supervised", `pool ${f.name} is supervised by ${other}`, { details: { pool: f.name, supervisor: other } });
    }
    const settings = resolveSettings(f.name, f.autoscale, this.deps.config);
    const max = Math.min(f.max, maxSize(this.deps.config));
    const state: PoolState = existing ?? {
      name: f.name,
      capabilities: [],
      min: 0,
      max: 0,
      settings,
      supervisor: undefined,
      scaler: new Autoscaler(),
      lastEvaluated: 0,
      desired: undefined,
      fence: 0,
    };
    Object.assign(state, { capabilities: [...f.capabilities], min: Math.min(f.min, max), max, settings, supervisor: s });
    this.pools.set(f.name, state);
    this.deps.log.info({ pool: f.name, supervisor: s.agentId, min: state.min, max: state.max }, "pool declared");
    // A shorter interval than the tick's takes effect now.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule();
  }

  /** A session ended: the pools it supervised stay, without a supervisor [POOL-5]. */
  sessionGone(s: Session): void {
    for (const p of this.pools.values()) {
      if (p.supervisor !== s) continue;
      p.supervisor = undefined;
      if (p.fence !== 0) void this.deps.mesh.release(p.name);
      p.fence = 0;
    }
  }

  /** The supervisor of a pool declared on another broker while it is still live there, unless it is `self`. */
  private remoteSupervisor(name: string, self: string): string | undefined {
    const id = this.deps.mesh.remoteRecords().find((x) => x.name === name)?.supervisor;
    return id !== null && id !== undefined && id !== self && this.deps.liveElsewhere(id) ? id : undefined;
  }

  /** Every pool known here or on the mesh, by name: its declaration and where it came from. */
  known(): Map<string, { record: PoolRecord; local: PoolState | undefined }> {
    const out = new Map<string, { record: PoolRecord; local: PoolState | undefined }>();
    for (const r of this.deps.mesh.remoteRecords()) out.set(r.name, { record: r, local: undefined });
    for (const p of this.pools.values()) {
      // A pool supervised elsewhere now is shown as that broker publishes it.
      if (p.supervisor === undefined && out.has(p.name)) {
        out.get(p.name)!.local = p;
        continue;
      }
      out.set(p.name, { record: this.recordOf(p), local: p });
    }
    return out;
  }

  /** The live members of a pool, on every broker [POOL-1, POOL-8]; draining ones included (callers tell them apart). */
  members(name: string): Member[] {
    const out: Member[] = [];
    for (const s of this.deps.registry.all()) {
      if (s.pool !== name || !s.isAgent || s.state === "closed") continue;
      out.push({ agent_id: s.agentId, broker_id: this.deps.brokerId, status: s.status, in_flight: s.tasks.size, capacity: s.capacity, connected_at: s.connectedAt });
    }
    for (const a of this.deps.remoteAgents()) {
      if (a.pool !== name || a.capabilities.length === 0) continue;
      out.push({ agent_id: a.agent_id, broker_id: a.broker_id, status: a.status, in_flight: a.in_flight, capacity: a.capacity, connected_at: a.connected_at });
    }
    return out;
  }

  /** A pool's figures now [POOL-8]. */
  figures(name: string, capabilities: readonly string[]): Figures {
    const f: Figures = { size: 0, inFlight: 0, capacity: 0, queued: 0 };
    for (const m of this.members(name)) {
      if (m.status === "draining") continue;
      f.size++;
      f.inFlight += m.in_flight;
      f.capacity += m.capacity;
    }
    for (const c of capabilities) f.queued += this.deps.queued(c);
    f.queued += this.deps.mesh.remoteQueued(capabilities);
    return f;
  }

  /**
   * Where a task for `capability` waits while no agent offers it (scale from zero, POOL-17): ""
   * when a pool supervised here offers it, the supervisor's broker when one elsewhere does, else
   * undefined (no pool can take it: `no_agents`).
   */
  homeOf(capability: string): string | undefined {
    // On the submit path: no merged view (known()) built, the two sources read in place.
    for (const p of this.pools.values()) if (p.supervisor !== undefined && p.capabilities.includes(capability)) return "";
    for (const r of this.deps.mesh.remoteRecords()) if (r.supervisor !== null && r.capabilities.includes(capability)) return r.broker;
    return undefined;
  }

  /** Size the pool's last decision asked for, else its size now. */
  desired(name: string, size: number): number {
    return this.pools.get(name)?.desired ?? this.deps.mesh.decisions(name).at(-1)?.to ?? size;
  }

  decisions(name: string): readonly PoolEvent[] {
    return this.deps.mesh.decisions(name);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private recordOf(p: PoolState): PoolRecord {
    return { name: p.name, capabilities: p.capabilities, min: p.min, max: p.max, supervisor: p.supervisor?.agentId ?? null, broker: this.deps.brokerId, interval_ms: p.settings.intervalMs, autoscale: wireSettings(p.settings) };
  }

  private schedule(): void {
    if (this.closed || this.timer !== undefined) return;
    const intervals = [IDLE_TICK_MS, ...[...this.pools.values()].map((p) => p.settings.intervalMs), ...this.deps.mesh.remoteRecords().map((r) => r.interval_ms)];
    const every = Math.max(MIN_TICK_MS, Math.min(...intervals));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => this.schedule());
    }, every);
    this.timer.unref();
  }

  /** Publishes and refreshes the mesh's figures, then evaluates each pool whose interval has come. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (this.pools.size === 0 && !this.deps.mesh.shared) return;
      const capabilities = new Set<string>();
      for (const { record } of this.known().values()) for (const c of record.capabilities) capabilities.add(c);
      const queued = new Map([...capabilities].map((c) => [c, this.deps.queued(c)]));
      const records = [...this.pools.values()].filter((p) => p.supervisor !== undefined).map((p) => this.recordOf(p));
      await this.deps.mesh.sync(queued, records);
      const now = Date.now();
      for (const p of this.pools.values()) {
        if (this.closed || now - p.lastEvaluated < p.settings.intervalMs) continue;
        p.lastEvaluated = now;
        await this.evaluate(p, now);
      }
    } catch (err) {
      this.deps.log.warn({ err }, "pool tick failed");
    } finally {
      this.ticking = false;
    }
  }

  private async evaluate(p: PoolState, now: number): Promise<void> {
    const supervisor = p.supervisor;
    if (supervisor === undefined || supervisor.state === "closed") return; // no decisions without a supervisor [POOL-5]
    p.fence = await this.deps.mesh.lease(p.name, leaseTtl(p.settings));
    if (p.fence === 0) return;
    const decision = p.scaler.evaluate(now, this.figures(p.name, p.capabilities), p.min, p.max, p.settings);
    if (decision !== undefined) await this.carryOut(p, supervisor, decision);
  }

  /** Records the decision under the lease, then drains, asks the supervisor and announces it [POOL-12, POOL-14]. */
  private async carryOut(p: PoolState, supervisor: Session, d: Decision): Promise<void> {
    const event: PoolEvent = { type: "pool.scaled", at: Date.now(), broker_id: this.deps.brokerId, pool: p.name, ...d };
    if (!(await this.deps.mesh.decided(p.name, p.fence, event))) {
      p.fence = 0;
      return;
    }
    p.desired = d.to;
    const drain = d.to < d.from ? this.idlest(p.name, d.from - d.to) : undefined;
    for (const id of drain ?? []) this.deps.drainAgent(id, `pool ${p.name} scale-down`);
    if (supervisor.state !== "closed") {
      supervisor.send({ type: "scale", pool: p.name, from: d.from, to: d.to, reason: d.reason, utilization: d.utilization, in_flight: d.in_flight, capacity: d.capacity, queued: d.queued, drain });
    }
    this.deps.log.info({ pool: p.name, from: d.from, to: d.to, reason: d.reason, utilization: d.utilization, drain }, "pool scaled");
    if (this.deps.events.active) this.deps.events.pool(event);
  }

  /** The `n` idlest members: fewest in flight, then the most recently registered [POOL-12]. */
  private idlest(name: string, n: number): string[] {
    return this.members(name)
      .filter((m) => m.status !== "draining")
      .sort((a, b) => a.in_flight - b.in_flight || b.connected_at - a.connected_at)
      .slice(0, n)
      .map((m) => m.agent_id);
  }
}

/** How long a decider's lease lasts without renewal: 3 intervals, at least 2 s [POOL-15]. */
export function leaseTtl(s: Settings): number {
  return Math.max(2_000, 3 * s.intervalMs);
}
