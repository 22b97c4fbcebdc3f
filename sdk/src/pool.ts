/**
 * Agent pools, the supervisor's side [POOL-*]: `createPool` declares a pool to the broker (`pool`),
 * keeps between min and max members running — agents built in this process by a template, or child
 * processes in any language — restarts members that die (exponential backoff with a cap, reset once a
 * member stayed up), and obeys the broker's autoscaler (`scale`): it starts members on scale-up and,
 * on scale-down, lets the members the broker drained finish and leave, stopping any still there after
 * `grace_ms`. `close()` (and `await using`) stops every member and the supervisor session.
 */
import { PoolSchema, type Pool as PoolFrame, type Scale } from "@agentwire/wire";
import { processMember } from "#pool-process";
import { connect, type Client } from "./client.js";
import { consoleLogger, unref, type Logger, type Timer } from "./log.js";
import { InvalidPoolOptionsError, agentMember, type MemberExit, type PoolInstance, type PoolMember } from "./pool-member.js";
import { OptionsSchema, invalid, type PoolEvent, type PoolMemberInfo, type PoolOptions, type ProcessPoolOptions, type RestartOptions } from "./pool-options.js";

export { InvalidPoolOptionsError, type MemberExit, type PoolInstance, type PoolMember } from "./pool-member.js";
export type { PoolEvent, PoolMemberInfo, PoolOptions, ProcessPoolOptions, RestartOptions, TemplatePoolOptions } from "./pool-options.js";

interface Slot {
  member: PoolMember;
  index: number;
  state: "running" | "draining";
  startedAt: number;
  /** Deaths in a row of this slot's members, for the restart backoff. */
  crashes: number;
}

export class AgentPool implements AsyncDisposable {
  private readonly slots = new Map<string, Slot>();
  private readonly restarts = new Set<Timer>();
  private readonly watchers = new Set<(e: PoolEvent) => void>();
  private readonly run = Math.random().toString(36).slice(2, 8);
  private seq = 0;
  private closing: Promise<void> | undefined;
  private readonly grace: number;
  private readonly backoff: Required<RestartOptions>;

  constructor(
    readonly options: PoolOptions,
    /** The supervisor's session: it declares the pool and receives `scale`. */
    readonly client: Client,
    private readonly declaration: Omit<PoolFrame, "ref">,
    private readonly spawn: (instance: PoolInstance) => PoolMember,
    private readonly logger: Logger,
  ) {
    this.grace = options.grace_ms ?? 30_000;
    this.backoff = { min_ms: 100, max_ms: 30_000, reset_after_ms: 10_000, ...options.restart };
    const handlers = client.session.handlers;
    handlers.scale = (frame) => this.onScale(frame);
    // The broker forgets a supervisor whose session ended [POOL-5]: declare again on every reconnect.
    handlers.ready = (_frame, again) => {
      if (again) this.declare(true).catch((err: unknown) => this.logger.warn({ err }, "declaring the pool again failed"));
    };
  }

  get name(): string {
    return this.declaration.name;
  }
  /** Members running, starting or about to be restarted; not those draining. */
  get size(): number {
    let n = this.restarts.size;
    for (const s of this.slots.values()) if (s.state === "running") n++;
    return n;
  }
  get members(): PoolMemberInfo[] {
    return [...this.slots.values()].map((s) => ({ id: s.member.id, index: s.index, state: s.state, pid: s.member.pid, agent: s.member.agent }));
  }

  /** Every later pool event; returns the unsubscribe function. */
  watch(listener: (e: PoolEvent) => void): () => void {
    this.watchers.add(listener);
    return () => void this.watchers.delete(listener);
  }

  /** Sends `pool` and waits for the broker's `ack`; rejects with its error (PoolSupervisedError, ...). */
  async declare(again = false): Promise<void> {
    await this.client.session.call({ ...this.declaration, ref: this.client.session.nextId("p") });
    this.emit({ type: "declared", again });
  }

  /** Starts members until there are `min`; resolves once they run, rejects when one could not start. */
  async fill(): Promise<void> {
    this.reconcile(this.declaration.min, true);
    await Promise.all([...this.slots.values()].map((s) => s.member.started));
  }

  /** Drains every member (a child process: SIGTERM, then SIGKILL), then closes the supervisor session. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const t of this.restarts) clearTimeout(t);
      this.restarts.clear();
      await Promise.all([...this.slots.values()].map((s) => this.retire(s, false)));
      await this.client.close();
      this.emit({ type: "closed" });
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private emit(e: PoolEvent): void {
    for (const w of this.watchers) w(e);
  }

  /** Starts members until there are `desired`; a template that throws fails `fill()`, and is logged on a scale or restart. */
  private reconcile(desired: number, strict = false): void {
    for (let n = this.size; n < desired; n++) {
      try {
        this.startMember(0);
      } catch (err) {
        if (strict) throw err;
        this.logger.error({ err, pool: this.name }, "could not build a pool member");
        return;
      }
    }
  }

  private startMember(crashes: number): void {
    const index = this.seq++;
    const instance: PoolInstance = { url: this.options.url, pool: this.name, agentId: `${this.name}-${this.run}-${index}`, index };
    const member = this.spawn(instance);
    const slot: Slot = { member, index, state: "running", startedAt: Date.now(), crashes };
    this.slots.set(member.id, slot);
    void member.started.then(
      () => this.emit({ type: "started", id: member.id, index }),
      () => undefined,
    );
    void member.exited.then((exit) => this.onExit(slot, exit));
  }

