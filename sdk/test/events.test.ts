/** The SDK's view of the broker's recorded events: `suite.client.events()` (replay) and `suite.client.follow()` (live tail). */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { NotFoundError } from "@agentwire/wire";
import { connect, createAgent, type RecordedEvent } from "../src/index.js";
import { HAVE_BROKER, backoff, logger, sdkBroker, suiteBroker, within } from "./helpers.js";

describe.skipIf(!HAVE_BROKER)("recorded events through the SDK", () => {
  const suite = suiteBroker((url) => createAgent({ url, name: "ev-worker", logger, backoff }).capability("ev.double", { input: z.number() }, (n) => n * 2));

  it("suite.client.events() replays a time range and a task's events in order", async () => {
    const from = new Date();
    const outputs = await Promise.all([1, 2, 3].map((n) => suite.client.submit<number>("ev.double", n)));
    expect(outputs).toEqual([2, 4, 6]);
    const events: RecordedEvent[] = [];
    for await (const e of suite.client.events({ from, to: Date.now() + 1, type: ["task.submitted", "task.succeeded"] })) events.push(e);
    const tasks = new Set(events.map((e) => e.data.task_id as string));
    expect(tasks.size).toBe(3);
    for (const id of tasks) {
      expect(events.filter((e) => e.data.task_id === id).map((e) => e.type)).toEqual(["task.submitted", "task.succeeded"]);
      const timeline: string[] = [];
      for await (const e of suite.client.events({ task: id })) timeline.push(e.type);
      expect(timeline).toEqual(["task.submitted", "task.queued", "task.dispatched", "task.succeeded"]);
    }
    for (let i = 1; i < events.length; i++) expect(events[i]!.position).toBeGreaterThan(events[i - 1]!.position);
  });

  it("suite.client.follow() yields events as they are recorded until its signal aborts", async () => {
    const abort = new AbortController();
    const seen: RecordedEvent[] = [];
    const ended = (async () => {
      for await (const e of suite.client.follow({ capability: "ev.double", type: "task.succeeded" }, { signal: abort.signal })) {
        seen.push(e);
        if (seen.length === 3) abort.abort();
      }
    })();
    // The tail starts from now: tasks are submitted until three successes were seen.
    for (let n = 10; !abort.signal.aborted && n < 1_000; n++) await suite.client.submit("ev.double", n);
    await within(ended, 10_000, "the tail to end after abort");
    expect(seen.map((e) => e.type)).toEqual(["task.succeeded", "task.succeeded", "task.succeeded"]);
    expect(new Set(seen.map((e) => e.position)).size).toBe(3);
  });

  it("a broker that keeps no events answers NotFoundError", async () => {
    const bare = await sdkBroker(["--events-max", "0"]);
    try {
      const c = await connect({ url: bare.url, logger, backoff });
      try {
        const read = async (): Promise<void> => {
          for await (const _ of c.events()) void _;
        };
        await expect(read()).rejects.toBeInstanceOf(NotFoundError);
      } finally {
        await c.close();
      }
    } finally {
      await bare.stop();
    }
  });
});
