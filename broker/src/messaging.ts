/** Direct messages, topic broadcast and request/response between sessions [MSG-*, PUB-*, REQ-*]. */
import { encode, type Publish, type Request, type Response, type Send } from "@agentwire/wire";
import type { BrokerConfig } from "./config.js";
import type { Metrics } from "./metrics.js";
import { TopicTrie } from "./pubsub/topic-trie.js";
import type { Registry } from "./registry.js";
import { RequestTable, type RequestRecord } from "./requests.js";
import type { Session } from "./session.js";
import type { DeadlineHeap } from "./tasks/deadlines.js";
import type { TaskRecord } from "./tasks/task-table.js";

export class Messaging {
  readonly topics = new TopicTrie<Session>();
  readonly requests = new RequestTable();
  private readonly matched = new Set<Session>();
  private seq = 0;
  /** Round-robin cursor per capability for `request {capability}`. */
  private readonly cursors = new Map<string, number>();

  constructor(
    private readonly config: BrokerConfig,
    private readonly idPrefix: string,
    private readonly registry: Registry,
    private readonly deadlines: DeadlineHeap<TaskRecord | RequestRecord>,
    private readonly metrics: Metrics,
  ) {}

  send(from: Session, f: Send): void {
    const target = this.registry.get(f.to);
    if (target === undefined || target.state === "closed") {
      from.error("no_responders", `no session ${f.to}`, f.ref);
      return;
    }
    target.send({ type: "message", from: from.agentId, payload: f.payload, correlation_id: f.correlation_id });
    if (f.ref !== undefined) from.send({ type: "ack", ref: f.ref });
  }

  subscribe(session: Session, pattern: string): void {
    if (session.subscriptions.has(pattern)) return;
    session.subscriptions.add(pattern);
    this.topics.add(pattern, session);
  }

  unsubscribe(session: Session, pattern: string): void {
    if (session.subscriptions.delete(pattern)) this.topics.remove(pattern, session);
  }

  /** Delivers one message per matching session, encoded once; returns how many got it. */
  publish(from: string, f: Pick<Publish, "topic" | "payload">): number {
    const subs = this.topics.match(f.topic, this.matched);
    if (subs.size === 0) return 0;
    const bytes = encode({ type: "message", from, topic: f.topic, payload: f.payload });
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
    if (target === undefined) {
      this.fail(caller, f.id, "no_responders", `no live session for ${f.to ?? f.capability}`);
      return;
    }
    if (caller.open >= this.config.maxInFlight) {
      this.fail(caller, f.id, "overloaded", `session has ${caller.open} tasks and requests open (max_in_flight)`);
      return;
    }
    const r: RequestRecord = {
      id: `${this.idPrefix}${(++this.seq).toString(36)}`,
      callerId: f.id,
      caller,
      target,
      deadline: Date.now() + (f.timeout_ms ?? this.config.requestTimeoutMs),
      heapIndex: -1,
    };
    this.requests.add(r);
    caller.requestsOut.set(r.callerId, r);
    this.deadlines.push(r);
    target.requestsIn.add(r);
    caller.open++;
    target.send({ type: "request", id: r.id, to: target.agentId, from: caller.agentId, payload: f.payload, deadline: r.deadline });
  }

  response(from: Session, f: Response): void {
    const r = this.requests.get(f.id);
    if (r === undefined || r.target !== from) return; // late (timed out) or not ours: dropped
    this.end(r);
    r.caller.send({ type: "response", id: r.callerId, ok: f.ok, payload: f.payload, error: f.error });
  }

  expire(r: RequestRecord): void {
    this.end(r);
    this.fail(r.caller, r.callerId, "timeout", "no response before the deadline");
  }

  /** A session ended: drop its subscriptions; callers of requests it held get no_responders. */
  gone(session: Session): void {
    for (const p of session.subscriptions) this.topics.remove(p, session);
    session.subscriptions.clear();
    for (const r of [...session.requestsIn]) {
      this.end(r);
      this.fail(r.caller, r.callerId, "no_responders", `${session.agentId} went away before responding`);
    }
  }

  private end(r: RequestRecord): void {
    this.requests.delete(r);
    this.deadlines.remove(r);
    r.target.requestsIn.delete(r);
    r.caller.requestsOut.delete(r.callerId);
    r.caller.open--;
  }

  private fail(caller: Session, id: string, code: string, message: string): void {
    this.metrics.error(code);
    caller.send({ type: "response", id, ok: false, error: { code, message } });
  }

  private byId(agentId: string): Session | undefined {
    const s = this.registry.get(agentId);
    return s !== undefined && s.state === "ready" && s.status !== "unhealthy" ? s : undefined;
  }

  private byCapability(capability: string): Session | undefined {
    const list = this.registry.offering(capability);
    const last = this.cursors.get(capability) ?? 0;
    let first: Session | undefined;
    for (const s of list) {
      if (s.state !== "ready" || s.status === "unhealthy" || s.status === "draining") continue;
      if (s.seq > last) {
        this.cursors.set(capability, s.seq);
        return s;
      }
      first ??= s;
    }
    if (first !== undefined) this.cursors.set(capability, first.seq);
    return first;
  }
}
