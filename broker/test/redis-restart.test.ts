/**
 * A broker restarted with the same `--broker-id` (kill -9, or a graceful SIGTERM as in a rolling
 * restart) hands out ids its earlier run never used [TASK-4, REG-11]: every task after the restart runs
 * on the agent and is answered with its own result, never with a stored result of an earlier task.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { agentsOn, startBroker, startRedisStore, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe("a broker restarted with the same id", () => {
  it.each(["SIGKILL", "SIGTERM"] as const)("makes new ids after %s: every task runs once and gets its own result", async (signal) => {
    await using store = await startRedisStore();
    const run = randomBytes(3).toString("hex");
    const [idA, idB, capability] = [`a-${run}`, `b-${run}`, `work-${run}`];
    await using b = await startBroker([...store.join, "--broker-id", idB]);
    // The agent answers each task with its own id and input, and counts how often each id ran.
    const runs = new Map<string, number>();
    await using agent = (await Peer.register(b.url, { capabilities: [{ name: capability }] })).serve((task, peer) => {
      runs.set(task.task_id, (runs.get(task.task_id) ?? 0) + 1);
      peer.send({ type: "result", task_id: task.task_id, ok: true, output: encodePayload({ id: task.task_id, input: decodePayload(task.input) }), attempt: task.attempt });
    });

    const round = async (a: RunningBroker, label: string): Promise<{ ids: string[]; sessionId: string }> => {
      await waitFor(async () => (await agentsOn(a)).some((x) => x.agent_id === agent.agentId) || undefined, 10_000, "B's agent listed on A");
      await using client = await Peer.connect(a.url);
      client.send({ type: "register" });
      const reg = await client.next("registered");
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await client.submit(capability, `${label}-${i}`));
      for (const [i, id] of ids.entries()) {
        const r = await client.next("result", (f) => f.task_id === id, 15_000);
        expect(r.ok, `${label} task ${i}`).toBe(true);
        expect(decodePayload(r.output!)).toEqual({ id, input: `${label}-${i}` });
      }
      return { ids, sessionId: reg.session_id };
    };

    const a1 = await startBroker([...store.join, "--broker-id", idA]);
    const first = await round(a1, "before");
    a1.child.kill(signal);
    await a1.child.exited;
    await using a2 = await startBroker([...store.join, "--broker-id", idA]);
    const second = await round(a2, "after");

    expect(second.ids.filter((id) => first.ids.includes(id))).toEqual([]);
    expect(second.sessionId).not.toBe(first.sessionId);
    for (const id of [...first.ids, ...second.ids]) expect(runs.get(id), id).toBe(1);
  });
});
