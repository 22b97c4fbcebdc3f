/**
 * Mesh metrics in /metrics (stream length, processing list, response keys, swept keys) and the
 * periodic sweep of keys dead brokers left behind.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { startRedis, waitFor } from "@agentwire/testkit";
import { originHost } from "./helpers/origin-host.js";
import { RedisBackend } from "../src/redis/redis-backend.js";
import { startBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

async function metric(http: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

it("mesh metrics move and the sweep removes a dead broker's orphaned keys", async () => {
  await using redis = await startRedis();
  const admin = new Redis(redis.url);
  const run = randomBytes(3).toString("hex");
  const [idA, origin, capability] = [`a-${run}`, `o-${run}`, `hold-${run}`];
  await using a = await startBroker(["--redis", redis.url, "--broker-id", idA, "--mesh-sweep-ms", "200"]);
  const holder = await Peer.register(a.url, { capabilities: [{ name: capability }] }); // never answers
  const host = originHost(origin);
  const backend = new RedisBackend({ target: { url: redis.url, cluster: "" }, brokerId: origin, log: pino({ level: "silent" }), livenessMs: 200 });
  backend.attach(host);
  await backend.start();
  try {
    expect(await metric(a.http, "agentwire_mesh_processing")).toBe(0);
    expect(await metric(a.http, "agentwire_mesh_response_keys")).toBe(0);
    expect(await metric(a.http, "agentwire_mesh_reclaimed_tasks_total")).toBe(0);
    for (let i = 0; i < 3; i++) {
      await backend.enqueueRemote({ task_id: `${origin}.t${i}`, capability, input: encodePayload(i), origin_broker: origin, target_broker: idA, timeout_ms: 30_000, attempt: 1 });
    }
    await holder.next("task");
    await waitFor(async () => ((await metric(a.http, "agentwire_mesh_processing")) === 3 ? true : undefined), 10_000, "processing = 3");
    expect(await metric(a.http, "agentwire_mesh_task_stream_length")).toBe(3);

    // Response keys under A's tag are counted by the sweep.
    await admin.set(`aw:{b:${idA}}:response:x1`, "r", "PX", 60_000);
    await admin.set(`aw:{b:${idA}}:response:x2`, "r", "PX", 60_000);
    await waitFor(async () => ((await metric(a.http, "agentwire_mesh_response_keys")) === 2 ? true : undefined), 10_000, "response keys = 2");

    // Orphans: the ready list of a broker long gone, and a stream XADDed to a broker out of the membership.
    const ghostReady = `aw:{b:ghost-${run}}:ready`;
    const ghostStream = `aw:{b:ghost2-${run}}:tasks`;
    await admin.lpush(ghostReady, "t1", '{"k":"cancel"}');
    await admin.xadd(ghostStream, "*", "junk", "1");
    // A live broker's ready list is never touched, nor the response key of a dead origin (TTL decides).
    await admin.lpush(`aw:{b:${origin}}:ready`, '{"k":"noop"}');
    await admin.set(`aw:{b:ghost-${run}}:response:t1`, "r", "PX", 60_000);
    await waitFor(async () => ((await admin.exists(ghostReady, ghostStream)) === 0 ? true : undefined), 10_000, "orphans swept");
    expect(await admin.exists(`aw:{b:ghost-${run}}:response:t1`)).toBe(1);
    expect(await admin.zscore("aw:{mesh}:brokers", `ghost2-${run}`)).toBeNull();
    expect(await metric(a.http, "agentwire_mesh_swept_keys_total")).toBeGreaterThanOrEqual(1);
  } finally {
    await backend.close();
    admin.disconnect();
    await holder.close().catch(() => undefined);
  }
});
