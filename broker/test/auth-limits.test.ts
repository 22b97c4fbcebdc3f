/** Token ACLs [REG-2..4, TOPIC-10, HTTP-1] and the slow-consumer bound [LIMIT-5]. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { BACKENDS, type RunningBroker, registerOn } from "./helpers/backends.js";
import { Peer } from "@agentwire/testkit/peer";

const TOKENS = [
  { token: "admin" },
  { token: "limited", agent_ids: ["lim-*"], capabilities: ["ok.*"], submit: ["ok.*"], publish: ["pub.*"], subscribe: ["sub.>"] },
];

describe.each(BACKENDS)("auth ($name)", (backend) => {
  let broker: RunningBroker;
  const peers: Peer[] = [];
  const track = (p: Peer) => (peers.push(p), p);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "aw-auth-"));
    const file = join(dir, "broker.json");
    writeFileSync(file, JSON.stringify({ auth: { tokens: TOKENS } }));
    broker = await backend.start(["--config", file]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await broker?.stop();
  });

  it.each([[undefined], ["wrong"]])("[REG-3] token %s → unauthorized, close 1008", async (token) => {
    const p = track(await Peer.connect(broker.url));
    p.send(token === undefined ? { type: "register" } : { type: "register", token });
    expect(await p.next("error")).toMatchObject({ code: "unauthorized", fatal: true });
    expect((await p.closed).code).toBe(1008);
  });

  it("[REG-2] the upgrade's bearer token works; a different register.token → unauthorized", async () => {
    const ok = track(await registerOn(broker, {}, { headers: { authorization: "Bearer admin" } }));
    expect(ok.agentId).not.toBe("");
    const p = track(await Peer.connect(broker.url, { headers: { authorization: "Bearer admin" } }));
    p.send({ type: "register", token: "limited" });
    expect(await p.next("error")).toMatchObject({ code: "unauthorized" });
  });

  it.each([
    [{ agent_id: "someone" }],
    [{ agent_id: "lim-1", capabilities: [{ name: "secret" }] }],
  ])("[REG-4] register %j with a token that does not allow it → forbidden, close 1008", async (reg) => {
    const p = track(await Peer.connect(broker.url));
    p.send({ type: "register", token: "limited", ...reg });
    expect(await p.next("error")).toMatchObject({ code: "forbidden", fatal: true });
    expect((await p.closed).code).toBe(1008);
  });

  it("[TASK-2][TOPIC-10] submit, publish and subscribe outside the ACL → forbidden, session survives", async () => {
    const a = track(await registerOn(broker, { token: "limited", agent_id: "lim-agent", capabilities: [{ name: "ok.work" }] }));
    a.serve(Peer.echo);
    a.send({ type: "submit", ref: "s", capability: "other", input: encodePayload(1) });
    expect(await a.next("error")).toMatchObject({ code: "forbidden", ref: "s" });
    a.send({ type: "publish", topic: "news.x", payload: encodePayload(1), ref: "p" });
    expect(await a.next("error")).toMatchObject({ code: "forbidden", ref: "p" });
    a.send({ type: "subscribe", topic: "other.*", ref: "u" });
    expect(await a.next("error")).toMatchObject({ code: "forbidden", ref: "u" });
    // allowed ones work
    const id = await a.submit("ok.work", 1);
    expect(await a.next("result", (r) => r.task_id === id)).toMatchObject({ ok: true });
    a.send({ type: "subscribe", topic: "sub.>", ref: "u2" });
    expect(await a.next("ack")).toMatchObject({ ref: "u2" });
  });

  it("[HTTP-1] HTTP needs a bearer token except /livez and /readyz", async () => {
    expect((await fetch(`${broker.http}/livez`)).status).toBe(200);
    expect((await fetch(`${broker.http}/readyz`)).status).toBe(200);
    const none = await fetch(`${broker.http}/v1/agents`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect((await fetch(`${broker.http}/v1/agents`, { headers: { authorization: "Bearer admin" } })).status).toBe(200);
    const forbidden = await fetch(`${broker.http}/v1/tasks`, {
      method: "POST",
      headers: { authorization: "Bearer limited", "content-type": "application/json" },
      body: JSON.stringify({ capability: "nope", input: 1 }),
    });
    expect(forbidden.status).toBe(403);
  });
});

describe.each(BACKENDS)("limits ($name)", (backend) => {
  it("[LIMIT-5] a consumer that stops reading is dropped when its send buffer passes the bound, its task requeued", async () => {
    await using b = await backend.start(["--send-buffer-bytes", "65536"]);
    await using slow = await registerOn(b, { agent_id: "slow-agent", capabilities: [{ name: "sc" }] });
    await using pub = await registerOn(b);
    const cl = await registerOn(b);
    try {
      const id = await cl.submit("sc", 1);
      await slow.next("task");
      slow.send({ type: "subscribe", topic: "flood", ref: "f" });
      await slow.next("ack");
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stops reading
      const big = encodePayload("x".repeat(256 * 1024));
      let gone = false;
      for (let i = 0; i < 400 && !gone; i++) {
        pub.send({ type: "publish", topic: "flood", payload: big, ref: `p${i}` });
        await pub.next("ack");
        cl.send({ type: "query", ref: `q${i}`, capability: "sc" });
        gone = (await cl.next("agents")).agents.length === 0;
      }
      expect(gone).toBe(true);
      const again = await registerOn(b, { capabilities: [{ name: "sc" }] });
      again.serve(Peer.echo);
      expect(await cl.next("result", (r) => r.task_id === id)).toMatchObject({ ok: true, attempt: 2 });
      await again.close();
    } finally {
      await cl.close();
    }
  });
});
