/**
 * `attach` follows a task accepted earlier [ATT-1, ATT-2]: from another connection of the same broker,
 * from another broker of a mesh, and (with authentication) only for its own token or an admin.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, registerOn, startBroker, type RunningBroker } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe.each(BACKENDS)("attach ($name)", (backend) => {
  let broker: RunningBroker;
  const peers: Peer[] = [];
  let n = 0;
  const track = (p: Peer): Peer => (peers.push(p), p);

  beforeAll(async () => {
    broker = await backend.start();
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
  });

  // Beside conformance broker.task.attach: here the submitter's connection is gone before the attach (TASK-24).
  it("[ATT-1] a second connection follows a running task: accepted (duplicate) with its ref, then the result", async () => {
    const capability = `att.run${++n}`;
    const agent = track(await registerOn(broker, { capabilities: [{ name: capability }] }));
    const first = track(await registerOn(broker));
    const id = await first.submit(capability, "x");
    const task = await agent.next("task");
    await first.close(); // the submitter's connection drops; the task goes on [TASK-24]
    const again = track(await registerOn(broker));
    again.send({ type: "attach", task_id: id, ref: "a1" });
    expect(await again.next("accepted", (f) => f.ref === "a1")).toMatchObject({ task_id: id, duplicate: true });
    agent.send({ type: "result", task_id: id, ok: true, output: encodePayload("done"), attempt: task.attempt });
    const r = await again.next("result", (f) => f.task_id === id);
    expect([r.ref, r.ok, decodePayload(r.output!)]).toEqual(["a1", true, "done"]);
  });

  // Beside conformance broker.task.attach, which attaches only to a running task.
  it("[ATT-1] attaching to an ended task gets its result right after accepted", async () => {
    const capability = `att.ended${++n}`;
    const agent = track(await registerOn(broker, { capabilities: [{ name: capability }] }));
    agent.serve(Peer.echo);
    const c = track(await registerOn(broker));
    const id = await c.submit(capability, 7);
    await c.next("result", (f) => f.task_id === id);
    const other = track(await registerOn(broker));
    other.send({ type: "attach", task_id: id, ref: "a2" });
    await other.next("accepted", (f) => f.ref === "a2");
    const r = await other.next("result", (f) => f.task_id === id);
    expect([r.ref, decodePayload(r.output!)]).toEqual(["a2", 7]);
  });
});

describe("attach with authentication [ATT-2, AUTH-8]", () => {
  it("only the submitting token or an admin follows a task", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agentwire-attach-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ auth: { tokens: [{ token: "alice" }, { token: "bob" }, { token: "root", admin: true }] } }));
    await using b = await startBroker(["--config", config]);
    await using agent = await Peer.register(b.url, { token: "alice", capabilities: [{ name: "att.auth" }] });
    await using alice = await Peer.register(b.url, { token: "alice" });
    const id = await alice.submit("att.auth", 1);
    await agent.next("task");
    await using bob = await Peer.register(b.url, { token: "bob" });
    bob.send({ type: "attach", task_id: id, ref: "b1" });
    expect(await bob.next("error", (f) => f.ref === "b1")).toMatchObject({ code: "unknown_task" });
    await using root = await Peer.register(b.url, { token: "root" });
    root.send({ type: "attach", task_id: id, ref: "r1" });
    expect(await root.next("accepted", (f) => f.ref === "r1")).toMatchObject({ task_id: id, duplicate: true });
  });
});
