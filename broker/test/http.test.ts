/** HTTP API and metrics on the WebSocket port: SPEC §15. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePayload, encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

describe.each(BACKENDS)("HTTP API ($name)", (backend) => {
  let broker: RunningBroker;
  let agent: Peer;
  const post = (path: string, body: unknown) =>
    fetch(`${broker.http}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

  beforeAll(async () => {
    broker = await backend.start();
    agent = await registerOn(broker, { agent_id: "http-agent", capabilities: [{ name: "h.echo" }, { name: "h.hold" }] });
    agent.serve((task, peer) => {
      if (task.capability !== "h.echo") {
        peer.pending.push(task); // h.hold tasks are left running, for the test to take
        return;
      }
      const input = decodePayload<Record<string, unknown>>(task.input);
      peer.send({ type: "result", task_id: task.task_id, ok: true, output: encodePayload({ got: input, bytes: new Uint8Array([1, 2, 3]) }) });
    });
  });
  afterAll(async () => {
    await agent?.close();
    await broker?.stop();
  });

  // Beside conformance broker.http.tasks: also checks the view's capability, attempt and priority.
  it("[HTTP-8][HTTP-4][HTTP-5] POST /v1/tasks?wait returns the output as JSON (bin as base64)", async () => {
    const res = await post("/v1/tasks?wait=10000", { capability: "h.echo", input: { a: 1, s: "x" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ state: "succeeded", ok: true, output: { got: { a: 1, s: "x" }, bytes: "AQID" } });
    const view = await fetch(`${broker.http}/v1/tasks/${String(body.task_id)}`);
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ task_id: body.task_id, capability: "h.echo", state: "succeeded", attempt: 1, priority: "normal", ok: true });
  });

  // Beside conformance broker.http.tasks: also checks the view of a running task and a ?wait that elapses (202).
  it("[HTTP-7][HTTP-9][HTTP-10] POST without wait → 202; GET shows it running; DELETE cancels it", async () => {
    const res = await post("/v1/tasks", { capability: "h.hold", input: null, priority: "high" });
    expect(res.status).toBe(202);
    const { task_id } = (await res.json()) as { task_id: string };
    await agent.next("task", (t) => t.task_id === task_id);
    expect(await (await fetch(`${broker.http}/v1/tasks/${task_id}`)).json()).toMatchObject({ state: "dispatched", attempt: 1, priority: "high" });
    const del = await fetch(`${broker.http}/v1/tasks/${task_id}`, { method: "DELETE" });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ task_id, state: "cancelled" });
    expect(await agent.next("cancel")).toMatchObject({ task_id });
    const wait = await post("/v1/tasks?wait=100", { capability: "h.hold", input: 1 });
    expect(wait.status).toBe(202); // still running when the wait elapsed
  });

  // Beside conformance broker.http.tasks, which sends no idempotency key.
  it("[HTTP-7] an idempotency key over HTTP returns the first task with duplicate true", async () => {
    const a = (await (await post("/v1/tasks", { capability: "h.echo", input: 1, idempotency_key: "hk" })).json()) as { task_id: string };
    const b = (await (await post("/v1/tasks", { capability: "h.echo", input: 2, idempotency_key: "hk" })).json()) as { task_id: string; duplicate: boolean };
    expect(b).toMatchObject({ task_id: a.task_id, duplicate: true });
  });

  // Beside conformance broker.http.errors (three errors): checks every route's error status and body.
  it("[HTTP-2][HTTP-3] errors carry the registry status and {error:{code,message}}", async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post("/v1/tasks", "{not json"), 400, "bad_frame"],
      [post("/v1/tasks", { capability: 5 }), 400, "bad_frame"],
      [post("/v1/tasks?wait=abc", { capability: "h.echo" }), 400, "bad_frame"],
      [post("/v1/tasks", { capability: "h.none" }), 503, "no_agents"],
      [fetch(`${broker.http}/v1/tasks/nope`), 404, "unknown_task"],
      [fetch(`${broker.http}/v1/tasks/nope`, { method: "DELETE" }), 404, "unknown_task"],
      [fetch(`${broker.http}/v2/anything`), 404, "not_found"],
      [post("/v1/publish/a.*", {}), 400, "bad_frame"],
    ];
    for (const [res, status, code] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect(await r.json()).toMatchObject({ error: { code, message: expect.any(String) } });
    }
  });

  // Beside conformance broker.http.agents-publish: also checks the status filter and an empty answer.
  it("[HTTP-11] GET /v1/agents filters like query", async () => {
    const res = await fetch(`${broker.http}/v1/agents?capability=h.echo&status=ready`);
    const { agents } = (await res.json()) as { agents: { agent_id: string }[] };
    expect(agents.map((a) => a.agent_id)).toEqual(["http-agent"]);
    expect(((await (await fetch(`${broker.http}/v1/agents?capability=zzz`)).json()) as { agents: unknown[] }).agents).toEqual([]);
  });

  // Beside conformance broker.http.health (status, content type): checks the reference broker's metric series.
  it("[HTTP-14] /metrics is Prometheus text with the broker's series", async () => {
    const res = await fetch(`${broker.http}/metrics`);
    expect(res.status).toBe(200);
    // Agent gauges count the broker's own sessions: in a mesh, the agent is on the agents' broker.
    const agents = await (await fetch(`${broker.agentHttp}/metrics`)).text();
    expect(agents).toMatch(/agentwire_agents\{status="ready"\} 1/);
    expect(res.headers.get("content-type")).toMatch(/text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of ["nodejs_heap_size_used_bytes", "process_cpu_seconds_total", "nodejs_eventloop_lag_seconds", "agentwire_connections", "agentwire_agents", "agentwire_tasks", "agentwire_queue_depth", "agentwire_task_latency_seconds_bucket", "agentwire_dispatch_latency_seconds_bucket", "agentwire_errors_total"]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/agentwire_errors_total\{code="no_agents"\} [1-9]/);
  });
});
