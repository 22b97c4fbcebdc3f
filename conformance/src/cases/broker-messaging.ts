/** Broker cases: direct messages, topics, request/response, query, drain (SPEC §5.10–§12.1). */
import { decodePayload, encodePayload } from "@agentwire/wire";
import { Skip, check, checkEqual, sameBytes, type Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

export const messagingCases: C[] = [
  b({
    id: "broker.msg.direct",
    title: "send delivers one message with from, payload bytes and correlation_id, then ack",
    spec: ["MSG-1", "MSG-2", "MSG-4", "CONN-10"],
    level: "MUST",
    async run(ctx) {
      const a = await ctx.client("sender");
      const target = await ctx.client("target");
      const payload = Buffer.from([0x81, 0xa1, 0x6b, 0xcc, 0x07]);
      const ref = ctx.uniq("m");
      a.peer.send({ type: "send", to: target.registered.agent_id, payload, correlation_id: "corr-1", ref });
      const msg = await target.peer.next("message");
      checkEqual([msg.from, msg.correlation_id, msg.topic], [a.registered.agent_id, "corr-1", undefined], "message [from, correlation_id, topic]");
      check(sameBytes(msg.payload, payload), "message payload changed");
      await a.peer.next("ack", (f) => f.ref === ref);
      a.peer.send({ type: "send", to: a.registered.agent_id, payload: encodePayload("self") });
      await a.peer.next("message", (m) => m.from === a.registered.agent_id, ctx.timeoutMs, "a message sent to oneself");
    },
  }),
  b({
    id: "broker.msg.no-responders",
    title: "send to an agent id nobody holds gets no_responders",
    spec: ["MSG-3"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ref = ctx.uniq("m");
      peer.send({ type: "send", to: ctx.uniq("ghost"), payload: encodePayload(1), ref });
      await ctx.error(peer, "no_responders", ref);
    },
  }),
  b({
    id: "broker.msg.order",
    title: "messages from one session to one target arrive in send order",
    spec: ["MSG-5"],
    level: "MUST",
    async run(ctx) {
      const a = await ctx.client("sender");
      const t = await ctx.client("target");
      for (let i = 0; i < 50; i++) a.peer.send({ type: "send", to: t.registered.agent_id, payload: encodePayload(i), ...(i === 49 ? { ref: "last" } : {}) });
      await a.peer.next("ack", (f) => f.ref === "last");
      await t.peer.next("message", (m) => decodePayload(m.payload) === 49);
      checkEqual(t.peer.all("message").map((m) => decodePayload(m.payload)), Array.from({ length: 50 }, (_, i) => i), "delivery order");
    },
  }),
  b({
    id: "broker.topic.pubsub",
    title: "publish reaches each matching session exactly once, with the topic, publisher included; ack after delivery",
    spec: ["TOPIC-3", "TOPIC-4", "TOPIC-5", "TOPIC-8", "TOPIC-9", "MSG-2", "MSG-7", "TOPIC-7"],
    level: "MUST",
    async run(ctx) {
      const root = ctx.uniq("t");
      const pub = await ctx.client("publisher");
      const sub = await ctx.client("subscriber");
      const other = await ctx.client("other");
      for (const [peer, topics] of [[sub.peer, [`${root}.*`, `${root}.>`, ">"]], [pub.peer, [`${root}.a`]], [other.peer, [`${root}`, `${root}.*.c`]]] as const) {
        for (const topic of topics) {
          const ref = ctx.uniq("sub");
          peer.send({ type: "subscribe", topic, ref });
          await peer.next("ack", (f) => f.ref === ref, ctx.timeoutMs, `ack for subscribe ${topic}`);
        }
      }
      const ref = ctx.uniq("p");
      pub.peer.send({ type: "publish", topic: `${root}.a`, payload: encodePayload("hi"), ref });
      await pub.peer.next("ack", (f) => f.ref === ref);
      const m = await sub.peer.next("message", (f) => f.topic === `${root}.a`);
      checkEqual([m.from, m.correlation_id, m.from_broker, decodePayload(m.payload)], [pub.registered.agent_id, undefined, undefined, "hi"], "message [from, correlation_id, from_broker, payload]");
      await pub.peer.next("message", (f) => f.topic === `${root}.a`, ctx.timeoutMs, "the publisher's own copy");
      for (const s of [sub, pub, other]) await ctx.sync(s.peer);
      checkEqual(sub.peer.all("message", (f) => f.topic === `${root}.a`).length, 1, "copies for a session with three matching patterns");
      checkEqual(other.peer.all("message").length, 0, "messages for non-matching patterns");
      const ref2 = ctx.uniq("p");
      other.peer.send({ type: "publish", topic: `${ctx.uniq("nobody")}.x`, payload: encodePayload(0), ref: ref2 });
      await other.peer.next("ack", (f) => f.ref === ref2, ctx.timeoutMs, "ack for a publish nobody receives");
    },
  }),
  b({
    id: "broker.topic.invalid",
    title: "invalid patterns and wildcard topics are rejected with bad_frame",
    spec: ["TOPIC-1", "TOPIC-2", "TOPIC-7"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      for (const topic of ["a.>.b", "a*.b", "a..b", ""]) {
        const ref = ctx.uniq("sub");
        peer.send({ type: "subscribe", topic, ref });
        await ctx.error(peer, "bad_frame", ref);
      }
      for (const topic of ["a.*", "a.>", "a b"]) {
        const ref = ctx.uniq("p");
        peer.send({ type: "publish", topic, payload: encodePayload(1), ref });
        await ctx.error(peer, "bad_frame", ref);
      }
    },
  }),
  b({
    id: "broker.topic.unsubscribe",
    title: "unsubscribe removes exactly that pattern; unknown patterns are not an error",
    spec: ["TOPIC-6", "CONN-10"],
    level: "MUST",
    async run(ctx) {
      const root = ctx.uniq("t");
      const { peer } = await ctx.client();
      for (const [type, topic] of [["subscribe", `${root}.*`], ["unsubscribe", `${root}.*`], ["unsubscribe", `${root}.none`]] as const) {
        const ref = ctx.uniq("u");
        peer.send({ type, topic, ref });
        await peer.next("ack", (f) => f.ref === ref, ctx.timeoutMs, `ack for ${type} ${topic}`);
      }
      const ref = ctx.uniq("p");
      peer.send({ type: "publish", topic: `${root}.x`, payload: encodePayload(1), ref });
      await peer.next("ack", (f) => f.ref === ref);
      await ctx.sync(peer);
      checkEqual(peer.all("message").length, 0, "messages after unsubscribe");
    },
  }),
  b({
    id: "broker.topic.max-subscriptions",
    title: "a subscribe past the announced max_subscriptions gets overloaded and adds nothing; held patterns and unsubscribe are not refused",
    spec: ["LIMIT-7"],
    level: "MUST",
    async run(ctx) {
      const { peer, registered } = await ctx.client();
      const max = registered.max_subscriptions;
      if (max === undefined) throw new Skip("the broker announces no max_subscriptions");
      if (max > 10_000) throw new Skip(`max_subscriptions is ${max} (> 10000): too many subscribes for a conformance run`);
      const root = ctx.uniq("t");
      const subscribe = async (topic: string, answer: "ack" | "overloaded"): Promise<void> => {
        const ref = ctx.uniq("s");
        peer.send({ type: "subscribe", topic, ref });
        if (answer === "ack") await peer.next("ack", (f) => f.ref === ref, ctx.timeoutMs, `ack for subscribe ${topic}`);
        else await ctx.error(peer, "overloaded", ref);
      };
      // Frames are answered in order: once the last ack is in, every earlier answer is.
      for (let i = 0; i < max - 1; i++) peer.send({ type: "subscribe", topic: `${root}.${i}`, ref: ctx.uniq("s") });
      await subscribe(`${root}.${max - 1}`, "ack");
      checkEqual(peer.all("error").map((e) => e.code), [], `errors answering ${max} subscribes`);
      await subscribe(`${root}.0`, "ack");
      await subscribe(`${root}.over`, "overloaded");
      const ref = ctx.uniq("p");
      peer.send({ type: "publish", topic: `${root}.over`, payload: encodePayload(1), ref });
      await peer.next("ack", (f) => f.ref === ref);
      await ctx.sync(peer);
      checkEqual(peer.all("message").length, 0, "messages on the refused pattern");
      const unsub = ctx.uniq("u");
      peer.send({ type: "unsubscribe", topic: `${root}.0`, ref: unsub });
      await peer.next("ack", (f) => f.ref === unsub);
      await subscribe(`${root}.over`, "ack");
    },
  }),
  b({
    id: "broker.topic.order",
    title: "broadcasts from one publisher to one topic arrive in publish order",
    spec: ["TOPIC-11"],
    level: "MUST",
    async run(ctx) {
      const topic = `${ctx.uniq("t")}.seq`;
      const pub = await ctx.client("publisher");
      const sub = await ctx.client("subscriber");
      sub.peer.send({ type: "subscribe", topic, ref: "s" });
      await sub.peer.next("ack");
      for (let i = 0; i < 50; i++) pub.peer.send({ type: "publish", topic, payload: encodePayload(i) });
      await sub.peer.next("message", (m) => decodePayload(m.payload) === 49);
      checkEqual(sub.peer.all("message").map((m) => decodePayload(m.payload)), Array.from({ length: 50 }, (_, i) => i), "broadcast order");
    },
  }),
  b({
    id: "broker.req.roundtrip",
    title: "request by capability is forwarded with the broker's id, to, from, deadline, remaining_ms; the response comes back with the caller's id",
    spec: ["REQ-1", "REQ-2", "REQ-3", "REQ-5", "REQ-9", "REQ-10", "REQ-11", "REQ-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const target = await ctx.agent([cap]);
      const caller = await ctx.client("caller");
      const payload = Buffer.from([0x81, 0xa1, 0x71, 0xcc, 0x02]);
      const before = Date.now();
      const sent = performance.now();
      caller.peer.send({ type: "request", id: "req-1", capability: cap, payload, timeout_ms: 8_000, deadline: 1, from: "forged", remaining_ms: 1 });
      const fwd = await target.peer.next("request");
      const inTransit = performance.now() - sent;
      // Time left, on the broker's clock, cannot be less than the timeout less what passed meanwhile (v1.1).
      check(fwd.remaining_ms !== undefined && fwd.remaining_ms <= 8_000 && fwd.remaining_ms >= 8_000 - inTransit - 50, `forwarded remaining_ms ${fwd.remaining_ms} is not 8000 less the ${Math.round(inTransit)} ms in transit`);
      checkEqual([fwd.to, fwd.from, fwd.capability, fwd.timeout_ms], [target.registered.agent_id, caller.registered.agent_id, undefined, undefined], "forwarded [to, from, capability, timeout_ms]");
      check(sameBytes(fwd.payload, payload), "request payload changed");
      check(fwd.deadline !== undefined && fwd.deadline >= before + 8_000 - 1_000 && fwd.deadline <= Date.now() + 8_000 + 1_000, `forwarded deadline ${fwd.deadline} is not receipt + timeout_ms`);
      const out = Buffer.from([0x92, 0xcc, 0x01, 0x02]);
      target.peer.send({ type: "response", id: fwd.id, payload: out });
      const resp = await caller.peer.next("response", (r) => r.id === "req-1");
      check(resp.ok !== false && resp.error === undefined, `response failed: ${resp.error?.code}`);
      check(sameBytes(resp.payload, out), "response payload changed");
      caller.peer.send({ type: "request", id: "req-2", to: target.registered.agent_id, payload });
      const fwd2 = await target.peer.next("request");
      target.peer.send({ type: "response", id: fwd2.id, ok: false, error: { code: "nope", message: "declined" } });
      const resp2 = await caller.peer.next("response", (r) => r.id === "req-2");
      checkEqual([resp2.ok, resp2.error?.code], [false, "nope"], "failed response [ok, error.code]");
    },
  }),
  b({
    id: "broker.req.no-responders",
    title: "a request nobody can receive is answered at once with no_responders",
    spec: ["REQ-6"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      peer.send({ type: "request", id: "r1", capability: ctx.uniq("nobody"), payload: encodePayload(1) });
      const r1 = await peer.next("response", (r) => r.id === "r1");
      checkEqual([r1.ok, r1.error?.code], [false, "no_responders"], "response [ok, error.code]");
      peer.send({ type: "request", id: "r2", to: ctx.uniq("ghost"), payload: encodePayload(1) });
      const r2 = await peer.next("response", (r) => r.id === "r2");
      checkEqual([r2.ok, r2.error?.code], [false, "no_responders"], "response [ok, error.code]");
    },
  }),
  b({
    id: "broker.req.invalid",
    title: "a request with both or neither of to and capability gets bad_frame with ref = id",
    spec: ["REQ-1", "REQ-7"],
    level: "MUST",
    async run(ctx) {
      const { peer, registered } = await ctx.client();
      peer.send({ type: "request", id: "both", to: registered.agent_id, capability: "x", payload: encodePayload(1) });
      await ctx.error(peer, "bad_frame", "both");
      peer.send({ type: "request", id: "neither", payload: encodePayload(1) });
      await ctx.error(peer, "bad_frame", "neither");
    },
  }),
  b({
    id: "broker.req.timeout",
    title: "no response by the deadline gives timeout; a late response is dropped without error",
    spec: ["REQ-12", "REQ-14"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const target = await ctx.agent([cap]);
      const caller = await ctx.client("caller");
      caller.peer.send({ type: "request", id: "slow", capability: cap, payload: encodePayload(1), timeout_ms: 300 });
      const fwd = await target.peer.next("request");
      const resp = await caller.peer.next("response", (r) => r.id === "slow", 300 + ctx.timeoutMs);
      checkEqual([resp.ok, resp.error?.code], [false, "timeout"], "response [ok, error.code]");
      target.peer.send({ type: "response", id: fwd.id, payload: encodePayload("late") });
      target.peer.send({ type: "response", id: ctx.uniq("foreign"), payload: encodePayload("unknown") });
      await ctx.sync(target.peer);
      await ctx.sync(caller.peer);
      check(target.peer.all("error").length === 0, "a late or unknown response was answered with error");
      checkEqual(caller.peer.all("response", (r) => r.id === "slow").length, 1, "responses for one request");
    },
  }),
  b({
    id: "broker.req.target-gone",
    title: "when the target's session ends the pending request fails with no_responders",
    spec: ["REQ-13", "CONN-11"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const target = await ctx.agent([cap]);
      const caller = await ctx.client("caller");
      caller.peer.send({ type: "request", id: "gone", capability: cap, payload: encodePayload(1), timeout_ms: 30_000 });
      await target.peer.next("request");
      await target.peer.close();
      const resp = await caller.peer.next("response", (r) => r.id === "gone");
      checkEqual([resp.ok, resp.error?.code], [false, "no_responders"], "response [ok, error.code]");
    },
  }),
  b({
    id: "broker.req.duplicate-id",
    title: "reusing the id of a pending request gets bad_frame and keeps the pending one",
    spec: ["REQ-8"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const target = await ctx.agent([cap]);
      const caller = await ctx.client("caller");
      caller.peer.send({ type: "request", id: "dup", capability: cap, payload: encodePayload(1) });
      const fwd = await target.peer.next("request");
      caller.peer.send({ type: "request", id: "dup", capability: cap, payload: encodePayload(2) });
      await ctx.error(caller.peer, "bad_frame", "dup");
      target.peer.send({ type: "response", id: fwd.id, payload: encodePayload("first") });
      const resp = await caller.peer.next("response", (r) => r.id === "dup");
      checkEqual(decodePayload(resp.payload!), "first", "response payload");
    },
  }),
  b({
    id: "broker.query.filters",
    title: "query lists matching agents (never clients) with status, in_flight and capabilities as registered",
    spec: ["QUERY-1", "QUERY-2", "QUERY-3", "QUERY-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const tag = ctx.uniq("tag");
      const a = await ctx.agent([{ name: cap, version: "1.2.3", tags: [tag] }], { capacity: 3, tier: 2, tags: ["blue"], name: "alpha" }, "a");
      const b2 = await ctx.agent([cap], { tags: ["red"] }, "b");
      const { peer: client } = await ctx.client();
      const list = async (filters: Record<string, unknown>): Promise<string[]> => {
        const ref = ctx.uniq("q");
        client.send({ type: "query", ref, capability: cap, ...filters });
        const ans = await client.next("agents", (f) => f.ref === ref);
        return ans.agents.map((x) => x.agent_id).sort();
      };
      checkEqual(await list({}), [a.registered.agent_id, b2.registered.agent_id].sort(), "agents offering the capability");
      checkEqual(await list({ tags: [tag] }), [a.registered.agent_id], "agents with a capability tag");
      checkEqual(await list({ tags: ["red"] }), [b2.registered.agent_id], "agents with an agent tag");
      const { task_id } = await ctx.submit(client, cap, null);
      // Whichever agent gets it: at once on one broker; after the hand-over to the agents' broker of a mesh (MESH-2).
      const holder = await Promise.any([a, b2].map(async (s) => (await s.peer.next("task", (t) => t.task_id === task_id, ctx.timeoutMs, `task ${task_id} on either agent`), s))).catch((e: AggregateError) => {
        throw e.errors[0];
      });
      // A query on another broker of a mesh answers from what that broker has seen so far (MESH-1).
      if (ctx.acrossBrokers) await ctx.seen(holder.registered.agent_id, cap, { in_flight: 1 });
      const ref = ctx.uniq("q");
      client.send({ type: "query", ref, capability: cap });
      const ans = await client.next("agents", (f) => f.ref === ref);
      const info = ans.agents.find((x) => x.agent_id === holder.registered.agent_id);
      check(info !== undefined, "the busy agent is not listed");
      checkEqual(info.in_flight, 1, `in_flight of the agent holding ${task_id}`);
      const alpha = ans.agents.find((x) => x.agent_id === a.registered.agent_id);
      checkEqual([alpha?.name, alpha?.capacity, alpha?.tier, alpha?.tags, alpha?.capabilities[0]?.version], ["alpha", 3, 2, ["blue"], "1.2.3"], "AgentInfo [name, capacity, tier, tags, version]");
      const all = ctx.uniq("q");
      client.send({ type: "query", ref: all });
      const everyone = await client.next("agents", (f) => f.ref === all);
      check(everyone.agents.every((x) => x.capabilities.length > 0), "a client (no capabilities) was listed");
    },
  }),
  b({
    id: "broker.query.invalid",
    title: "an invalid query gets bad_frame with ref = query.ref",
    spec: ["QUERY-6"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      peer.send({ type: "query", ref: "bad-q", status: "sleeping" });
      await ctx.error(peer, "bad_frame", "bad-q");
    },
  }),
  b({
    id: "broker.drain",
    title: "drain is acked (also twice), stops new tasks, keeps status draining; held tasks still finish",
    spec: ["DRAIN-1", "DRAIN-2", "DRAIN-3", "DRAIN-6", "HB-6", "HB-7", "QUERY-3", "TASK-2"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap]);
      const { peer: client } = await ctx.client();
      const held = await ctx.submit(client, cap, "held");
      await agent.peer.next("task", (t) => t.task_id === held.task_id);
      agent.peer.send({ type: "drain", ref: "d1" });
      await agent.peer.next("ack", (f) => f.ref === "d1");
      agent.peer.send({ type: "drain", ref: "d2" });
      await agent.peer.next("ack", (f) => f.ref === "d2", ctx.timeoutMs, "ack for a second drain");
      agent.peer.send({ type: "heartbeat", in_flight: 1, capacity: 16, status: "ready" });
      // The client's broker routes by what it has seen of another broker's agent (MESH-1).
      if (ctx.acrossBrokers) await ctx.seen(agent.registered.agent_id, cap, { status: "draining" });
      const ref = ctx.uniq("s");
      client.send({ type: "submit", ref, capability: cap, input: encodePayload(null) });
      await ctx.error(client, "no_agents", ref);
      const q = ctx.uniq("q");
      client.send({ type: "query", ref: q, capability: cap });
      const ans = await client.next("agents", (f) => f.ref === q);
      checkEqual(ans.agents[0]?.status, "draining", "status of a draining agent after a ready heartbeat");
      agent.peer.send({ type: "result", task_id: held.task_id, ok: true, output: encodePayload("finished") });
      const result = await client.next("result", (r) => r.task_id === held.task_id);
      checkEqual(result.ok, true, "result of the task held while draining");
      await ctx.sync(agent.peer);
      checkEqual(agent.peer.all("task").length, 1, "tasks dispatched to the draining agent");
    },
  }),
  b({
    id: "broker.drain.heartbeat-status",
    title: "a heartbeat with status draining acts as drain: queued tasks wait for another agent",
    spec: ["HB-6", "DRAIN-2", "DRAIN-6"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const agent = await ctx.agent([cap], { capacity: 1 });
      const { peer: client } = await ctx.client();
      const t1 = await ctx.submit(client, cap, 1);
      await agent.peer.next("task", (t) => t.task_id === t1.task_id);
      const t2 = await ctx.submit(client, cap, 2);
      agent.peer.startHeartbeat(100, () => ({ in_flight: 1, capacity: 1, status: "draining" }));
      agent.peer.send({ type: "heartbeat", in_flight: 1, capacity: 1, status: "draining" });
      agent.peer.send({ type: "result", task_id: t1.task_id, ok: true });
      await client.next("result", (r) => r.task_id === t1.task_id);
      await ctx.sync(agent.peer);
      check(agent.peer.all("task", (t) => t.task_id === t2.task_id).length === 0, "a queued task went to the draining agent");
      const fresh = await ctx.agent([cap], {}, "fresh");
      await fresh.peer.next("task", (t) => t.task_id === t2.task_id, ctx.timeoutMs, "the queued task on a new agent");
    },
  }),
];
