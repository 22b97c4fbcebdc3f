/**
 * Every task and agent transition is announced once, in order, on the broker's event bus
 * (docs/events.md): agent loss and retry, cancel, deadline and eviction, on one broker and across a
 * mesh (the origin's view and the executing broker's). Brokers run in this process so the test can
 * listen; peers are real WebSockets.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import { startBroker, type Broker } from "../src/broker.js";
import { defaults, type BrokerConfig } from "../src/config.js";
import { taskEvent, type AgentEventType, type TaskEventType } from "../src/events.js";
import { Peer } from "@agentwire/testkit/peer";

const silent = pino({ level: "silent" });

/** A broker in this process that records its events: task event types per task id, agent events per agent id. */
async function listening(overrides: Partial<BrokerConfig>): Promise<{ broker: Broker; url: string; tasks: Map<string, TaskEventType[]>; agents: Map<string, AgentEventType[]> }> {
  const broker = await startBroker({ ...defaults(), port: 0, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400, ...overrides }, silent);
  const tasks = new Map<string, TaskEventType[]>();
  const agents = new Map<string, AgentEventType[]>();
  broker.events.on({
    task: (type, task, at, cause) => {
      // The kept form of an event is built from the live record at emission time.
      const e = taskEvent(broker.id, type, task, at, cause);
      if (e.type !== "task.progress") tasks.set(e.task_id, [...(tasks.get(e.task_id) ?? []), e.type]);
    },
    agent: (type, agent) => void agents.set(agent.agentId, [...(agents.get(agent.agentId) ?? []), type]),
  });
  return { broker, url: `ws://127.0.0.1:${broker.address.port}/`, tasks, agents };
}

type Setup = { client: string; agent: string; origin: Map<string, TaskEventType[]>; runner: Map<string, TaskEventType[]>; agents: Map<string, AgentEventType[]>; mesh: boolean; brokers: Broker[] };

const SETUPS: { name: string; start(): Promise<Setup & AsyncDisposable> }[] = [
  {
    name: "memory",
    async start() {
      const b = await listening({});
      return { client: b.url, agent: b.url, origin: b.tasks, runner: b.tasks, agents: b.agents, mesh: false, brokers: [b.broker], [Symbol.asyncDispose]: () => b.broker.close() };
    },
  },
  {
    name: "mesh",
    async start() {
      const redis: RedisInstance = await startRedis();
      const mesh = { redis: redis.url, meshLivenessMs: 250 };
      const a = await listening({ ...mesh, brokerId: "ev-a" });
      const b = await listening({ ...mesh, brokerId: "ev-b" });
      return {
        client: a.url,
        agent: b.url,
        origin: a.tasks,
        runner: b.tasks,
        agents: b.agents,
        mesh: true,
        brokers: [a.broker, b.broker],
        async [Symbol.asyncDispose]() {
          await a.broker.close();
          await b.broker.close();
          await redis[Symbol.asyncDispose]();
        },
      };
    },
  },
];

const ended = (list: TaskEventType[] | undefined): boolean => list?.some((t) => /succeeded|failed|cancelled|deadline_exceeded/.test(t)) ?? false;

