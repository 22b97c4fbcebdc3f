/**
 * Agent pools from the supervisor's side [POOL-*]: createPool against a real broker whose autoscaler
 * runs with short windows. A load ramp grows and shrinks a pool of in-process members with every
 * task completed exactly once; a child-process member killed with SIGKILL is replaced and its task
 * runs again elsewhere; the Python example agent scales the same way as child processes.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot, waitFor } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidPoolOptionsError,
  PoolSupervisedError,
  connect,
  createAgent,
  createPool,
  z,
  type AgentPool,
  type Client,
  type PoolEvent,
  type Agent,
  type PoolInstance,
  type SubmitOptions,
  type TaskContext,
} from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, type TestBroker } from "./helpers.js";

const ROOT = repoRoot();
/** Short autoscaler windows so a ramp takes seconds; the decisions still follow POOL-9..11. */
const FAST = { interval_ms: 100, window_ms: 500, stabilization_ms: 600, cooldown_ms: 300, step: 4 } as const;

/** Resolves with the first pool event `match` accepts (past events are not kept: watch before acting). */
function nextEvent<E extends PoolEvent>(pool: AgentPool, match: (e: PoolEvent) => e is E, ms = 30_000, what = "pool event"): Promise<E> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error(`timed out after ${ms} ms waiting for ${what}`))), ms);
    const stop = pool.watch((e) => {
      if (match(e)) {
        clearTimeout(timer);
        stop();
        resolve(e);
      }
    });
  });
}

/** Keeps `level` tasks in flight, each a fresh submit as soon as the last ended, until the level drops. */
class Ramp {
  level = 0;
  private workers = 0;
  readonly outcomes: Promise<unknown>[] = [];
  private seq = 0;

  constructor(
    private readonly client: Client,
    private readonly capability: string,
    private readonly input: (n: number) => unknown,
    private readonly options: SubmitOptions = {},
  ) {}

  set(level: number): void {
    this.level = level;
    while (this.workers < level) void this.worker(this.workers++);
  }

  private async worker(slot: number): Promise<void> {
    while (slot < this.level) {
      const outcome = this.client.submit(this.capability, this.input(this.seq++), { timeoutMs: 60_000, ...this.options }).then(
        (output) => ({ ok: true, output }),
        (err: unknown) => ({ ok: false, error: String(err) }),
      );
      this.outcomes.push(outcome);
      await outcome;
    }
    this.workers--;
  }

  async settled(): Promise<{ ok: boolean }[]> {
    return (await Promise.all(this.outcomes)) as { ok: boolean }[];
  }
}

/** The broker's `pool.scaled` events for `pool`, oldest first [POOL-14]. */
async function decisions(client: Client, pool: string): Promise<{ from: number; to: number; reason: string }[]> {
  const out: { from: number; to: number; reason: string }[] = [];
  for await (const e of client.events({ type: "pool.scaled" })) {
    const d = e.data as { pool: string; from: number; to: number; reason: string };
    if (d.pool === pool) out.push({ from: d.from, to: d.to, reason: d.reason });
  }
  return out;
}

/** Ups, then downs: the direction changes once, at the ramp's top, never within a phase. */
function directionChanges(steps: { from: number; to: number }[]): number {
  let changes = 0;
  for (let i = 1; i < steps.length; i++) if (Math.sign(steps[i]!.to - steps[i]!.from) !== Math.sign(steps[i - 1]!.to - steps[i - 1]!.from)) changes++;
  return changes;
}

