import { waitFor } from "@agentwire/testkit";
import { NoAgentsError } from "@agentwire/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ClosedError, connect, createAgent, type Client } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("drain [DRAIN-2] [DRAIN-5]", () => {
  let broker: TestBroker;
  let client: Client;

  beforeAll(async () => {
    broker = await sdkBroker();
    client = await connect({ url: broker.url, logger, backoff });
  });
  afterAll(async () => {
    await client?.close();
    await broker?.stop();
  });

  it("finishes in-flight work, takes no new task, then closes", async () => {
    const release = deferred<void>();
    const started = deferred<void>();
    let runs = 0;
    const agent = createAgent({ url: broker.url, name: "drainer", logger, backoff }).capability("slow.job", { input: z.object({}) }, async () => {
      runs++;
      started.resolve();
      await release.promise;
      return "finished";
    });
    await agent.start();
    const inFlight = client.submit("slow.job", {});
    await within(started.promise, 10_000, "task start");

    const drained = agent.drain();
    await waitFor(async () => ((await client.agents({ capability: "slow.job" }))[0]?.status === "draining" ? true : undefined), 10_000, "draining status");
    await expect(client.submit("slow.job", {})).rejects.toBeInstanceOf(NoAgentsError);
    expect(agent.session.isClosed).toBe(false);

    release.resolve();
    await expect(inFlight).resolves.toBe("finished");
    await within(drained, 10_000, "drain");
    expect(agent.session.isClosed).toBe(true);
    expect(runs).toBe(1);
    await waitFor(async () => ((await client.agents({ capability: "slow.job" })).length === 0 ? true : undefined), 10_000, "agent gone");
  });

  it("`await using` drains agent and client at scope end", async () => {
    let agentRef: { session: { isClosed: boolean } } | undefined;
    let clientRef: Client | undefined;
    {
      await using agent = await createAgent({ url: broker.url, name: "scoped", logger, backoff })
        .capability("scoped.ping", { input: z.object({}) }, () => "pong")
        .start();
      await using c = await connect({ url: broker.url, logger, backoff });
      agentRef = agent;
      clientRef = c;
      await expect(c.submit("scoped.ping", {})).resolves.toBe("pong");
    }
    expect(agentRef.session.isClosed).toBe(true);
    expect(clientRef.session.isClosed).toBe(true);
    await expect(clientRef.submit("scoped.ping", {})).rejects.toBeInstanceOf(ClosedError);
  });

  it("waitForCompletion times out while work runs", async () => {
    const release = deferred<void>();
    const started = deferred<void>();
    const agent = await createAgent({ url: broker.url, name: "waiter", logger, backoff })
      .capability("wait.job", { input: z.object({}) }, async () => {
        started.resolve();
        await release.promise;
      })
      .start();
    const job = client.submit("wait.job", {});
    await within(started.promise, 10_000, "start");
    await agent.shutdown();
    await expect(agent.waitForCompletion(50)).rejects.toMatchObject({ code: "timeout" });
    release.resolve();
    await job;
    await agent.waitForCompletion(5_000);
    await agent.close();
  });
});

describe.skipIf(!HAVE_BROKER)("drain with a timeout ends closed in every case", () => {
  it("agent.drain({ timeoutMs }) past a long task closes anyway and names the task; the broker requeues it to another agent", async () => {
    const broker = await sdkBroker();
    const client = await connect({ url: broker.url, logger, backoff });
    const started = deferred<void>();
    const aborted = deferred<unknown>();
    const slow = createAgent({ url: broker.url, name: "slow", logger, backoff }).capability("long.job", { input: z.object({}) }, async (_input, ctx) => {
      started.resolve();
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      aborted.resolve(ctx.signal.reason);
      return "never delivered";
    });
    try {
      await slow.start();
      const job = client.submit("long.job", {}, { maxAttempts: 2 });
      const id = await job.id;
      await within(started.promise, 10_000, "task start");
      const report = await within(slow.drain({ timeoutMs: 100 }), 10_000, "drain");
      expect(report).toEqual({ settled: false, released: [id] });
      expect(slow.session.isClosed).toBe(true);
      await within(aborted.promise, 5_000, "handler aborted");
      // The released task runs again on the next agent to offer the capability.
      const fresh = await createAgent({ url: broker.url, name: "fresh", logger, backoff }).capability("long.job", { input: z.object({}) }, (_i, ctx) => `attempt ${ctx.task.attempt}`).start();
      await expect(within(job.result, 15_000, "requeued result")).resolves.toBe("attempt 2");
      await fresh.close();
      // A drain with nothing running settles at once.
      const idle = await createAgent({ url: broker.url, name: "idle", logger, backoff }).start();
      await expect(idle.drain({ timeoutMs: 1_000 })).resolves.toEqual({ settled: true, released: [] });
    } finally {
      await client.close();
      await slow.close();
      await broker.stop();
    }
  });

  it("client.drain({ timeoutMs }) stops waiting at the timeout, closes, and names the tasks it left to the broker", async () => {
    const broker = await sdkBroker();
    const release = deferred<void>();
    const agent = await createAgent({ url: broker.url, name: "holder", logger, backoff })
      .capability("held.job", { input: z.object({}) }, async () => {
        await release.promise;
        return "late";
      })
      .start();
    const client = await connect({ url: broker.url, logger, backoff });
    try {
      const job = client.submit("held.job", {});
      const id = await job.id;
      const report = await within(client.drain({ timeoutMs: 100 }), 10_000, "client drain");
      expect(report).toEqual({ settled: false, abandoned: [id] });
      expect(client.session.isClosed).toBe(true);
      await expect(job.result).rejects.toBeInstanceOf(ClosedError);
      // The broker kept the task: another client follows it by id and gets its result.
      const other = await connect({ url: broker.url, logger, backoff });
      const followed = other.task(id);
      await followed.id;
      release.resolve();
      await expect(within(followed.result, 10_000, "followed result")).resolves.toBe("late");
      await other.close();
    } finally {
      release.resolve();
      await agent.close();
      await broker.stop();
    }
  });
});

describe.skipIf(!HAVE_BROKER)("goaway [SHUT-6]", () => {
  it("onGoaway hears the broker's shutdown; draining there finishes the task and closes for good", async () => {
    const broker = await sdkBroker(["--shutdown-grace-ms", "5000"]);
    const client = await connect({ url: broker.url, logger, backoff });
    const release = deferred<void>();
    const started = deferred<void>();
    const heard = deferred<{ reason: string; graceMs: number }>();
    const agent = createAgent({ url: broker.url, name: "goaway", logger, backoff })
      .capability("goaway.job", { input: z.object({}) }, async () => {
        started.resolve();
        await release.promise;
        return "finished";
      })
      .onGoaway(async (info) => {
        heard.resolve(info);
        await agent.drain();
      });
    try {
      await agent.start();
      const generation = agent.session.currentGeneration;
      const inFlight = client.submit("goaway.job", {});
      await within(started.promise, 10_000, "task start");
      const stopping = broker.stop(); // SIGTERM: goaway, then the broker waits for in-flight tasks
      await expect(within(heard.promise, 10_000, "goaway")).resolves.toMatchObject({ graceMs: 5000 });
      release.resolve();
      await expect(inFlight).resolves.toBe("finished");
      await waitFor(() => (agent.session.isClosed ? true : undefined), 10_000, "agent closed");
      await stopping;
      expect(agent.session.currentGeneration).toBe(generation);
    } finally {
      await client.close();
      await agent.close();
      await broker.stop();
    }
  });
});
