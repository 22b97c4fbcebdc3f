/**
 * A client's tasks outlive its broker in a mesh [ATT-3, MESH-7]: the client's broker is killed and
 * restarted (same id, same port) while a submit is open; the client reconnects, attaches to the task
 * again and the submit resolves with the task's result, run once.
 */
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, type Agent, type Client } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("a submit across the client's broker crash, in a mesh [ATT-3]", () => {
  let redis: RedisInstance;
  let front: TestBroker;
  let back: TestBroker;
  let agent: Agent;
  let client: Client;
  const started = deferred<void>();
  const release = deferred<void>();
  const runs: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    back = await sdkBroker(["--redis", redis.url, "--broker-id", "sdk-back", "--mesh-liveness-ms", "250"]);
    front = await sdkBroker(["--redis", redis.url, "--broker-id", "sdk-front", "--mesh-liveness-ms", "250"]);
    agent = createAgent({ url: back.url, name: "slow", logger, backoff }).capability("slow", { input: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
      runs.push(`${ctx.task.id}#${ctx.task.attempt}`);
      started.resolve();
      await release.promise;
      return { n };
    });
    await agent.start();
    client = await connect({ url: front.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await front?.stop();
    await back?.stop();
    await redis?.[Symbol.asyncDispose]();
  });

  it("resolves with the result after the client's broker was killed and restarted", async () => {
    let accepted: string | undefined;
    await waitFor(async () => ((await client.agents({ capability: "slow" })).length > 0 ? true : undefined), 10_000, "the agent listed on the client's broker");
    const pending = client.submit("slow", { n: 7 }, { onAccepted: (id) => void (accepted = id) });
    await within(started.promise, 10_000, "the task running on the other broker's agent");
    front.child.kill("SIGKILL");
    await front.child.exited;
    await front.restart();
    await client.session.whenReady();
    release.resolve();
    await expect(within(pending, 15_000, "the submit's result")).resolves.toEqual({ n: 7 });
    expect(runs).toEqual([`${accepted}#1`]);
  });
});
