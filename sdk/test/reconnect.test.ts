import { waitFor } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConnectionLostError, connect, createAgent, type Agent, type Client } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("reconnect [HB-8]", () => {
  let broker: TestBroker;
  let agent: Agent;
  let client: Client;
  const runs = new Map<string, number>();
  const heard: unknown[] = [];
  let onHeard = deferred<void>();
  const hangStarted = deferred<void>();
  const hangAborted = deferred<unknown>();

  beforeAll(async () => {
    broker = await sdkBroker();
    agent = createAgent({ url: broker.url, name: "survivor", logger, backoff })
      .capability("count.me", { input: z.object({ n: z.number() }) }, ({ n }, ctx) => {
        const key = `${ctx.task.id}#${ctx.task.attempt}`;
        runs.set(key, (runs.get(key) ?? 0) + 1);
        return { n };
      })
      .capability("hang", { input: z.object({}) }, async (_input, ctx) => {
        hangStarted.resolve();
        await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
        hangAborted.resolve(ctx.signal.reason);
        return "never delivered";
      })
      .on("alerts.>", (msg) => {
        heard.push(msg.payload);
        onHeard.resolve();
      });
    await agent.start();
    client = await connect({ url: broker.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await broker?.stop();
  });

  it("re-registers with the same agent id, resubscribes, and serves the next task after a broker restart", async () => {
    await expect(client.submit("count.me", { n: 1 })).resolves.toEqual({ n: 1 });
    const id = agent.id;
    const generation = agent.session.currentGeneration;

    await broker.stop();
    await broker.restart();
    await waitFor(() => (agent.session.currentGeneration > generation && agent.session.isReady ? true : undefined), 20_000, "agent re-registered");
    await client.session.whenReady();

    expect(agent.id).toBe(id);
    const listed = await waitFor(async () => {
      const agents = await client.agents({ capability: "count.me" });
      return agents.length > 0 ? agents : undefined;
    }, 10_000, "agent listed again");
    expect(listed.map((a) => a.agent_id)).toEqual([id]);

    await expect(within(client.submit("count.me", { n: 2 }), 15_000, "task after restart")).resolves.toEqual({ n: 2 });

    // The subscription was restored: subscribe acks are ordered before this publish on the agent's socket only,
    // so wait for delivery with a deadline rather than assuming it.
    onHeard = deferred<void>();
    await waitFor(async () => {
      await client.publish("alerts.restart", { ok: true });
      return within(onHeard.promise, 500, "alert").then(() => true, () => undefined);
    }, 15_000, "resubscribed topic delivery");
    expect(heard).toContainEqual({ ok: true });

    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(2);
  });

  it("a submit in flight when the connection drops rejects with a retryable ConnectionLostError; the handler is aborted", async () => {
    const pending = client.submit("hang", {}, { idempotencyKey: "hang-1" });
    await within(hangStarted.promise, 10_000, "handler start");
    broker.child.kill("SIGKILL");
    const err = await within(pending.catch((e: unknown) => e), 10_000, "submit rejection");
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect((err as ConnectionLostError).retryable).toBe(true);
    expect(await within(hangAborted.promise, 10_000, "handler abort")).toBeInstanceOf(ConnectionLostError);
    await broker.child.exited;
    await broker.restart();
    await client.session.whenReady();
    await waitFor(async () => ((await client.agents({ capability: "count.me" })).length > 0 ? true : undefined), 20_000, "agent back");
    await expect(client.submit("count.me", { n: 3 }, { idempotencyKey: "after-crash" })).resolves.toEqual({ n: 3 });
  });
});
