/**
 * Retention of ended tasks [TASK-25]: kept for --result-ttl-ms unless the count cap
 * (--max-ended-tasks) or the bytes cap (--max-ended-bytes) forces the oldest out first.
 */
import { describe, expect, it } from "vitest";
import { run } from "@agentwire/testkit";
import { encodePayload } from "@agentwire/wire";
import { ConfigError, parseConfig, usage } from "../src/config.js";
import { brokerBin, startBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const MiB = 1024 * 1024;

async function retention(http: string): Promise<{ tasks: number; bytes: number }> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const tasks = /^agentwire_ended_tasks_retained (\d+)$/m.exec(text);
  const bytes = /^agentwire_ended_tasks_retained_bytes (\d+)$/m.exec(text);
  if (tasks === null || bytes === null) throw new Error("/metrics has no agentwire_ended_tasks_retained{,_bytes}");
  return { tasks: Number(tasks[1]), bytes: Number(bytes[1]) };
}

describe("ended-task retention", () => {
  it("[TASK-25] --max-ended-bytes: past the cap the oldest ended tasks are forgotten, the newest kept, the accounted bytes stay under it", async () => {
    await using broker = await startBroker(["--max-ended-bytes", String(MiB)]);
    await using agent = await Peer.register(broker.url, { capabilities: [{ name: "big" }], capacity: 16 });
    agent.serve(Peer.echo);
    await using client = await Peer.register(broker.url);

    // 200 tasks with 10 KiB outputs: about 2 MiB of outputs alone, twice the cap.
    const total = 200;
    const big = "x".repeat(10 * 1024);
    const input = encodePayload(big);
    for (let i = 0; i < total; i++) client.send({ type: "submit", ref: `r${i}`, capability: "big", input });
    const ended: string[] = []; // task ids in the order their results came, which is the order they ended
    for (let i = 0; i < total; i++) {
      const r = await client.next("result");
      expect(r.ok).toBe(true);
      ended.push(r.task_id);
    }

    const status: number[] = [];
    for (const id of ended) {
      const res = await fetch(`${broker.http}/v1/tasks/${encodeURIComponent(id)}`);
      status.push(res.status);
      const body = (await res.json()) as { error?: { code: string } };
      if (res.status === 404) expect(body.error?.code).toBe("unknown_task");
      else expect(res.status).toBe(200);
    }
    const kept = status.filter((s) => s === 200).length;
    // Forgotten oldest first: the tasks still known are exactly the last `kept` to end.
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(total);
    expect(status).toEqual([...Array<number>(total - kept).fill(404), ...Array<number>(kept).fill(200)]);

    const newest = (await (await fetch(`${broker.http}/v1/tasks/${encodeURIComponent(ended.at(-1)!)}`)).json()) as { state: string; output: unknown };
    expect(newest.state).toBe("succeeded");
    expect(newest.output).toBe(big);

    const r = await retention(broker.http);
    expect(r.tasks).toBe(kept);
    expect(r.bytes).toBeLessThanOrEqual(MiB);
    // Each kept task counts at least its output; the cap is full to within one more task.
    expect(r.bytes).toBeGreaterThanOrEqual(kept * input.byteLength);
    expect(r.bytes + 2 * input.byteLength).toBeGreaterThan(MiB);
  });
});

describe("--max-ended-bytes", () => {
  it("defaults to 64 MiB and is listed by --help", () => {
    expect(parseConfig([]).config.maxEndedBytes).toBe(64 * MiB);
    expect(parseConfig(["--max-ended-bytes", "0"]).config.maxEndedBytes).toBe(0);
    expect(parseConfig([], { AGENTWIRE_MAX_ENDED_BYTES: "1048576" }).config.maxEndedBytes).toBe(MiB);
    expect(usage()).toMatch(/--max-ended-bytes\s+.*\(default 67108864; env AGENTWIRE_MAX_ENDED_BYTES\)/);
    expect(() => parseConfig(["--max-ended-bytes", "1.5"])).toThrow(ConfigError);
  });

  it.each([
    [["--max-ended-bytes", "-1"], {}, 'agentwire-broker: --max-ended-bytes: expected integer 0..1099511627776, got "-1"'],
    [["--max-ended-bytes", "64MiB"], {}, 'agentwire-broker: --max-ended-bytes: expected integer 0..1099511627776, got "64MiB"'],
    [[], { AGENTWIRE_MAX_ENDED_BYTES: "lots" }, 'agentwire-broker: AGENTWIRE_MAX_ENDED_BYTES: expected integer 0..1099511627776, got "lots"'],
  ] as const)("bad value %j %j → one line on stderr, exit 2", async (args, env, message) => {
    // Port 0 and a deadline: a broker that accepted the value is stopped, not left listening.
    await using child = run(process.execPath, [brokerBin(), "--port", "0", ...args], { env: { ...process.env, ...env } });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running after 10 s"), 10_000)));
    expect(await Promise.race([child.exited, deadline])).toBe(2);
    clearTimeout(timer);
    expect(child.lines).toEqual([message]);
  });
});
