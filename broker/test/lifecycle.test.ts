/** The bin: config, help, heartbeat eviction, graceful shutdown [HB-*, SHUT-*, CONN-4]. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "@agentwire/testkit";
import { encodePayload } from "@agentwire/wire";
import { BACKENDS, brokerBin, startBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe("agentwire-broker bin", () => {
  it("--help prints usage and exits 0", async () => {
    const child = run(process.execPath, [brokerBin(), "--help"]);
    expect(await child.exited).toBe(0);
    expect(child.lines[0]).toMatch(/^usage: agentwire-broker/);
    expect(child.lines.join("\n")).toMatch(/--max-frame-bytes/);
  });

  it.each([
    [["--port", "x"], 'agentwire-broker: --port: expected integer 0..65535, got "x"'],
    [["--port", "70000"], 'agentwire-broker: --port: expected integer 0..65535, got "70000"'],
    [["--default-strategy", "random"], /--default-strategy: expected one of round_robin, capability, least_loaded, priority/],
    [["--bogus", "1"], "agentwire-broker: --bogus: unknown option (see --help)"],
    [["--heartbeat-interval-ms", "1000", "--heartbeat-timeout-ms", "1500"], /--heartbeat-timeout-ms: expected at least 2 x heartbeat interval/],
  ] as const)("bad value %j → one line on stderr, exit 2", async (args, message) => {
    const child = run(process.execPath, [brokerBin(), ...args]);
    expect(await child.exited).toBe(2);
    expect(child.lines).toHaveLength(1);
    expect(child.lines[0]).toMatch(typeof message === "string" ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : message);
  });

  it("env AGENTWIRE_* and the config file apply, flags win", async () => {
    const bad = run(process.execPath, [brokerBin()], { env: { ...process.env, AGENTWIRE_MAX_IN_FLIGHT: "zero" } });
    expect(await bad.exited).toBe(2);
    expect(bad.lines[0]).toBe('agentwire-broker: AGENTWIRE_MAX_IN_FLIGHT: expected integer 1..1073741824, got "zero"');

    const dir = mkdtempSync(join(tmpdir(), "aw-config-"));
    const file = join(dir, "broker.json");
    writeFileSync(file, JSON.stringify({ maxInFlight: 7, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 4000 }));
    await using b = await startBroker(["--config", file, "--heartbeat-timeout-ms", "5000"], { env: { AGENTWIRE_HEARTBEAT_INTERVAL_MS: "2000" } });
    await using p = await Peer.connect(b.url);
    p.send({ type: "register" });
    expect(await p.next("registered")).toMatchObject({ max_in_flight: 7, heartbeat_interval_ms: 2000, heartbeat_timeout_ms: 5000 });
  });
});

describe.each(BACKENDS)("heartbeat and shutdown ($name)", (backend) => {
  // Beside conformance broker.hb.eviction: also checks the evicted agent leaves the registry, on every broker of a mesh.
  it("[HB-4] an agent that stops heartbeating is evicted on time and its task requeued", async () => {
    // Short but not razor-thin: the heartbeating peers must survive a busy 2-core machine.
    await using b = await backend.start(["--heartbeat-interval-ms", "250", "--heartbeat-timeout-ms", "1000"]);
    await using watcher = await registerOn(b);
    await using silent = await registerOn(b, { agent_id: "silent", capabilities: [{ name: "hb" }] });
    await using live = await registerOn(b, { agent_id: "live", capabilities: [{ name: "hb" }] });
    // the live agent and the watcher heartbeat; `silent` sends nothing after its task
    const beat = setInterval(() => {
      live.send({ type: "heartbeat", in_flight: 0, capacity: 16, status: "ready" });
      watcher.send({ type: "heartbeat" });
    }, 100);
    try {
      const ids = [await watcher.submit("hb", 1), await watcher.submit("hb", 2)];
      const onSilent = await silent.next("task");
      expect((await silent.closed).code).toBe(1008); // evicted
      const again = await live.next("task", (t) => t.task_id === onSilent.task_id, 5_000);
      expect(again.attempt).toBe(2);
      expect(ids).toContain(onSilent.task_id);
      await b.gone("silent"); // a mesh shares the eviction within milliseconds
      watcher.send({ type: "query", ref: "q", capability: "hb" });
      const agents = await watcher.next("agents");
      expect(agents.agents.map((a) => a.agent_id)).toEqual(["live"]);
    } finally {
      clearInterval(beat);
    }
  });

  it("[CONN-4] a connection that never registers is closed with 1008", async () => {
    await using b = await backend.start(["--heartbeat-interval-ms", "100", "--heartbeat-timeout-ms", "300"]);
    await using p = await Peer.connect(b.url);
    expect((await p.closed).code).toBe(1008);
  });

  it("[SHUT-2][SHUT-3][SHUT-4] SIGTERM: goaway to every session, no new submits, in-flight results still delivered, exit 0", async () => {
    const b = await backend.start(["--shutdown-grace-ms", "10000"]);
    try {
      const agent = await registerOn(b, { capabilities: [{ name: "sd" }] });
      const cl = await registerOn(b);
      const id = await cl.submit("sd", 1);
      const task = await agent.next("task");
      b.child.kill("SIGTERM");
      expect(await cl.next("goaway")).toMatchObject({ grace_ms: 10000 });
      // Only sessions of the stopping broker get goaway; in a mesh the agent is on another broker.
      if (b.agentUrl === b.url) expect(await agent.next("goaway")).toMatchObject({ grace_ms: 10000 });
      cl.send({ type: "submit", ref: "late", capability: "sd", input: encodePayload(2) });
      expect(await cl.next("error")).toMatchObject({ code: "shutting_down", ref: "late" });
      const readyz = await fetch(`${b.http}/readyz`);
      expect(readyz.status).toBe(503);
      agent.send({ type: "result", task_id: task.task_id, ok: true });
      expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: true });
      expect((await cl.closed).code).toBe(1001);
      expect(await b.child.exited).toBe(0);
    } finally {
      await b.stop();
    }
  });

  it("[SHUT-5] tasks still open when the grace period ends get shutting_down, unless another broker of the mesh runs them", async () => {
    const b = await backend.start(["--shutdown-grace-ms", "200"]);
    try {
      const agent = await registerOn(b, { capabilities: [{ name: "sd2" }] });
      const cl = await registerOn(b);
      const id = await cl.submit("sd2", 1, { idempotency_key: "sd2-1" });
      const task = await agent.next("task");
      b.child.kill("SIGTERM");
      if (b.agentUrl === b.url) {
        expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: false, error: { code: "shutting_down" } });
        expect(await b.child.exited).toBe(0);
        return;
      }
      // The agent's broker runs it: the task outlives the client's broker [MESH-7]. The client
      // collects it on another broker with the same idempotency key [MESH-8].
      expect(await b.child.exited).toBe(0);
      expect(cl.takeAll("result")).toEqual([]);
      await using again = await Peer.register(b.agentUrl, {});
      expect(await again.submit("sd2", 1, { idempotency_key: "sd2-1" })).toBe(id);
      agent.send({ type: "result", task_id: id, ok: true, output: task.input, attempt: task.attempt });
      expect(await again.next("result", (r) => r.task_id === id)).toMatchObject({ ok: true });
    } finally {
      await b.stop();
    }
  });
});