  private onExit(slot: Slot, exit: MemberExit): void {
    this.slots.delete(slot.member.id);
    const left = slot.state === "draining" || (exit.clean && this.size >= this.declaration.min);
    let restartInMs: number | undefined;
    if (this.closing === undefined && !left && this.size < this.declaration.max) {
      const crashes = (Date.now() - slot.startedAt >= this.backoff.reset_after_ms ? 0 : slot.crashes) + 1;
      restartInMs = Math.min(this.backoff.max_ms, this.backoff.min_ms * 2 ** (crashes - 1));
      const timer: Timer = unref(
        setTimeout(() => {
          this.restarts.delete(timer);
          if (this.closing !== undefined) return;
          try {
            this.startMember(crashes);
          } catch (err) {
            this.logger.error({ err, pool: this.name }, "could not build a pool member");
          }
        }, restartInMs),
      );
      this.restarts.add(timer);
    }
    const level = exit.clean || left ? "info" : "warn";
    this.logger[level]({ agent_id: slot.member.id, detail: exit.detail, restart_in_ms: restartInMs }, left ? "pool member left" : "pool member died");
    this.emit({ type: "exited", id: slot.member.id, clean: exit.clean, detail: exit.detail, left, restartInMs });
  }

  private onScale(frame: Scale): void {
    if (frame.pool !== this.name || this.closing !== undefined) return;
    this.emit({ type: "scale", frame });
    this.logger.info({ from: frame.from, to: frame.to, reason: frame.reason, utilization: frame.utilization, drain: frame.drain }, "scale");
    // The broker put these members into DRAINING and told them so [POOL-12]: they finish and leave.
    for (const id of frame.drain ?? []) {
      const slot = this.slots.get(id);
      if (slot?.state === "running") void this.retire(slot, true);
    }
    const desired = Math.min(this.declaration.max, Math.max(this.declaration.min, frame.to));
    if (frame.drain === undefined) {
      // A scale-down naming no member: the newest go.
      const newest = [...this.slots.values()].filter((s) => s.state === "running").sort((a, b) => b.index - a.index);
      for (const slot of newest.slice(0, Math.max(0, this.size - desired))) void this.retire(slot, false);
    }
    this.reconcile(desired);
  }

  /**
   * Takes a member out of the pool. An agent drains itself (telling the broker); a child process the
   * broker told to drain gets `grace_ms` to exit, one it did not tell is stopped (SIGTERM, then SIGKILL).
   */
  private retire(slot: Slot, brokerTold: boolean): Promise<void> {
    if (slot.state === "running") {
      slot.state = "draining";
      this.emit({ type: "draining", id: slot.member.id });
    }
    const done = brokerTold || slot.member.agent !== undefined ? slot.member.drain(this.grace) : slot.member.stop();
    return done.catch((err: unknown) => this.logger.warn({ err, agent_id: slot.member.id }, "stopping a pool member failed"));
  }
}

/**
 * Declares a pool and starts its `min` members; resolves once they run. Rejects with
 * InvalidPoolOptionsError for options that cannot work, with the broker's error when it refuses the
 * pool (PoolSupervisedError while another session supervises it), and with the first member's failure
 * to start (a command that does not exist, an agent the broker refused).
 */
export async function createPool(options: PoolOptions): Promise<AgentPool> {
  const checked = OptionsSchema.safeParse(options);
  if (!checked.success) throw invalid(`pool ${options.name}`, checked.error);
  let spawn: (instance: PoolInstance) => PoolMember;
  let capabilities = options.capabilities;
  if ("template" in options && options.template !== undefined) {
    const template = options.template;
    spawn = (instance) => {
      const agent = template(instance);
      if (agent.options.agentId !== instance.agentId || agent.options.pool !== instance.pool) {
        throw new InvalidPoolOptionsError(`pool ${instance.pool}: the template must build its agent from the instance it gets: createAgent({ ...instance, name })`);
      }
      return agentMember(agent);
    };
    capabilities ??= template({ url: options.url, pool: options.name, agentId: `${options.name}-probe`, index: -1 })
      .session.options.offer?.()
      .capabilities?.map((c) => c.name);
  } else {
    const o = options as ProcessPoolOptions;
    const spec = { command: o.command, args: o.args ?? [], env: o.env ?? {}, cwd: o.cwd, stdio: o.stdio ?? "inherit", killGraceMs: o.kill_grace_ms ?? 5_000 };
    spawn = (instance) => {
      const member = processMember(spec, instance);
      // Not started at all (ENOENT, EACCES): the command cannot work, for this member or any other.
      const started = member.started.catch((err: Error) => {
        throw new InvalidPoolOptionsError(`pool ${options.name}: command ${JSON.stringify(spec.command)} could not be started: ${err.message}`, { cause: err });
      });
      started.catch(() => undefined);
      return { ...member, started };
    };
  }
  const declaration = { type: "pool" as const, name: options.name, capabilities: capabilities ?? [], min: options.min, max: options.max, autoscale: options.autoscale };
  const frame = PoolSchema.safeParse({ ...declaration, ref: "p" });
  if (!frame.success) throw invalid(`pool ${options.name}`, frame.error);

  const logger = options.logger ?? consoleLogger(`pool ${options.name}`);
  const client = await connect({ url: options.url, token: options.token, name: `${options.name} supervisor`, logger, backoff: options.backoff, transport: options.transport });
  const pool = new AgentPool(options, client, declaration, spawn, logger);
  try {
    await pool.declare();
    await pool.fill();
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
