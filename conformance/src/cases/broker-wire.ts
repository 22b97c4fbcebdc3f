/** Broker cases: transport, encoding, connection state, register (SPEC §2–§5.2). */
import { CLOSE_CODES, LIMITS, SUBPROTOCOL, encodePayload } from "@agentwire/wire";
import { check, within, type Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";
import type { Peer } from "@agentwire/testkit/peer";
import { raw, rawMap, nested } from "./raw.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

export const wireCases: C[] = [
  b({
    id: "broker.trans.subprotocol",
    title: "upgrade on / with agentwire.v1 selects the subprotocol",
    spec: ["TRANS-1", "TRANS-2", "TRANS-4", "VER-3"],
    level: "MUST",
    async run(ctx) {
      const url = new URL(ctx.url);
      url.pathname = "/";
      const peer = await ctx.connect({}, "peer", url.toString());
      check(peer.ws.protocol === SUBPROTOCOL, `selected subprotocol is ${JSON.stringify(peer.ws.protocol)}, not ${SUBPROTOCOL}`);
      const multi = await ctx.connect({ protocols: ["agentwire.v999", SUBPROTOCOL, "x-other"] }, "multi");
      check(multi.ws.protocol === SUBPROTOCOL, `offered v999 and v1, the broker selected ${JSON.stringify(multi.ws.protocol)}`);
    },
  }),
  b({
    id: "broker.trans.no-subprotocol",
    title: "a connection without agentwire.v1 is refused (HTTP 400) or closed with 1002",
    spec: ["TRANS-3"],
    level: "MUST",
    async run(ctx) {
      let peer: Peer;
      try {
        peer = await ctx.connect({ protocols: [] }, "no-subprotocol");
      } catch (err) {
        const status = (err as { status?: number }).status;
        check(status !== undefined, `upgrade failed without an HTTP answer: ${(err as Error).message}`);
        return;
      }
      peer.send({ type: "register" });
      const closed = await peer.closedWithin(ctx.timeoutMs);
      check(closed.code === CLOSE_CODES.protocolError, `closed with ${closed.code}, expected 1002`);
      check(peer.all("registered").length === 0, "broker ran a session (sent registered) without the subprotocol");
    },
  }),
  b({
    id: "broker.trans.text-message",
    title: "a text message is answered bad_frame and the connection stays open",
    spec: ["TRANS-7", "TRANS-6"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      peer.sendRaw('{"type":"heartbeat"}');
      await ctx.error(peer, "bad_frame");
      await ctx.sync(peer);
    },
  }),
  b({
    id: "broker.trans.ping",
    title: "WebSocket Ping is answered with Pong",
    spec: ["TRANS-9"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const pong = new Promise<void>((resolve) => peer.ws.once("pong", () => resolve()));
      peer.ws.ping(Buffer.from("cf"));
      await within(pong, ctx.timeoutMs, "expected a pong");
    },
  }),
  b({
    id: "broker.enc.not-a-map",
    title: "a message that is not one map with a str type is answered bad_frame",
    spec: ["ENC-1"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      for (const bytes of [Buffer.from([0x92, 0x01, 0x02]), rawMap([["ref", "x"]]), rawMap([["type", 7]]), Buffer.concat([Buffer.from(rawMap([["type", "heartbeat"]])), Buffer.from([0x01])]), Buffer.from([0x85, 0xa4])]) {
        peer.sendRaw(bytes);
        await ctx.error(peer, "bad_frame");
      }
      await ctx.sync(peer);
    },
  }),
  b({
    id: "broker.enc.forbidden-types",
    title: "extension types and 0xc1 are rejected with bad_frame",
    spec: ["ENC-2"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ts = raw(0xd6, 0xff, 0x00, 0x00, 0x00, 0x01); // timestamp 32
      for (const value of [ts, raw(0xd4, 0x01, 0x00), raw(0xc7, 0x01, 0x05, 0x00), raw(0xc1)]) {
        const ref = ctx.uniq("q");
        peer.sendRaw(rawMap([["type", "query"], ["ref", ref], ["x-value", value]]));
        await ctx.error(peer, "bad_frame");
      }
      check(peer.all("agents").length === 0, "a query carrying a forbidden type was answered with agents");
    },
  }),
  b({
    id: "broker.enc.int-range",
    title: "ints outside ±(2^53−1) and floats in int fields are rejected with bad_frame",
    spec: ["ENC-3", "ENC-17"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const big = raw(0xcf, Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 0])); // 2^56
      peer.sendRaw(rawMap([["type", "query"], ["ref", ctx.uniq("q")], ["x-big", big]]));
      await ctx.error(peer, "bad_frame");
      const f = raw(0xcb, Buffer.from([0x3f, 0xf8, 0, 0, 0, 0, 0, 0])); // 1.5
      peer.sendRaw(rawMap([["type", "heartbeat"], ["in_flight", f]]));
      await ctx.error(peer, "bad_frame");
    },
  }),
  b({
    id: "broker.enc.int-widths",
    title: "an int is accepted in any width and either 64-bit form, int 64 or uint 64",
    spec: ["ENC-3", "ENC-19"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      // A submit nobody can run: no_agents, not bad_frame, shows its ints were read.
      const ref = ctx.uniq("s");
      const int64 = raw(0xd3, Buffer.from([0, 0, 0, 0, 0, 0, 0x13, 0x88])); // 5000
      const uint64 = raw(0xcf, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x02])); // 2
      peer.sendRaw(rawMap([["type", "submit"], ["ref", ref], ["capability", ctx.uniq("nobody")], ["input", raw(0xc4, 0x01, 0xc0)], ["timeout_ms", int64], ["max_attempts", uint64]]));
      await ctx.error(peer, "no_agents", ref);
    },
  }),
  b({
    id: "broker.enc.utf8-and-keys",
    title: "invalid UTF-8 and non-str map keys are rejected with bad_frame",
    spec: ["ENC-4"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      peer.sendRaw(rawMap([["type", "query"], ["ref", ctx.uniq("q")], ["capability", raw(0xa2, 0xc3, 0x28)]]));
      await ctx.error(peer, "bad_frame");
      const e = (v: unknown): Buffer => Buffer.from(encodePayload(v));
      const intKey = Buffer.concat([Buffer.from([0x83]), e("type"), e("query"), e("ref"), e(ctx.uniq("q")), Buffer.from([0x07, 0x01])]);
      peer.sendRaw(intKey);
      await ctx.error(peer, "bad_frame");
      check(peer.all("agents").length === 0, "a malformed query was answered");
    },
  }),
  b({
    id: "broker.enc.depth",
    title: "16 levels of nesting are accepted, 17 rejected with bad_frame",
    spec: ["ENC-5", "ENC-10"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ok = ctx.uniq("q");
      peer.sendRaw(rawMap([["type", "query"], ["ref", ok], ["capability", ctx.uniq("none")], ["x-deep", nested(LIMITS.maxDepth - 1)]]));
      await peer.next("agents", (f) => f.ref === ok, ctx.timeoutMs, "agents for a query nested 16 levels deep");
      peer.sendRaw(rawMap([["type", "query"], ["ref", ctx.uniq("q")], ["x-deep", nested(LIMITS.maxDepth)]]));
      await ctx.error(peer, "bad_frame");
    },
  }),
  b({
    id: "broker.enc.ids",
    title: "ids with spaces or over 256 bytes are rejected with bad_frame",
    spec: ["ENC-6", "ENC-15"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      peer.send({ type: "query", ref: "has space" });
      await ctx.error(peer, "bad_frame");
      peer.send({ type: "query", ref: "r".repeat(257) });
      await ctx.error(peer, "bad_frame");
    },
  }),
  b({
    id: "broker.enc.bad-frame-details",
    title: "a frame violating its field table gets bad_frame with ref, details.type and details.path, and has no effect",
    spec: ["ENC-15", "ERR-3", "ERR-8", "ERR-9"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const cap = ctx.uniq("cap");
      await ctx.agent([cap]);
      const ref = ctx.uniq("s");
      peer.send({ type: "submit", ref, capability: cap, input: encodePayload(1), priority: "urgent" });
      const err = await ctx.error(peer, "bad_frame", ref);
      check(err.details?.type === "submit", `details.type is ${JSON.stringify(err.details?.type)}, expected "submit"`);
      check(err.details?.path === "priority", `details.path is ${JSON.stringify(err.details?.path)}, expected "priority"`);
      check(err.fatal !== true, "bad_frame must not be fatal");
      await ctx.sync(peer);
      check(peer.all("accepted").length === 0, "the invalid submit created a task");
    },
  }),
  b({
    id: "broker.enc.bool",
    title: "an int where a bool is required is rejected with bad_frame",
    spec: ["ENC-16", "ENC-15"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const id = ctx.uniq("r");
      peer.send({ type: "response", id, ok: 1 });
      await ctx.error(peer, "bad_frame", id);
    },
  }),
  b({
    id: "broker.enc.nil-absent",
    title: "a nil top-level optional field counts as absent; nil inside Capability is bad_frame",
    spec: ["ENC-12"],
    level: "MUST",
    async run(ctx) {
      const peer = await ctx.connect({}, "agent");
      peer.sendRaw(rawMap([["type", "register"], ["capabilities", [{ name: ctx.uniq("cap"), version: null }]]]));
      await ctx.error(peer, "bad_frame");
      peer.sendRaw(rawMap([["type", "register"], ["name", null], ["capacity", null]]));
      await peer.next("registered", () => true, ctx.timeoutMs, "registered for a register with nil optional fields");
    },
  }),
  b({
    id: "broker.enc.unknown-keys",
    title: "unknown keys in frames and nested maps are ignored",
    spec: ["ENC-10", "VER-4"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const { peer } = await ctx.register({ capabilities: [{ name: cap, "x-extra": 1 }], "x-hello": { a: [1] } }, "agent");
      const ref = ctx.uniq("q");
      peer.send({ type: "query", ref, capability: cap, "x-more": "yes" });
      const agents = await peer.next("agents", (f) => f.ref === ref, ctx.timeoutMs);
      check(agents.agents.length === 1, `query listed ${agents.agents.length} agents, expected 1`);
    },
  }),
  b({
    id: "broker.enc.unknown-type",
    title: "unknown frame types and broker→peer types are answered unknown_type; the connection stays",
    spec: ["ENC-11", "CONN-3", "ERR-5"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ref = ctx.uniq("u");
      peer.send({ type: "x-conformance-probe", ref });
      await ctx.error(peer, "unknown_type", ref);
      peer.send({ type: "accepted", ref: ctx.uniq("u"), task_id: "t" });
      await ctx.error(peer, "unknown_type");
      await ctx.sync(peer);
    },
  }),
  b({
    id: "broker.enc.frame-too-large",
    title: "a message over max_frame_bytes gets fatal frame_too_large, then close 1009",
    spec: ["ENC-8", "ERR-6", "TRANS-8"],
    level: "MUST",
    async run(ctx) {
      const { peer, registered } = await ctx.client();
      check(registered.max_frame_bytes <= 64 << 20, `max_frame_bytes ${registered.max_frame_bytes} is too large to test`);
      const pad = Buffer.alloc(registered.max_frame_bytes, 0x61);
      peer.sendRaw(rawMap([["type", "heartbeat"], ["x-pad", raw(0xc6, Buffer.from([pad.length >>> 24, (pad.length >>> 16) & 255, (pad.length >>> 8) & 255, pad.length & 255]), pad)]]));
      const err = await ctx.error(peer, "frame_too_large");
      check(err.fatal === true, "frame_too_large error does not carry fatal: true");
      const closed = await peer.closedWithin(ctx.timeoutMs);
      check(closed.code === CLOSE_CODES.tooBig, `closed with ${closed.code}, expected 1009`);
    },
  }),
  b({
    id: "broker.conn.not-registered",
    title: "frames before register get not_registered; the broker sends nothing but registered/error meanwhile",
    spec: ["CONN-1", "CONN-6", "CONN-8", "REG-10"],
    level: "MUST",
    async run(ctx) {
      const peer = await ctx.connect({}, "early");
      const ref = ctx.uniq("q");
      peer.send({ type: "query", ref });
      await ctx.error(peer, "not_registered", ref);
      peer.send({ type: "subscribe", topic: "cf.x", ref: ctx.uniq("sub") });
      await ctx.error(peer, "not_registered");
      peer.send({ type: "register" });
      const reg = await peer.next("registered");
      check(reg.protocol === 1, `registered.protocol is ${reg.protocol}`);
      check(peer.received.every((f) => f.type === "registered" || f.type === "error"), `broker sent ${peer.received.map((f) => f.type).join(",")} before registered`);
    },
  }),
  b({
    id: "broker.conn.already-registered",
    title: "a second register is answered already_registered and changes nothing",
    spec: ["CONN-5", "CONN-8"],
    level: "MUST",
    async run(ctx) {
      const { peer, registered } = await ctx.client();
      peer.send({ type: "register", name: "again" });
      await ctx.error(peer, "already_registered");
      await ctx.sync(peer);
      check(peer.all("registered").length === 1, "a second registered was sent");
      check(registered.agent_id.length > 0, "empty agent id");
    },
  }),
  b({
    id: "broker.conn.ack",
    title: "a frame with ref that succeeds gets exactly one ack with that ref",
    spec: ["CONN-10", "CONN-12", "TOPIC-5"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const ref = ctx.uniq("sub");
      peer.send({ type: "subscribe", topic: `${ctx.uniq("t")}.x`, ref });
      await peer.next("ack", (f) => f.ref === ref);
      peer.send({ type: "heartbeat" });
      await ctx.sync(peer);
      check(peer.all("ack").length === 1, `got ${peer.all("ack").length} acks for one frame`);
      check(peer.all("error").length === 0, "a successful frame without ref was answered with error");
    },
  }),
  b({
    id: "broker.conn.order",
    title: "frames of one session are processed and answered in order",
    spec: ["CONN-7"],
    level: "MUST",
    async run(ctx) {
      const { peer } = await ctx.client();
      const topic = `${ctx.uniq("t")}.order`;
      const refs = Array.from({ length: 30 }, (_, i) => `${ctx.uniq("o")}-${i}`);
      for (const ref of refs) peer.send(ref.endsWith("7") ? { type: "query", ref } : { type: "publish", topic, payload: encodePayload(ref), ref });
      await peer.next("ack", (f) => f.ref === refs.at(-1));
      const seen = peer.received.filter((f) => (f.type === "ack" || f.type === "agents") && refs.includes(f.ref)).map((f) => (f as { ref: string }).ref);
      check(JSON.stringify(seen) === JSON.stringify(refs), `answers came in order ${seen.join(",")}`);
    },
  }),
  b({
    id: "broker.reg.registered",
    title: "registered carries protocol 1, ids and valid limits",
    spec: ["REG-10", "REG-12", "REG-11"],
    level: "MUST",
    async run(ctx) {
      const a = await ctx.client();
      const b2 = await ctx.client();
      for (const { registered: r } of [a, b2]) {
        check(r.protocol === 1, `protocol ${r.protocol}`);
        check(r.max_frame_bytes >= LIMITS.minFrameBytes, `max_frame_bytes ${r.max_frame_bytes} < 65536`);
        check(r.heartbeat_timeout_ms >= 2 * r.heartbeat_interval_ms, `heartbeat_timeout_ms ${r.heartbeat_timeout_ms} < 2 × ${r.heartbeat_interval_ms}`);
      }
      check(a.registered.session_id !== b2.registered.session_id, "two connections got the same session_id");
    },
  }),
  b({
    id: "broker.reg.unsupported-version",
    title: "register with protocol 2 gets fatal unsupported_version and close 1002",
    spec: ["REG-1", "ERR-6", "TRANS-8"],
    level: "MUST",
    async run(ctx) {
      const peer = await ctx.connect({}, "v2");
      peer.send({ type: "register", protocol: 2 });
      const err = await ctx.error(peer, "unsupported_version");
      check(err.fatal === true, "unsupported_version without fatal: true");
      const closed = await peer.closedWithin(ctx.timeoutMs);
      check(closed.code === CLOSE_CODES.protocolError, `closed with ${closed.code}, expected 1002`);
    },
  }),
  b({
    id: "broker.reg.duplicate-agent",
    title: "an agent_id held by a live session gets fatal duplicate_agent and close 1013",
    spec: ["REG-5", "ERR-6", "TRANS-8"],
    level: "MUST",
    async run(ctx) {
      const agentId = ctx.uniq("agent");
      await ctx.register({ agent_id: agentId }, "first");
      const peer = await ctx.connect({}, "second");
      peer.send({ type: "register", agent_id: agentId });
      const err = await ctx.error(peer, "duplicate_agent");
      check(err.fatal === true, "duplicate_agent without fatal: true");
      const closed = await peer.closedWithin(ctx.timeoutMs);
      check(closed.code === CLOSE_CODES.tryAgainLater, `closed with ${closed.code}, expected 1013`);
    },
  }),
  b({
    id: "broker.reg.assigned-id",
    title: "without agent_id the broker assigns distinct ids; a requested id is used",
    spec: ["REG-6", "REG-10"],
    level: "MUST",
    async run(ctx) {
      const a = await ctx.client();
      const c = await ctx.client();
      check(a.registered.agent_id !== c.registered.agent_id, `both sessions got agent id ${a.registered.agent_id}`);
      const wanted = ctx.uniq("agent");
      const d = await ctx.register({ agent_id: wanted });
      check(d.registered.agent_id === wanted, `asked for ${wanted}, got ${d.registered.agent_id}`);
    },
  }),
  b({
    id: "broker.reg.duplicate-capability",
    title: "a register naming a capability twice gets bad_frame; the session may register again",
    spec: ["REG-8", "CONN-2"],
    level: "MUST",
    async run(ctx) {
      const cap = ctx.uniq("cap");
      const peer = await ctx.connect({}, "agent");
      peer.send({ type: "register", capabilities: [{ name: cap }, { name: cap, version: "2.0.0" }] });
      await ctx.error(peer, "bad_frame");
      peer.send({ type: "register", capabilities: [{ name: cap }] });
      await peer.next("registered");
    },
  }),
];
