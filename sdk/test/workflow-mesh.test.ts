/**
 * A run outlives its client's broker in a mesh [WF-15, WF-21]: the client starts a run on broker
 * `front`, whose steps run on an agent of broker `back`; `front` is killed (SIGKILL) and restarted
 * while a step runs. The client reconnects, watches the run again (the session sends run_watch by
 * itself), and `await run` resolves with the output; each step ran once.
 */
import { startRedis, waitFor, type RedisInstance } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, ref, workflow, type Agent, type Client, type WorkflowEvent } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("a run across the client's broker crash, in a mesh [WF-15, WF-21]", () => {
  let redis: RedisInstance;
  let front: TestBroker;
  let back: TestBroker;
  let agent: Agent;
  let client: Client;
  const started = deferred<void>();
  const release = deferred<void>();
  const ran: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    back = await sdkBroker(["--redis", redis.url, "--broker-id", "wf-back", "--mesh-liveness-ms", "250"]);
    front = await sdkBroker(["--redis", redis.url, "--broker-id", "wf-front", "--mesh-liveness-ms", "250"]);
    agent = createAgent({ url: back.url, name: "wf-mesh-worker", logger, backoff })
      .capability("wf.gate", { input: z.object({ n: z.number() }) }, async ({ n }, ctx) => {
        ran.push(`gate#${ctx.task.attempt}`);
        started.resolve();
        await release.promise;
        return { n: n + 1 };
      })
      .capability("wf.double", { input: z.object({ n: z.number() }) }, ({ n }, ctx) => {
        ran.push(`double#${ctx.task.attempt}`);
        return { n: n * 2 };
      });
    await agent.start();
    client = await connect({ url: front.url, logger, backoff, reattachMs: 30_000 });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await front?.stop();
    await back?.stop();
    await redis?.[Symbol.asyncDispose]();
  });

  it("resolves with the output after the client's broker was killed and restarted mid-run", async () => {
    await waitFor(async () => ((await client.agents({ capability: "wf.double" })).length > 0 ? true : undefined), 10_000, "the agent listed on the client's broker");
    const flow = workflow("across").step("gate", "wf.gate", { input: ref("/input") }).step("double", "wf.double", { input: ref("/steps/gate/output") }).build();
    const events: WorkflowEvent[] = [];
    const run = client.run(flow, { n: 20 }, { onEvent: (e) => events.push(e) });
    await within(started.promise, 15_000, "the first step running on the other broker's agent");
    front.child.kill("SIGKILL");
    await front.child.exited;
    await front.restart();
    await within(client.session.whenReady(), 15_000, "the client back on its broker");
    release.resolve();
    await expect(within(run.result, 30_000, "the run's result")).resolves.toEqual({ n: 42 });
    expect(ran).toEqual(["gate#1", "double#1"]);
    // What came before the crash, from the run's first broker, once each.
    expect(events.slice(0, 2).map((e) => [e.type, e.step])).toEqual([
      ["workflow.started", undefined],
      ["workflow.step.started", "gate"],
    ]);
    expect(new Set(events.map((e) => `${e.type} ${e.step ?? ""} ${e.attempt ?? ""}`)).size).toBe(events.length);
  });
});
