/** Direct messages, topic broadcast and request/response between sessions [MSG-*, PUB-*, REQ-*]. */
import { encode, type AgentInfo, type Publish, type Request, type Response, type Send, type TraceContext } from "@agentwire/wire";
import type { ForwardedRequest, MeshPort, RequestAnswer } from "./backend.js";
import type { BrokerConfig } from "./config.js";
import type { EventBus, MessageEvent } from "./events.js";
import type { Metrics } from "./metrics.js";
import { TopicTrie } from "./pubsub/topic-trie.js";
import type { AgentFilter, Registry } from "./registry.js";
import { rotate, type Pool } from "./dispatch/strategy.js";
import { RequestTable, type RequestRecord } from "./requests.js";
import { takesRequest, takesRequestById } from "./serving.js";
import type { Session } from "./session.js";
import { remainingMs, type DeadlineHeap } from "./tasks/deadlines.js";
import type { TaskRecord } from "./tasks/task-table.js";
import { carried } from "./trace.js";

export class Messaging {
  readonly topics = new TopicTrie<Session>();
  readonly requests = new RequestTable();
  private readonly matched = new Set<Session>();
  private seq = 0;
  /** Round-robin cursor per capability for `request {capability}`. */
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly config: BrokerConfig,
    private readonly brokerId: string,
    private readonly idPrefix: string,
    private readonly registry: Registry,
    private readonly deadlines: DeadlineHeap<TaskRecord | RequestRecord>,
    private readonly metrics: Metrics,
    /** Targets on other brokers of the mesh are reached through it. */
    private readonly mesh: MeshPort,
    private readonly events: EventBus,
  ) {}

  /** Announces a message event (metadata, and the payload for stores that keep it); nothing when nobody listens. */
  private announce(fields: Omit<MessageEvent, "at" | "broker_id" | "payload">, payload?: Uint8Array): void {
    if (this.events.active) this.events.message({ at: Date.now(), broker_id: this.brokerId, ...fields, payload });
  }

  send(from: Session, f: Send): void {
    const trace = carried(f);
    const target = this.registry.get(f.to);
    if (target === undefined || target.state === "closed") {
      const broker = this.mesh.brokerOfAgent(f.to);
      if (broker === undefined) {
        from.error("no_responders", `no session ${f.to}`, f.ref);
        return;
      }
      this.mesh.deliverMessage(broker, f.to, from.agentId, f.payload, f.correlation_id, trace);
    } else {
      target.send({ type: "message", from: from.agentId, payload: f.payload, correlation_id: f.correlation_id, traceparent: trace?.traceparent, tracestate: trace?.tracestate });
    }
    this.announce({ type: "message.sent", from: from.agentId, to: f.to, bytes: f.payload.byteLength, traceparent: trace?.traceparent, tracestate: trace?.tracestate }, f.payload);
    if (f.ref !== undefined) from.send({ type: "ack", ref: f.ref });
  }

  subscribe(session: Session, pattern: string): void {
    if (session.addSubscription(pattern)) this.topics.add(pattern, session);
  }

  unsubscribe(session: Session, pattern: string): void {
    if (session.removeSubscription(pattern)) this.topics.remove(pattern, session);
  }

  /**
   * A publish by a peer or the HTTP API: delivered to this broker's subscribers (the count returned,
   * MESH-6) and to the other brokers' (`remote`, which rejects when the mesh could not take it).
   */
  publishAll(from: string, topic: string, payload: Uint8Array, fromBroker = false, trace?: TraceContext): { local: number; remote: Promise<number> } {
    const local = this.publish(from, { topic, payload }, fromBroker, trace);
    this.announce({ type: "message.published", from, topic, delivered: local, bytes: payload.byteLength, traceparent: trace?.traceparent, tracestate: trace?.tracestate }, payload);
    return { local, remote: this.mesh.publish(topic, from, payload, fromBroker, trace) };
  }

  /** The agents of a query [QUERY-*]: this broker's, then the other brokers' as last heard (MESH-1). */
  agents(filter: AgentFilter): AgentInfo[] {
    return [...this.registry.query(filter), ...this.mesh.remoteAgents(filter)];
  }

  /** Delivers one message per matching session, encoded once; returns how many got it. */
  publish(from: string, f: Pick<Publish, "topic" | "payload">, fromBroker = false, trace?: TraceContext): number {
    const subs = this.topics.match(f.topic, this.matched);
    if (subs.size === 0) return 0;
    const bytes = encode({ type: "message", from, topic: f.topic, payload: f.payload, from_broker: fromBroker ? true : undefined, traceparent: trace?.traceparent, tracestate: trace?.tracestate });
    let n = 0;
    for (const s of subs) {
      if (s.state === "closed") continue;
      s.sendBytes(bytes);
      n++;
    }
    subs.clear();
    return n;
  }

  request(caller: Session, f: Request): void {
    if (caller.requestsOut.has(f.id)) {
      caller.error("bad_frame", `request id ${f.id} is already pending`, f.id, { type: "request", path: "id" });
      return;
    }
    const target = f.to !== undefined ? this.byId(f.to) : this.byCapability(f.capability!);
    // No local target: a broker of the mesh holding that agent or an agent offering the capability.
    const remote = target !== undefined ? undefined : f.to !== undefined ? this.mesh.brokerOfAgent(f.to) : this.mesh.routeFor(f.capability!, undefined, undefined);
    if (target === undefined && remote === undefined) {
      this.fail(caller, f.id, "no_responders", `no live session for ${f.to ?? f.capability}`);
      return;
    }
    if (!caller.hasRoom(this.config.maxInFlight)) {
      this.fail(caller, f.id, "overloaded", `session has ${caller.openItems} tasks and requests open (max_in_flight)`);
      return;
    }
    const r: RequestRecord = {
      id: `${this.idPrefix}${(++this.seq).toString(36)}`,
      callerId: f.id,
      caller,
      target: target ?? null,
      deadline: Date.now() + (f.timeout_ms ?? this.config.requestTimeoutMs),
      heapIndex: -1,
    };
    this.requests.add(r);
    caller.requestsOut.set(r.callerId, r);
    this.deadlines.push(r);
    caller.itemOpened();
    const trace = carried(f);
    this.announce({ type: "request.sent", from: caller.agentId, to: f.to, capability: f.capability, request_id: r.id, bytes: f.payload.byteLength, traceparent: trace?.traceparent, tracestate: trace?.tracestate }, f.payload);
    if (target === undefined) {
      // The remote broker answers with a `response` entry; our deadline still applies here.
      this.mesh.forwardRequest(remote!, { origin: this.brokerId, id: r.id, to: f.to, cap: f.capability, from: caller.agentId, payload: f.payload, deadline: r.deadline, trace });
      return;
    }
    target.requestsIn.add(r);
    target.send({ type: "request", id: r.id, to: target.agentId, from: caller.agentId, payload: f.payload, deadline: r.deadline, remaining_ms: remainingMs(r.deadline), traceparent: trace?.traceparent, tracestate: trace?.tracestate });
  }

  /** A direct message from another broker to a local agent; dropped if the agent is gone. */
  deliverRemoteMessage(to: string, from: string, payload: Uint8Array, correlationId: string | undefined, trace: TraceContext | undefined): void {
    const target = this.registry.get(to);
    if (target === undefined || target.state === "closed") return;
    target.send({ type: "message", from, payload, correlation_id: correlationId, traceparent: trace?.traceparent, tracestate: trace?.tracestate });
  }

  /** A request from a caller on another broker: served by a local agent, answered through the mesh. */
  serveRemoteRequest(e: ForwardedRequest): void {
    const target = e.to !== undefined ? this.byId(e.to) : e.cap !== undefined ? this.byCapability(e.cap) : undefined;
    if (target === undefined) {
      this.metrics.error("no_responders");
      this.mesh.answerRequest(e.origin, e.id, { ok: false, error: { code: "no_responders", message: `no live session for ${e.to ?? e.cap}` } });
      return;
    }
    const r: RequestRecord = {
      id: `${this.idPrefix}${(++this.seq).toString(36)}`,
      callerId: e.id,
      caller: null,
      target,
      originBroker: e.origin,
      deadline: e.deadline,
      heapIndex: -1,
    };
    this.requests.add(r);
    this.deadlines.push(r);
    target.requestsIn.add(r);
    target.send({ type: "request", id: r.id, to: target.agentId, from: e.from, payload: e.payload, deadline: r.deadline, remaining_ms: remainingMs(r.deadline), traceparent: e.trace?.traceparent, tracestate: e.trace?.tracestate });
  }

  /** The answer to a request this broker forwarded to another broker; late ones are dropped. */
  remoteResponse(id: string, answer: RequestAnswer): void {
    const r = this.requests.get(id);
    if (r === undefined || r.target !== null || r.caller === null) return;
    this.end(r);
    this.answered(r, answer.ok === true, answer.error?.code, answer.payload);
    r.caller.send({ type: "response", id: r.callerId, ok: answer.ok, payload: answer.payload, error: answer.error, traceparent: answer.trace?.traceparent, tracestate: answer.trace?.tracestate });
  }

  /** A request of a caller on this broker was answered (by its target, or by a timeout or no_responders). */
  private answered(r: RequestRecord, ok: boolean, code: string | undefined, payload: Uint8Array | undefined): void {
    if (r.caller !== null) this.announce({ type: "request.answered", from: r.caller.agentId, request_id: r.id, ok, code, bytes: payload?.byteLength ?? 0 }, payload);
  }

  response(from: Session, f: Response): void {
    const r = this.requests.get(f.id);
    if (r === undefined || r.target !== from) return; // late (timed out) or not ours: dropped
    this.end(r);
    this.answered(r, f.ok === true, f.error?.code, f.payload);
    const trace = carried(f);
    if (r.caller !== null) r.caller.send({ type: "response", id: r.callerId, ok: f.ok, payload: f.payload, error: f.error, traceparent: trace?.traceparent, tracestate: trace?.tracestate });
    else this.answerRemote(r, { ok: f.ok, payload: f.payload, error: f.error, trace });
  }

  expire(r: RequestRecord): void {
    this.end(r);
    this.answered(r, false, "timeout", undefined);
    // A remote caller's broker holds the same deadline and answers `timeout` itself.
    if (r.caller !== null) this.fail(r.caller, r.callerId, "timeout", "no response before the deadline");
  }

  /** A session ended: drop its subscriptions; callers of requests it held get no_responders. */
  gone(session: Session): void {
    for (const p of session.takeSubscriptions()) this.topics.remove(p, session);
    for (const r of [...session.requestsIn]) {
      this.end(r);
      const message = `${session.agentId} went away before responding`;
      this.answered(r, false, "no_responders", undefined);
      if (r.caller !== null) this.fail(r.caller, r.callerId, "no_responders", message);
      else this.answerRemote(r, { ok: false, error: { code: "no_responders", message } });
    }
  }

  private answerRemote(r: RequestRecord, answer: RequestAnswer): void {
    if (r.originBroker !== undefined) this.mesh.answerRequest(r.originBroker, r.callerId, answer);
  }

  private end(r: RequestRecord): void {
    this.requests.delete(r);
    this.deadlines.remove(r);
    r.target?.requestsIn.delete(r);
    if (r.caller !== null) {
      r.caller.requestsOut.delete(r.callerId);
      r.caller.itemEnded();
    }
  }

  /** Answers request `id` of `caller` with a failed `response` [REQ-6, REQ-7]. */
  fail(caller: Session, id: string, code: string, message: string): void {
    this.metrics.error(code);
    caller.send({ type: "response", id, ok: false, error: { code, message } });
  }

  private byId(agentId: string): Session | undefined {
    const s = this.registry.get(agentId);
    return s !== undefined && takesRequestById(s) ? s : undefined;
  }

  /** Round robin over the agents a request by capability may go to, as tasks rotate [REQ-2]. */
  private byCapability(capability: string): Session | undefined {
    let pool = this.pools.get(capability);
    if (pool === undefined) this.pools.set(capability, (pool = { lastSeq: 0 }));
    return rotate(this.registry.offering(capability), pool, takesRequest);
  }
}

