/**
 * Broker cases: agent pools (SPEC §19). Pools are optional for a broker: one that answers `pool` with
 * unknown_type skips them. A supervisor here is a plain client; members are agents (on a mesh, on
 * the other broker, so the figures and the drains cross brokers).
 */
import type { FrameOf } from "@agentwire/wire";
import { Skip, check, checkEqual, type Case } from "../case.js";
import type { BrokerCtx, Session } from "../broker-ctx.js";

type C = Case<BrokerCtx>;
const b = (c: Omit<C, "mode">): C => ({ ...c, mode: "broker" });

/** Settings short enough for a case; a broker whose operator bounds them higher takes longer. */
const FAST = { interval_ms: 100, window_ms: 200, stabilization_ms: 200, cooldown_ms: 0, step: 2 };

/** Sends `pool` and returns the broker's answer (ack or error). */
async function declare(ctx: BrokerCtx, s: Session, fields: Omit<FrameOf<"pool">, "type" | "ref">): Promise<FrameOf<"ack"> | FrameOf<"error">> {
  const ref = ctx.uniq("pool");
  s.peer.send({ type: "pool", ref, ...fields });
  return (await s.peer.nextAny((f) => (f.type === "ack" || f.type === "error") && f.ref === ref, ctx.timeoutMs, `the answer to pool ${ref}`)) as FrameOf<"ack"> | FrameOf<"error">;
}

/** A supervisor whose first `pool` was acked; skips the case on a broker without pools. */
async function supervisor(ctx: BrokerCtx, fields: Omit<FrameOf<"pool">, "type" | "ref">): Promise<Session> {
  const s = await ctx.client("supervisor");
  const answer = await declare(ctx, s, fields);
  if (answer.type === "error" && answer.code === "unknown_type") throw new Skip("the broker does not offer pools (§19 is optional; it answered pool with unknown_type)");
  check(answer.type === "ack", `pool was answered ${answer.type === "error" ? `${answer.code}: ${answer.message}` : answer.type}, expected ack`);
  return s;
}

export const poolCases: C[] = [
  b({
    id: "broker.pool.declare",
    title: "pool is acked; another session's pool for the name gets pool_supervised; min > max and crossed thresholds get bad_frame; the supervisor's update is acked",
    spec: ["POOL-3", "POOL-4", "POOL-6", "CONN-10", "ERR-3"],
    level: "MUST",
    async run(ctx) {
      const name = ctx.uniq("pool");
      const capabilities = [ctx.uniq("cap")];
      const sup = await supervisor(ctx, { name, capabilities, min: 0, max: 2 });
      const other = await ctx.client("other");
      const taken = await declare(ctx, other, { name, capabilities, min: 0, max: 1 });
      checkEqual(taken.type === "error" ? taken.code : taken.type, "pool_supervised", "the answer to another session's pool for a supervised name");
      const minMax = await declare(ctx, sup, { name, capabilities, min: 3, max: 2 });
      checkEqual(minMax.type === "error" ? minMax.code : minMax.type, "bad_frame", "the answer to a pool with min 3 > max 2");
      const crossed = await declare(ctx, sup, { name, capabilities, min: 0, max: 2, autoscale: { down_threshold: 0.9, up_threshold: 0.5 } });
      checkEqual(crossed.type === "error" ? [crossed.code, crossed.details?.path] : [crossed.type], ["bad_frame", "autoscale"], "the answer to down_threshold above up_threshold [code, details.path]");
      const update = await declare(ctx, sup, { name, capabilities, min: 0, max: 3 });
      checkEqual(update.type, "ack", "the answer to the supervisor's own update");
    },
  }),
  b({
    id: "broker.pool.member",
    title: "an agent registered with pool shows it as AgentInfo.pool in registry answers",
    spec: ["POOL-1", "POOL-2", "QUERY-4"],
    level: "MUST",
    async run(ctx) {
      const name = ctx.uniq("pool");
      const cap = ctx.uniq("cap");
      const sup = await supervisor(ctx, { name, capabilities: [cap], min: 0, max: 2 });
      const member = await ctx.agent([cap], { pool: name }, "member");
      const plain = await ctx.agent([cap], {}, "plain");
      const ref = ctx.uniq("q");
      sup.peer.send({ type: "query", ref, capability: cap });
      const ans = await sup.peer.next("agents", (f) => f.ref === ref);
      const pools = Object.fromEntries(ans.agents.map((a) => [a.agent_id, a.pool]));
      checkEqual([pools[member.registered.agent_id], pools[plain.registered.agent_id]], [name, undefined], "AgentInfo.pool of [the member, an agent without pool]");
    },
  }),
  b({
    id: "broker.pool.scale",
    title: "the supervisor gets scale below_min; after a change to min 0 an idle member is drained (drain frame, status draining) and named in scale.drain; a submit then is accepted and asks the empty pool for a member",
    spec: ["POOL-9", "POOL-10", "POOL-12", "POOL-17", "DRAIN-7", "DRAIN-2"],
    level: "MUST",
    async run(ctx) {
      const name = ctx.uniq("pool");
      const cap = ctx.uniq("cap");
      const sup = await supervisor(ctx, { name, capabilities: [cap], min: 1, max: 2, autoscale: FAST });
      const wait = ctx.timeoutMs * 3;
      const up = await sup.peer.next("scale", (f) => f.pool === name, wait, "scale for a pool below its min");
      checkEqual([up.from, up.to, up.reason], [0, 1, "below_min"], "scale [from, to, reason] of an empty pool with min 1");
      const member = await ctx.agent([cap], { pool: name, capacity: 4 }, "member");
      const again = await declare(ctx, sup, { name, capabilities: [cap], min: 0, max: 2, autoscale: FAST });
      checkEqual(again.type, "ack", "the answer to the supervisor's update to min 0");
      const down = await sup.peer.next("scale", (f) => f.pool === name && f.to < f.from, wait, "scale down of an idle pool with min 0");
      checkEqual([down.from, down.to, down.reason, down.drain], [1, 0, "queue_empty", [member.registered.agent_id]], "scale [from, to, reason, drain] of an idle pool");
      const drain = await member.peer.next("drain", () => true, wait, "drain sent to the drained member");
      check(drain.ref === undefined, `a broker-sent drain carries no ref, got ${drain.ref}`);
      await ctx.seen(member.registered.agent_id, cap, { status: "draining" });
      // It gets no new task (DRAIN-2). Its pool is still supervised, so a submit for the capability is
      // the pool's demand, not no_agents: accepted, and the supervisor is asked for a member [POOL-17].
      const { peer: client } = await ctx.client();
      const ref = ctx.uniq("s");
      client.send({ type: "submit", ref, capability: cap, input: new Uint8Array([0xc0]) });
      await client.next("accepted", (f) => f.ref === ref, ctx.timeoutMs, "accepted for a submit to a supervised pool of size 0");
      const fromZero = await sup.peer.next("scale", (f) => f.pool === name && f.from === 0 && f.to > 0, wait, "scale up from zero for the queued task");
      checkEqual([fromZero.to, fromZero.reason, fromZero.queued], [1, "utilization_high", 1], "scale [to, reason, queued] of a pool of size 0 with a task queued");
      checkEqual(member.peer.all("task").length, 0, "tasks sent to the drained member");
    },
  }),
];