describe.each(SETUPS)("event bus ($name)", (setup) => {
  let s: Setup & AsyncDisposable;
  let n = 0;
  beforeAll(async () => {
    s = await setup.start();
  });
  afterAll(async () => {
    await s?.[Symbol.asyncDispose]();
  });

  /** An agent on the agents' broker that the client side can route to; it heartbeats until `silence()`. */
  const agentFor = async (capability: string): Promise<Peer & { silence(): void }> => {
    const p = await Peer.register(s.agent, { capabilities: [{ name: capability }] });
    const beat = setInterval(() => p.send({ type: "heartbeat" }), 100);
    void p.closed.then(() => clearInterval(beat));
    if (s.mesh) {
      await using probe = await Peer.register(s.client, {});
      await waitFor(async () => {
        probe.send({ type: "query", capability, ref: "q" });
        const r = await probe.next("agents", (f) => f.ref === "q");
        return r.agents.some((x) => x.agent_id === p.agentId) || undefined;
      }, 10_000, "agent visible to the client's broker");
    }
    return Object.assign(p, { silence: () => clearInterval(beat) });
  };

  it("agent loss and retry: submitted → queued → dispatched → requeued → queued → dispatched → succeeded, once each", async () => {
    const capability = `ev.retry${++n}`;
    const first = await agentFor(capability);
    await using client = await Peer.register(s.client, {});
    const id = await client.submit(capability, 1);
    await first.next("task");
    await using second = await agentFor(capability);
    await first.close();
    const again = await second.next("task", (t) => t.task_id === id);
    second.send({ type: "result", task_id: id, ok: true, output: encodePayload(1), attempt: again.attempt });
    await client.next("result", (f) => f.task_id === id);
    await waitFor(() => (ended(s.runner.get(id)) && ended(s.origin.get(id)) ? true : undefined), 10_000, "end events");
    expect(s.runner.get(id)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.requeued", "task.queued", "task.dispatched", "task.succeeded"]);
    if (s.mesh) expect(s.origin.get(id)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.succeeded"]);
    expect(s.agents.get(first.agentId)).toEqual(["agent.registered", "agent.left"]);
  });

  it("a listener that throws is logged; routing and the other listeners go on", async () => {
    const capability = `ev.throw${++n}`;
    const off = s.brokers.map((b) => b.events.on({ task: () => { throw new Error("listener bug"); } }));
    try {
      await using agent = (await agentFor(capability)).serve(Peer.echo);
      await using client = await Peer.register(s.client, {});
      const id = await client.submit(capability, 1);
      expect((await client.next("result", (f) => f.task_id === id)).ok).toBe(true);
      await waitFor(() => (ended(s.origin.get(id)) ? true : undefined), 10_000, "end event");
      void agent;
    } finally {
      for (const f of off) f();
    }
  });

  it("cancel: submitted → queued → dispatched → cancelled", async () => {
    const capability = `ev.cancel${++n}`;
    await using agent = await agentFor(capability);
    await using client = await Peer.register(s.client, {});
    const id = await client.submit(capability, 1);
    await agent.next("task");
    client.send({ type: "cancel", task_id: id, ref: "c" });
    await client.next("result", (f) => f.task_id === id);
    await agent.next("cancel", (f) => f.task_id === id);
    await waitFor(() => (ended(s.runner.get(id)) && ended(s.origin.get(id)) ? true : undefined), 10_000, "end events");
    for (const view of s.mesh ? [s.origin, s.runner] : [s.origin]) {
      expect(view.get(id)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.cancelled"]);
    }
  });

  it("deadline: submitted → queued → dispatched → deadline_exceeded", async () => {
    const capability = `ev.deadline${++n}`;
    await using agent = await agentFor(capability);
    await using client = await Peer.register(s.client, {});
    const id = await client.submit(capability, 1, { timeout_ms: 300 });
    await agent.next("task");
    expect((await client.next("result", (f) => f.task_id === id)).error?.code).toBe("deadline_exceeded");
    await waitFor(() => (ended(s.origin.get(id)) ? true : undefined), 10_000, "end event");
    expect(s.origin.get(id)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.deadline_exceeded"]);
  });

  it("eviction: agent.registered → agent.evicted → agent.left, and its task is requeued", async () => {
    const capability = `ev.evict${++n}`;
    // It heartbeats until it holds the task, then falls silent: evicted after heartbeat_timeout_ms (400 ms).
    const agent = await agentFor(capability);
    await using client = await Peer.register(s.client, {});
    const id = await client.submit(capability, 1);
    await agent.next("task");
    agent.silence();
    await waitFor(() => (s.agents.get(agent.agentId)?.includes("agent.left") ? true : undefined), 10_000, "eviction");
    expect(s.agents.get(agent.agentId)).toEqual(["agent.registered", "agent.evicted", "agent.left"]);
    await waitFor(() => (s.runner.get(id)?.includes("task.requeued") ? true : undefined), 10_000, "requeue");
    expect(s.runner.get(id)?.slice(0, 5)).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.requeued", "task.queued"]);
  });
});