describe("createPool options", () => {
  const base = { url: "ws://127.0.0.1:1/", name: "p", min: 1, max: 2, capabilities: ["x"], command: "true" };
  it.each([
    ["min above max", { ...base, min: 3 }],
    ["a name that is no id", { ...base, name: "a pool" }],
    ["no capability", { ...base, capabilities: [] }],
    ["both a template and a command", { ...base, template: () => createAgent({ url: base.url, name: "x" }) }],
    ["neither a template nor a command", { ...base, command: undefined }],
    ["an autoscale setting out of range", { ...base, autoscale: { up_threshold: -1 } }],
    ["thresholds that cross", { ...base, autoscale: { up_threshold: 0.3, down_threshold: 0.5 } }],
    ["a negative grace", { ...base, grace_ms: -5 }],
  ])("rejects %s with InvalidPoolOptionsError before connecting", async (_what, options) => {
    const err = await createPool(options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPoolOptionsError);
    expect(err).toMatchObject({ code: "invalid_pool_options" });
  });
});

describe.skipIf(!HAVE_BROKER)("agent pools against a real broker [POOL-1..POOL-14]", () => {
  let broker: TestBroker;
  let client: Client;

  beforeAll(async () => {
    broker = await sdkBroker(["--heartbeat-interval-ms", "300", "--heartbeat-timeout-ms", "3000"]);
    client = await connect({ url: broker.url, logger, backoff });
  });
  afterAll(async () => {
    await client?.close();
    await broker?.stop();
  });

  it("a template that ignores its instance, and a second supervisor, are refused with typed errors", async () => {
    const member = (i: PoolInstance) => createAgent({ ...i, name: "w", logger, backoff }).capability("pool.taken", { input: z.unknown() }, () => 1);
    const stray = () => createAgent({ url: broker.url, name: "w", logger, backoff }).capability("pool.taken", { input: z.unknown() }, () => 1);
    await expect(createPool({ url: broker.url, name: "refused", min: 1, max: 1, logger, backoff, template: stray })).rejects.toBeInstanceOf(InvalidPoolOptionsError);

    const missing = await createPool({ url: broker.url, name: "missing", min: 1, max: 1, logger, backoff, capabilities: ["x"], command: join(ROOT, "no-such-program") }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(InvalidPoolOptionsError);
    expect((missing as Error).message).toMatch(/could not be started: spawn .*ENOENT/);

    await using first = await createPool({ url: broker.url, name: "taken", min: 1, max: 1, logger, backoff, template: member });
    expect(first.size).toBe(1);
    await expect(createPool({ url: broker.url, name: "taken", min: 1, max: 1, logger, backoff, template: member })).rejects.toBeInstanceOf(PoolSupervisedError);
    // Members register with register.pool and their instance's agent id [POOL-1, POOL-2].
    const listed = await waitFor(async () => {
      const agents = (await client.agents({ capability: "pool.taken" })).filter((a) => a.pool === "taken");
      return agents.length === 1 ? agents : undefined;
    }, 10_000, "the member to be listed with its pool");
    expect(listed.map((a) => a.agent_id)).toEqual(first.members.map((m) => m.id));
  });

  it("grows under a load ramp and shrinks back to min, every task completed exactly once, decisions monotone in each phase", async () => {
    const executions = new Map<string, number>();
    await using pool = await createPool({
      url: broker.url,
      name: "ramp",
      min: 2,
      max: 10,
      autoscale: FAST,
      grace_ms: 20_000,
      logger,
      backoff,
      template: (instance) =>
        createAgent({ ...instance, name: "ramp-worker", capacity: 2, logger, backoff }).capability("ramp.work", { input: z.object({ n: z.number() }) }, async (_input, ctx) => {
          executions.set(ctx.task.id, (executions.get(ctx.task.id) ?? 0) + 1);
          // The work itself: a task occupies its slot for a while (load, not synchronisation).
          await new Promise((resolve) => setTimeout(resolve, 150));
          return ctx.task.id;
        }),
    });
    expect(pool.size).toBe(2);
    const ramp = new Ramp(client, "ramp.work", (n) => ({ n }));

    ramp.set(8); // 8 in flight on 2 × 2 slots: utilization well above 0.8
    await waitFor(() => (pool.size >= 6 ? true : undefined), 60_000, "the pool to grow to 6");
    ramp.set(18); // near the capacity of 10 members
    await waitFor(() => (pool.size === 10 ? true : undefined), 60_000, "the pool to reach max 10");
    ramp.set(2); // light load: the pool drains members while tasks still run
    await waitFor(() => (pool.size === 2 && pool.members.length === 2 ? true : undefined), 60_000, "the pool to shrink back to 2");
    ramp.set(0);
    const outcomes = await ramp.settled();

    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(20);
    expect(executions.size).toBe(outcomes.length);
    expect([...executions.values()].filter((n) => n !== 1)).toEqual([]);

    const steps = await decisions(client, "ramp");
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.at(0)!.to).toBeGreaterThan(steps.at(0)!.from);
    expect(steps.at(-1)).toMatchObject({ to: 2 });
    expect(Math.max(...steps.map((s) => s.to))).toBe(10);
    expect(directionChanges(steps), JSON.stringify(steps)).toBe(1);
  }, 180_000);

  it("scales from zero: a submit while the pool has no member waits for one, and an idle pool goes back to zero [POOL-17, POOL-10]", async () => {
    await using pool = await createPool({
      url: broker.url,
      name: "zero",
      min: 0,
      max: 2,
      autoscale: FAST,
      logger,
      backoff,
      template: (instance) => createAgent({ ...instance, name: "zero-worker", logger, backoff }).capability("zero.work", { input: z.object({ n: z.number() }) }, (input) => input.n * 2),
    });
    expect(pool.size).toBe(0);
    // A capability no pool lists is still refused at once.
    await expect(client.submit("zero.unlisted", {})).rejects.toMatchObject({ code: "no_agents" });

    const asked = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "scale" }> => e.type === "scale" && e.frame.to > e.frame.from, 30_000, "a scale-up from zero");
    // Accepted and queued as the pool's demand; the member it brings runs it.
    expect(await client.submit("zero.work", { n: 21 }, { timeoutMs: 30_000 })).toBe(42);
    expect((await asked).frame).toMatchObject({ from: 0, to: 1, reason: "utilization_high", queued: 1 });

    // Idle: the queue stays empty for the whole window and the pool is asked back to 0.
    await waitFor(() => (pool.size === 0 && pool.members.length === 0 ? true : undefined), 30_000, "the pool to scale back to zero");
    const steps = await decisions(client, "zero");
    expect(steps.at(0)).toMatchObject({ from: 0, to: 1, reason: "utilization_high" });
    expect(steps.at(-1)).toMatchObject({ from: 1, to: 0, reason: "queue_empty" });
  }, 90_000);

  it("a scale-down drains members that still run tasks: they finish them, none fails or runs twice", async () => {
    const executions = new Map<string, number>();
    const finishedDraining: string[] = [];
    const release = deferred();
    await using pool = await createPool({
      url: broker.url,
      name: "busy-drain",
      min: 2,
      max: 10,
      capabilities: ["busy.work"],
      autoscale: FAST,
      grace_ms: 20_000,
      logger,
      backoff,
      template: (instance) => {
        const agent: Agent = createAgent({ ...instance, name: "busy-worker", capacity: 5, logger, backoff });
        const work = async (held: boolean, ctx: TaskContext): Promise<string> => {
          executions.set(ctx.task.id, (executions.get(ctx.task.id) ?? 0) + 1);
          await (held ? release.promise : new Promise((resolve) => setTimeout(resolve, 50))); // the work: a slot held
          if (agent.status === "draining") finishedDraining.push(agent.id!);
          return ctx.task.id;
        };
        // `pin.<agent id>` reaches this member alone, so the test decides which members are busy.
        return agent.capability("busy.work", { input: z.object({}) }, (_i, ctx) => work(false, ctx)).capability(`pin.${instance.agentId}`, { input: z.object({}) }, (_i, ctx) => work(true, ctx));
      },
    });
    const ramp = new Ramp(client, "busy.work", () => ({}));
    ramp.set(60); // 60 short tasks on 2 × 5 slots: up to max in two decisions
    await waitFor(() => (pool.size === 10 ? true : undefined), 60_000, "the pool to reach 10");
    // One held task on each of 9 members, then the short load stops: utilization 9 ÷ 50 = 0.18, below
    // the band. The broker drains the idlest 4 of the 10 [POOL-12]: the idle one and three that run a task.
    const scaleDown = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "scale" }> => e.type === "scale" && e.frame.to < e.frame.from, 60_000, "a scale-down");
    const busy = pool.members.slice(0, 9).map((m) => m.id);
    const held = busy.map((id) => client.submit(`pin.${id}`, {}, { timeoutMs: 60_000 }));
    ramp.set(0);
    const short = await ramp.settled();
    const { frame } = await scaleDown;
    const drainedBusy = (frame.drain ?? []).filter((id) => busy.includes(id));
    expect(frame).toMatchObject({ from: 10, to: 6, in_flight: 9 });
    expect(drainedBusy.length).toBeGreaterThanOrEqual(3);
    release.resolve();
    await expect(Promise.all(held)).resolves.toHaveLength(9);
    await waitFor(() => (pool.size === 2 && pool.members.length === 2 ? true : undefined), 60_000, "the pool to shrink back to 2");

    // The drained members finished their tasks after the broker drained them, then left.
    expect(finishedDraining.sort()).toEqual(drainedBusy.sort());
    expect(short.filter((o) => !o.ok)).toEqual([]);
    expect(executions.size).toBe(short.length + 9);
    expect([...executions.values()].filter((n) => n !== 1)).toEqual([]);
  }, 180_000);

  it("replaces a child-process member killed with SIGKILL (backoff doubling), and its task runs again on another member", async () => {
    await using pool = await createPool({
      url: broker.url,
      name: "killed",
      min: 2,
      max: 2,
      capabilities: ["pool.hold"],
      command: process.execPath,
      args: [join(ROOT, "sdk", "dist", "test", "pool-agent.js")],
      stdio: process.env.AGENTWIRE_TEST_VERBOSE === undefined ? "ignore" : "inherit",
      restart: { min_ms: 50, max_ms: 1_000, reset_after_ms: 120_000 },
      logger,
      backoff,
    });
    await waitFor(async () => ((await client.agents({ capability: "pool.hold" })).length === 2 ? true : undefined), 20_000, "two members registered");

    const task = client.submit<{ agent: string; attempt: number }, { agent: string }>("pool.hold", { ms: 120_000 }, { timeoutMs: 60_000, maxAttempts: 3 });
    const first = (await task.progress().next()).value as { agent: string };
    const victim = pool.members.find((m) => m.id === first.agent);
    expect(victim?.pid).toBeGreaterThan(0);

    const died = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "exited" }> => e.type === "exited" && e.id === victim!.id, 20_000, "the killed member's exit");
    const replaced = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "started" }> => e.type === "started", 20_000, "a replacement");
    process.kill(victim!.pid!, "SIGKILL");
    expect(await died).toMatchObject({ clean: false, left: false, detail: "signal SIGKILL", restartInMs: 50 });
    const replacement = await replaced;
    expect(replacement.id).not.toBe(victim!.id);

    // The broker requeued the task of the lost member [TASK-22]; another member ran it.
    const out = await task;
    expect(out.attempt).toBe(2);
    expect(out.agent).not.toBe(victim!.id);

    // A replacement that dies soon after starting waits twice as long.
    await waitFor(() => (pool.members.find((m) => m.id === replacement.id)?.pid !== undefined ? true : undefined), 10_000, "the replacement's pid");
    const again = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "exited" }> => e.type === "exited" && e.id === replacement.id, 20_000, "the replacement's exit");
    process.kill(pool.members.find((m) => m.id === replacement.id)!.pid!, "SIGKILL");
    expect(await again).toMatchObject({ clean: false, restartInMs: 100 });
    await waitFor(() => (pool.size === 2 && pool.members.length === 2 ? true : undefined), 20_000, "two members again");
  }, 90_000);

  const python = pythonWithMsgpack();
  it.skipIf(python === undefined)("child-process members in Python (the example agent) grow under load and shrink back to min", async () => {
    await using pool = await createPool({
      url: broker.url,
      name: "python",
      min: 2,
      max: 10,
      autoscale: FAST,
      grace_ms: 20_000,
      capabilities: ["conformance.slow"],
      command: python!,
      args: [join(ROOT, "examples", "python", "agent.py")],
      stdio: process.env.AGENTWIRE_TEST_VERBOSE === undefined ? "ignore" : "inherit",
      logger,
      backoff,
    });
    const exits: Extract<PoolEvent, { type: "exited" }>[] = [];
    pool.watch((e) => void (e.type === "exited" && exits.push(e)));
    await waitFor(async () => ((await client.agents({ capability: "conformance.slow" })).filter((a) => a.pool === "python").length === 2 ? true : undefined), 20_000, "two Python members");
    const ramp = new Ramp(client, "conformance.slow", () => ({ ms: 150 }));
    ramp.set(30); // the example agent takes 8 at once: 30 on 2 × 8 slots
    await waitFor(() => (pool.size >= 4 ? true : undefined), 60_000, "the Python pool to grow");
    ramp.set(0);
    const outcomes = await ramp.settled();
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    await waitFor(() => (pool.size === 2 && pool.members.length === 2 ? true : undefined), 60_000, "the Python pool to shrink back to 2");
    // The drained members finished and exited with 0; none died or was replaced.
    expect(exits.length).toBeGreaterThan(0);
    expect(exits.filter((e) => !e.clean || !e.left || e.restartInMs !== undefined)).toEqual([]);
    const steps = await decisions(client, "python");
    expect(steps.at(-1)).toMatchObject({ to: 2 });
    expect(directionChanges(steps), JSON.stringify(steps)).toBe(1);
  }, 150_000);
});

