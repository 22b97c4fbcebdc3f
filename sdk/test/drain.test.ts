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
