/** Many clients, many agents, every result delivered exactly once [TASK-19]. */
import { describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { BACKENDS, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const CLIENTS = 200;
const AGENTS = 20;
const PER_CLIENT = 100; // 20k tasks

describe.each(BACKENDS)("load ($name)", (backend) => {
  it(`${CLIENTS} concurrent clients and ${AGENTS} agents exchange ${CLIENTS * PER_CLIENT} tasks, each result delivered once`, async () => {
    // The peers never heartbeat: a timeout well past the run keeps a slow machine (or a slow
    // backend: the mesh on Redis Cluster takes about 1.6 x the standalone mesh's time here) from
    // evicting them mid-run, which is not what this test is about.
    await using broker = await backend.start(["--heartbeat-timeout-ms", "120000"]);
    const agents = await Promise.all(
      Array.from({ length: AGENTS }, () => registerOn(broker, { capabilities: [{ name: "load" }], capacity: 32 })),
    );
    for (const a of agents) a.serve(Peer.echo);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => registerOn(broker)));
    const resultsPerTask = new Map<string, number>();
    const input = encodePayload({ n: 1 });
    try {
      await Promise.all(
        clients.map(async (c, ci) => {
          // A deadline well past the run as well: on a busy machine the Cluster mesh can take most of
          // the default task timeout for these 20,000 tasks, and deadlines are not what this test is about.
          for (let i = 0; i < PER_CLIENT; i++) c.send({ type: "submit", ref: `c${ci}-${i}`, capability: "load", input, timeout_ms: 110_000 });
          const accepted = new Set<string>();
          for (let i = 0; i < PER_CLIENT; i++) accepted.add((await c.next("accepted", () => true, 30_000)).task_id);
          for (let i = 0; i < PER_CLIENT; i++) {
            const r = await c.next("result", () => true, 30_000);
            expect(r.ok ? "ok" : `${r.error?.code}: ${r.error?.message}`).toBe("ok");
            expect(accepted.has(r.task_id)).toBe(true);
            resultsPerTask.set(r.task_id, (resultsPerTask.get(r.task_id) ?? 0) + 1);
          }
        }),
      );
      expect(resultsPerTask.size).toBe(CLIENTS * PER_CLIENT);
      expect([...resultsPerTask.values()].every((n) => n === 1)).toBe(true);
      // nothing more arrives: each client's next frame is the answer to its own query
      await Promise.all(clients.slice(0, 20).map((c) => c.expectQuiet()));
    } finally {
      await Promise.all([...agents, ...clients].map((p) => p.close()));
    }
  }, 120_000);
});
