/**
 * A pool for the pool tests, over the raw protocol: a supervisor session that declares the pool and
 * obeys `scale` (starts members on scale-up; the broker drains on scale-down), and members that hold
 * each task until the test releases it, so in-flight load is exactly what the test makes it. Every
 * execution is counted per task id (a task that ran twice shows 2).
 */
import { encodePayload, type FrameOf, type Pool, type Scale, type Task } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";

export interface Member {
  readonly peer: Peer;
  readonly held: Task[];
  /** Set when the broker's `drain` came [DRAIN-7]. */
  drained: boolean;
  /** What the member held when `drain` came. */
  heldAtDrain: number;
}

/** A `pool` frame's fields; capabilities default to the pool's one capability. */
type PoolFields = Omit<Pool, "type" | "ref" | "capabilities"> & { capabilities?: string[] };

export interface TestPoolOptions {
  /** Where members register (another broker of a mesh, say); default the supervisor's URL. */
  memberUrl?: string;
  capability?: string;
  capacity?: number;
  /** Start members when asked to scale up (default true). */
  autoStart?: boolean;
}

export class TestPool implements AsyncDisposable {
  readonly members: Member[] = [];
  readonly executions = new Map<string, number>();
  readonly scales: Scale[] = [];
  private starting: Promise<unknown>[] = [];

  private constructor(
    readonly sup: Peer,
    readonly name: string,
    private readonly options: Required<TestPoolOptions>,
  ) {
    sup.onFrame = (f) => {
      if (f.type !== "scale") return;
      this.scales.push(f);
      if (this.options.autoStart && f.to > f.from) for (let i = f.from; i < f.to; i++) this.starting.push(this.startMember());
    };
  }

  /** Registers a supervisor on `url` and declares the pool; resolves once acked. */
  static async declare(url: string, pool: PoolFields, options: TestPoolOptions = {}): Promise<TestPool> {
    const p = await TestPool.open(url, pool.name, options);
    await p.redeclare({ capabilities: [p.options.capability], ...pool });
    return p;
  }

  private static async open(url: string, name: string, options: TestPoolOptions): Promise<TestPool> {
    const sup = await Peer.register(url, { name: `supervisor-${name}` });
    return new TestPool(sup, name, { memberUrl: options.memberUrl ?? url, capability: options.capability ?? "work", capacity: options.capacity ?? 2, autoStart: options.autoStart ?? true });
  }

  /**
   * `declare` for a supervisor that moved (its broker died): retried while the broker still answers
   * pool_supervised (the old session looks live until the mesh takes its broker for dead).
   */
  static async declareWhenFree(url: string, pool: PoolFields, options: TestPoolOptions = {}, timeoutMs = 15_000): Promise<TestPool> {
    const p = await TestPool.open(url, pool.name, options);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await p.redeclare({ capabilities: [p.options.capability], ...pool });
        return p;
      } catch (err) {
        if (!/pool_supervised/.test(String(err)) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100)); // a retry pace, not a synchronisation
      }
    }
  }

  /** Sends `pool` again (an update) and waits for its ack. */
  async redeclare(pool: Omit<Pool, "type" | "ref">): Promise<void> {
    const ref = `p${Math.random().toString(36).slice(2)}`;
    this.sup.send({ type: "pool", ref, ...pool });
    const answer = await this.sup.nextAny((f) => (f.type === "ack" || f.type === "error") && f.ref === ref, 10_000, `the answer to pool ${ref}`);
    if (answer.type === "error") throw new Error(`pool refused: ${answer.code} ${answer.message}`);
  }

  /** A member registered with `register.pool`, holding every task it gets. */
  async startMember(): Promise<Member> {
    const peer = await Peer.register(this.options.memberUrl, { name: `${this.name}-member`, capabilities: [{ name: this.options.capability }], capacity: this.options.capacity, pool: this.name });
    const m: Member = { peer, held: [], drained: false, heldAtDrain: 0 };
    peer.startHeartbeat(1_000, () => ({ in_flight: m.held.length, capacity: this.options.capacity }));
    peer.serve((task) => {
      this.executions.set(task.task_id, (this.executions.get(task.task_id) ?? 0) + 1);
      m.held.push(task);
    });
    peer.onFrame = (f) => {
      if (f.type !== "drain") return;
      m.drained = true;
      m.heldAtDrain = m.held.length;
      this.closeIfIdle(m);
    };
    this.members.push(m);
    return m;
  }

  /** Members started on scale-up, all registered. */
  async started(): Promise<void> {
    while (this.starting.length > 0) {
      const now = this.starting;
      this.starting = [];
      await Promise.all(now);
    }
  }

  /** Live members the broker has not drained. */
  get size(): number {
    return this.members.filter((m) => !m.drained && !m.peer.isClosed).length;
  }

  /** Tasks held now, over every live member. */
  get held(): number {
    return this.members.reduce((n, m) => n + m.held.length, 0);
  }

  /** Ends `n` held tasks (default all) with ok, oldest member first; a drained member closes with 1000 once idle [DRAIN-5]. */
  release(n = Infinity): void {
    for (const m of this.members) {
      while (n > 0 && m.held.length > 0) {
        const t = m.held.shift()!;
        m.peer.send({ type: "result", task_id: t.task_id, ok: true, output: encodePayload({ done: t.task_id }), attempt: t.attempt });
        n--;
      }
      this.closeIfIdle(m);
    }
  }

  /** Scale requests so far, as [from, to] pairs. */
  steps(): [number, number][] {
    return this.scales.map((s) => [s.from, s.to]);
  }

  private closeIfIdle(m: Member): void {
    if (m.drained && m.held.length === 0 && !m.peer.isClosed) void m.peer.close(1000);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.started().catch(() => undefined);
    for (const m of this.members) m.peer.terminate();
    this.sup.terminate();
  }
}

/** A client that submits tasks and collects their results. */
export class Load implements AsyncDisposable {
  readonly results = new Map<string, FrameOf<"result">>();
  private constructor(readonly peer: Peer) {
    peer.onFrame = (f) => {
      if (f.type === "result") this.results.set(f.task_id, f);
    };
  }

  static async connect(url: string): Promise<Load> {
    return new Load(await Peer.register(url, { name: "load" }));
  }

  /** Submits `n` tasks; their ids. */
  async submit(n: number, capability = "work"): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await this.peer.submit(capability, { i }, { timeout_ms: 120_000 }));
    return ids;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.peer.terminate();
  }
}
