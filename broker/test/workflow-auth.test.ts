/**
 * Workflows with authentication on: a run belongs to the token that started it, as a task does
 * [AUTH-8]; its steps are checked against that token's submit list [AUTH-5, WF-17]; a read-only token
 * starts and cancels nothing [AUTH-9].
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePayload } from "@agentwire/wire";
import { startBroker, type BrokerProcess } from "@agentwire/testkit";
import { Peer } from "@agentwire/testkit/peer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TOKENS = [
  { token: "alice", submit: ["wf.*"] },
  { token: "bob", submit: ["wf.*"] },
  { token: "narrow", submit: ["wf.allowed"] },
  { token: "admin", admin: true },
  { token: "viewer", read_only: true },
  { token: "agent", capabilities: ["wf.*"] },
];

let broker: BrokerProcess;
let agent: Peer;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), "aw-wf-auth-")), "broker.json");
  writeFileSync(file, JSON.stringify({ auth: { tokens: TOKENS } }));
  broker = await startBroker(["--config", file]);
  agent = await Peer.register(broker.url, { token: "agent", capabilities: [{ name: "wf.allowed" }, { name: "wf.hold" }] });
});

afterAll(async () => {
  await agent?.close();
  await broker?.stop();
});

const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> => {
  const res = await fetch(`${broker.http}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
};

const hold = { workflow: 1, name: "held", version: "1.0.0", steps: [{ id: "h", capability: "wf.hold" }] };

describe("workflows with authentication", () => {
  it("a run is its token's: another token gets unknown_run, an admin sees it, a read-only token cannot cancel it [AUTH-8, AUTH-9]", async () => {
    const started = await call("POST", "/v1/runs", "alice", { workflow: hold, input: null });
    expect(started.status).toBe(202);
    const runId = started.body.run_id as string;
    const task = await agent.next("task", (t) => t.capability === "wf.hold");
    expect((await call("GET", `/v1/runs/${runId}`, "alice")).status).toBe(200);
    expect(await call("GET", `/v1/runs/${runId}`, "bob")).toMatchObject({ status: 404, body: { error: { code: "unknown_run" } } });
    expect((await call("DELETE", `/v1/runs/${runId}`, "bob")).status).toBe(404);
    expect((await call("GET", "/v1/runs", "bob")).body.runs.map((r: { run_id: string }) => r.run_id)).not.toContain(runId);
    expect((await call("GET", `/v1/runs/${runId}`, "admin")).status).toBe(200);
    expect((await call("GET", "/v1/runs", "viewer")).body.runs.map((r: { run_id: string }) => r.run_id)).toContain(runId);
    expect(await call("DELETE", `/v1/runs/${runId}`, "viewer")).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await call("POST", "/v1/runs", "viewer", { workflow: hold, input: null })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const bob = await Peer.register(broker.url, { token: "bob" });
    bob.send({ type: "run_watch", ref: "w1", run_id: runId });
    expect(await bob.next("error", (e) => e.ref === "w1")).toMatchObject({ code: "unknown_run" });
    await bob.close();
    expect((await call("DELETE", `/v1/runs/${runId}`, "alice")).body.state).toBe("cancelled");
    await agent.next("cancel", (c) => c.task_id === task.task_id);
  });

  it("every step's capability is checked against the starting token's submit list [AUTH-5, WF-17]", async () => {
    const narrow = await Peer.register(broker.url, { token: "narrow" });
    const two = { workflow: 1, name: "two", version: "1.0.0", steps: [{ id: "a", capability: "wf.allowed" }, { id: "b", capability: "wf.hold", after: ["a"] }] };
    narrow.send({ type: "run", ref: "r1", workflow: two, input: encodePayload(null) });
    expect(await narrow.next("error", (e) => e.ref === "r1")).toMatchObject({ code: "forbidden" });
    // Nothing of the run started.
    await agent.expectQuiet(300);
    await narrow.close();
  });
});
