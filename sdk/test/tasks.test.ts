import { CancelledError, DeadlineExceededError, InvalidInputError, NoAgentsError, NoRespondersError, type AgentwireError } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, type Agent, type Client } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("tasks against the real broker", () => {
  let broker: TestBroker;
  let agent: Agent;
  let helper: Agent;
  let client: Client;
  const aborted = new Map<string, ReturnType<typeof deferred<unknown>>>();
  const started = new Map<string, ReturnType<typeof deferred<string>>>();
  const waitersFor = (key: string) => {
    if (!aborted.has(key)) aborted.set(key, deferred<unknown>());
    if (!started.has(key)) started.set(key, deferred<string>());
    return { aborted: aborted.get(key)!, started: started.get(key)! };
  };

  beforeAll(async () => {
    broker = await sdkBroker();
    agent = createAgent({ url: broker.url, name: "worker", logger, backoff })
      .capability(
        "math.add",
        { input: z.object({ a: z.number(), b: z.number() }), output: z.object({ sum: z.number() }), description: "adds" },
        async ({ a, b }, ctx) => {
          for (let i = 1; i <= 5; i++) ctx.progress({ step: i });
          return { sum: a + b };
        },
      )
      .capability("wait.abort", { input: z.object({ key: z.string() }) }, async ({ key }, ctx) => {
        const w = waitersFor(key);
        w.started.resolve(ctx.task.id);
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        w.aborted.resolve(ctx.signal.reason);
        throw ctx.signal.reason;
      })
      .capability("bad.output", { input: z.object({}), output: z.object({ n: z.number() }) }, () => ({ n: "nope" }) as unknown as { n: number })
      .respond("echo", (payload, ctx) => ({ echoed: payload, from: ctx.from }))
      .capability("nested.timeout", { input: z.object({}) }, (_input, ctx) => ctx.request({ capability: "deadline.of" }, {}, { timeoutMs: 60_000 }));
    await agent.start();
    // A second agent: forwarded requests carry no capability [REQ-3], so one agent answers one kind.
    helper = await createAgent({ url: broker.url, name: "clock", logger, backoff })
      .respond("deadline.of", (_payload, ctx) => ({ left: ctx.deadline - Date.now() }))
      .start();
    client = await connect({ url: broker.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await helper?.close();
    await broker?.stop();
  });

  it("[TASK-3] [TASK-10] submit resolves with the validated output", async () => {
    await expect(client.submit("math.add", { a: 2, b: 40 })).resolves.toEqual({ sum: 42 });
  });

  it("[TASK-8] progress arrives in order before the result (stream)", async () => {
    const events = [];
    for await (const e of client.stream("math.add", { a: 1, b: 1 })) events.push(e);
    expect(events).toEqual([
      ...[1, 2, 3, 4, 5].map((step) => ({ type: "progress", data: { step } })),
      { type: "result", output: { sum: 2 } },
    ]);
  });

  it("[TASK-10] bad input is a result with invalid_input, and the agent keeps serving", async () => {
    const err = await client.submit("math.add", { a: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as AgentwireError).code).toBe("invalid_input");
    await expect(client.submit("math.add", { a: 1, b: 2 })).resolves.toEqual({ sum: 3 });
  });

  it("output is validated too", async () => {
    const err = (await client.submit("bad.output", {}).catch((e: unknown) => e)) as AgentwireError;
    expect(err.code).toBe("invalid_output");
  });

  it("[TASK-2] a capability nobody offers rejects with NoAgentsError", async () => {
    await expect(client.submit("nobody.here", {})).rejects.toBeInstanceOf(NoAgentsError);
  });

  it("[TASK-29] cancel aborts the handler's signal and the submit rejects with CancelledError", async () => {
    const w = waitersFor("cancel");
    const ctrl = new AbortController();
    const out = client.submit("wait.abort", { key: "cancel" }, { signal: ctrl.signal });
    await within(w.started.promise, 10_000, "handler start");
    ctrl.abort();
    await expect(out).rejects.toBeInstanceOf(CancelledError);
    const reason = await within(w.aborted.promise, 10_000, "handler abort");
    expect((reason as AgentwireError).code).toBe("cancelled");
  });

  it("[TASK-33] the deadline aborts the handler's signal and the submit rejects with DeadlineExceededError", async () => {
    const w = waitersFor("deadline");
    const out = client.submit("wait.abort", { key: "deadline" }, { timeoutMs: 400 });
    await expect(out).rejects.toBeInstanceOf(DeadlineExceededError);
    const reason = await within(w.aborted.promise, 10_000, "handler abort");
    expect((reason as AgentwireError).code).toBe("deadline_exceeded");
  });

  it("[REQ-5] request by capability and by agent id; no responders is typed", async () => {
    await expect(client.request({ capability: "echo" }, { hi: 1 })).resolves.toEqual({ echoed: { hi: 1 }, from: client.id });
    await expect(client.request(agent.id!, "x")).resolves.toMatchObject({ echoed: "x" });
    await expect(client.request("no-such-agent", "x")).rejects.toBeInstanceOf(NoRespondersError);
  });

  it("[REQ-15] a nested request's timeout is capped by the task's remaining time", async () => {
    const out = (await client.submit("nested.timeout", {}, { timeoutMs: 3_000 })) as { left: number };
    expect(out.left).toBeGreaterThan(0);
    expect(out.left).toBeLessThanOrEqual(3_000);
  });

  it("[MSG-1] direct messages and [TOPIC-8] topics reach their handlers", async () => {
    const direct = deferred<unknown>();
    const topic = deferred<unknown>();
    const listener = await connect({ url: broker.url, logger, backoff });
    try {
      await listener.subscribe("news.*", (m) => topic.resolve({ topic: m.topic, payload: m.payload, from: m.from }));
      await client.publish("news.sol", { price: 1 });
      await expect(within(topic.promise, 10_000, "broadcast")).resolves.toEqual({ topic: "news.sol", payload: { price: 1 }, from: client.id });
      const a2 = createAgent({ url: broker.url, name: "inbox", logger, backoff }).onMessage((m) => direct.resolve(m.payload));
      await a2.start();
      await client.send(a2.id!, { hello: "there" });
      await expect(within(direct.promise, 10_000, "direct message")).resolves.toEqual({ hello: "there" });
      await a2.close();
    } finally {
      await listener.close();
    }
  });

  it("[QUERY-1] [CAP-6] agents() lists capabilities with their JSON Schemas", async () => {
    const agents = await client.agents({ capability: "math.add" });
    expect(agents.map((a) => a.agent_id)).toEqual([agent.id]);
    const cap = agents[0]?.capabilities.find((c) => c.name === "math.add");
    expect(cap?.input_schema).toMatchObject({ type: "object", properties: { a: { type: "number" }, b: { type: "number" } } });
    expect(cap?.description).toBe("adds");
  });

  it("[HB-6] an unhealthy health check stops routing to the agent", async () => {
    let healthy = true;
    const served: string[] = [];
    const mk = (name: string, check?: () => boolean) =>
      createAgent({ url: broker.url, name, logger, backoff, healthCheck: check, healthCheckIntervalMs: 50 }).capability(
        "health.probe",
        { input: z.object({}) },
        () => void served.push(name),
      );
    const sick = await mk("sick", () => healthy).start();
    const fine = await mk("fine").start();
    try {
      healthy = false;
      const check = async () => ((await client.agents({ capability: "health.probe", status: "unhealthy" })).length === 1 ? true : undefined);
      await waitFor(check, 10_000, "the broker to see the agent unhealthy");
      for (let i = 0; i < 6; i++) await client.submit("health.probe", {});
      expect(served).toEqual(Array(6).fill("fine"));
    } finally {
      await sick.close();
      await fine.close();
    }
  });
});