describe.skipIf(!HAVE_BROKER)("a pool across a broker restart [POOL-5]", () => {
  it("the supervisor declares the pool again once its session is back, and the members serve again", async () => {
    await using broker = await sdkBroker();
    await using pool = await createPool({
      url: broker.url,
      name: "phoenix",
      min: 2,
      max: 3,
      logger,
      backoff,
      template: (i) => createAgent({ ...i, name: "phoenix", logger, backoff }).capability("phoenix.echo", { input: z.string() }, (s) => s),
    });
    const ids = pool.members.map((m) => m.id).sort();
    const declaredAgain = nextEvent(pool, (e): e is Extract<PoolEvent, { type: "declared" }> => e.type === "declared" && e.again, 30_000, "the pool declared again");
    await broker.restart(); // a broker that forgot everything: the pool, its supervisor, its members
    await declaredAgain;
    const view = await waitFor(async () => {
      const { pools } = (await (await fetch(`${broker.http}/v1/pools`)).json()) as { pools: { name: string; supervisor: string | null; members: { agent_id: string }[] }[] };
      const p = pools.find((v) => v.name === "phoenix");
      return p !== undefined && p.members.length === 2 ? p : undefined;
    }, 30_000, "the pool with its supervisor and both members again");
    expect(view.supervisor).toBe(pool.client.id);
    expect(view.members.map((m) => m.agent_id).sort()).toEqual(ids); // the same members reconnected; none was replaced
    expect(pool.members.map((m) => m.id).sort()).toEqual(ids);
    await using client = await connect({ url: broker.url, logger, backoff });
    await expect(client.submit("phoenix.echo", "again")).resolves.toBe("again");
  }, 90_000);
});

function pythonWithMsgpack(): string | undefined {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import msgpack, websockets"], { stdio: "ignore" });
    return "/usr/bin/python3";
  } catch {
    return undefined;
  }
}
