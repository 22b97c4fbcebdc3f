/**
 * `kill -9` of a broker holding tasks in its processing list (its stream's pending entries): a
 * surviving broker claims them and they complete on another broker's agent; none lost, none twice.
 * On a standalone redis-server and on a 3-master Redis Cluster.
 */
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { waitFor } from "@agentwire/testkit";
import { originHost } from "./helpers/origin-host.js";
import type { RemoteOutcome } from "../src/backend.js";
import { RedisBackend } from "../src/redis/redis-backend.js";
import { agentsOn, startBroker, STORES, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const results = (host: ReturnType<typeof originHost>): RemoteOutcome[][] => [...host.results.values()];
/** A traceparent per task number. */
const traceOf = (i: number): string => `00-${"ab".repeat(16)}-${(i + 1).toString(16).padStart(16, "0")}-01`;

describe.each(STORES)("redis mesh reclaim ($name)", (storeFactory) => {
  // Also: half the tasks carry trace context, which the reclaimed attempts still carry [TRACE-4].
  it("tasks pending on a killed broker complete on a survivor, each delivered once, with their trace context", async () => {
    await using store = await storeFactory.start();
    const admin = store.admin();
    const run = randomBytes(3).toString("hex");
    const [idB, idC, origin, capability] = [`b-${run}`, `c-${run}`, `o-${run}`, `work-${run}`];
    await using b = await startBroker([...store.join, "--broker-id", idB]);
    await using c = await startBroker([...store.join, "--broker-id", idC]);
    const holder = await Peer.register(b.url, { capabilities: [{ name: capability }] }); // never answers
    await using worker = (await Peer.register(c.url, { capabilities: [{ name: capability }] })).serve(Peer.echo);

    const host = originHost(origin);
    const results = host.results;
    const backend = new RedisBackend({ target: store.target, brokerId: origin, log: pino({ level: "silent" }), livenessMs: 200 });
    backend.attach(host);
    await backend.start();
    try {
      const n = 20;
      for (let i = 0; i < n; i++) {
        await backend.enqueueRemote({
          task_id: `${origin}.t${i}`, capability, input: encodePayload(i), origin_broker: origin, target_broker: idB, timeout_ms: 30_000, attempt: 1,
          ...(i % 2 === 0 ? { traceparent: traceOf(i), tracestate: "k=v" } : {}),
        });
      }
      await holder.next("task");
      await waitFor(async () => (((await admin.xpending(`aw:{b:${idB}}:tasks`, "brokers")) as [number])[0] === n ? true : undefined), 10_000, "pending on B");
      b.child.kill("SIGKILL");
      await b.child.exited;
      await waitFor(() => (results.size === n ? true : undefined), 30_000, "all results");
      // Let any duplicate surface: the dead broker's stream is gone only after every entry was re-handed.
      await waitFor(async () => ((await admin.exists(`aw:{b:${idB}}:tasks`)) === 0 ? true : undefined), 10_000, "dead stream removed");
      expect([...results.values()].filter((o) => o.length !== 1 || !o[0]!.ok)).toEqual([]);
      // Every task reached the worker with the trace context it was handed over with, or none.
      const ran = worker.all("task");
      expect(new Set(ran.map((t) => t.task_id)).size).toBe(n);
      const expected = (taskId: string): [string, string] | [undefined, undefined] => {
        const i = Number(taskId.slice(taskId.lastIndexOf(".t") + 2));
        return i % 2 === 0 ? [traceOf(i), "k=v"] : [undefined, undefined];
      };
      expect(ran.map((t) => [t.task_id, t.traceparent, t.tracestate])).toEqual(ran.map((t) => [t.task_id, ...expected(t.task_id)]));
      // The membership goes with the command after the stream's DEL (or at a later sweep while open records remain).
      await waitFor(async () => ((await admin.zscore("aw:{mesh}:brokers", idB)) === null ? true : undefined), 10_000, "dead broker forgotten");
      // Every pending entry was reclaimed once, by the survivor broker C or by this backend.
      const text = await (await fetch(`${c.http}/metrics`)).text();
      const byC = Number(/^agentwire_mesh_reclaimed_tasks_total (\S+)$/m.exec(text)?.[1]);
      expect(byC + backend.stats().reclaimed).toBeGreaterThanOrEqual(n);
    } finally {
      await backend.close();
      admin.disconnect();
      await holder.close().catch(() => undefined);
    }
  });

  it("a cancel on the origin reaches the broker that reclaimed the task, not the dead one", async () => {
    await using store = await storeFactory.start();
    const run = randomBytes(3).toString("hex");
    const capability = `moved-${run}`;
    // A short liveness period: B is found dead 3 x 250 ms after the kill.
    const mesh = (id: string): Promise<RunningBroker> => startBroker([...store.join, "--broker-id", id, "--mesh-liveness-ms", "250"]);
    await using a = await mesh(`a-${run}`);
    await using b = await mesh(`b-${run}`);
    await using c = await mesh(`c-${run}`);
    const listedOnA = async (agentId: string): Promise<true | undefined> => (await agentsOn(a)).some((x) => x.agent_id === agentId) || undefined;
    const holder = await Peer.register(b.url, { capabilities: [{ name: capability }] }); // never answers
    await using client = await Peer.register(a.url, {});
    try {
      await waitFor(() => listedOnA(holder.agentId), 10_000, "B's agent on A");
      const id = await client.submit(capability, { k: 1 });
      expect((await holder.next("task")).task_id).toBe(id);
      await using worker = await Peer.register(c.url, { capabilities: [{ name: capability }] }); // holds it too
      await waitFor(() => listedOnA(worker.agentId), 10_000, "C's agent on A");
      b.child.kill("SIGKILL");
      await b.child.exited;
      const second = await worker.next("task", (f) => f.task_id === id, 30_000);
      expect(second.attempt).toBe(2);
      // A has heard where the task runs now: its view shows the reclaimer's attempt.
      await waitFor(async () => (((await (await fetch(`${a.http}/v1/tasks/${id}`)).json()) as { attempt: number }).attempt === 2 ? true : undefined), 10_000, "attempt 2 on A");
      client.send({ type: "cancel", task_id: id, reason: "moved on", ref: "c1" });
      await client.next("ack", (f) => f.ref === "c1");
      expect((await client.next("result", (f) => f.task_id === id)).error?.code).toBe("cancelled");
      const cancel = await worker.next("cancel", (f) => f.task_id === id);
      expect(cancel.reason).toBe("moved on");
    } finally {
      await holder.close().catch(() => undefined);
    }
  });
  it("entries of a live broker's stream that another broker's consumer holds (it took the broker for dead and had no agent) are taken back and run", async () => {
    await using store = await storeFactory.start();
    const admin = store.admin();
    const run = randomBytes(3).toString("hex");
    const [idB, origin, capability] = [`b-${run}`, `o-${run}`, `held-${run}`];
    const host = originHost(origin);
    const backend = new RedisBackend({ target: store.target, brokerId: origin, log: pino({ level: "silent" }), livenessMs: 200 });
    backend.attach(host);
    await backend.start();
    try {
      // Before B runs, a broker "ghost" read B's entries (as a reclaimer of a B it took for dead does) and kept them.
      const stream = `aw:{b:${idB}}:tasks`;
      await admin.xgroup("CREATE", stream, "brokers", "0", "MKSTREAM");
      const n = 5;
      for (let i = 0; i < n; i++) {
        await backend.enqueueRemote({ task_id: `${origin}.t${i}`, capability, input: encodePayload(i), origin_broker: origin, target_broker: idB, timeout_ms: 30_000, attempt: 1 });
      }
      await admin.xreadgroup("GROUP", "brokers", "ghost", "COUNT", n, "STREAMS", stream, ">");
      await using b = await startBroker([...store.join, "--broker-id", idB, "--mesh-liveness-ms", "250"]);
      await using worker = (await Peer.register(b.url, { capabilities: [{ name: capability }] })).serve(Peer.echo);
      await waitFor(() => (results(host).length === n ? true : undefined), 30_000, "every held entry run on B");
      expect(results(host).filter((o) => o.length !== 1 || !o[0]!.ok)).toEqual([]);
      expect(((await admin.xpending(stream, "brokers")) as [number])[0]).toBe(0);
    } finally {
      await backend.close();
      admin.disconnect();
    }
  });
});
