/** The connection factory broker-mode cases run over: peers, ids and short waits. */
import { randomBytes } from "node:crypto";
import { encodePayload, type Capability, type FrameOf, type Registered } from "@agentwire/wire";
import { Failure, Skip, check } from "./case.js";
import { Peer, type ConnectOptions } from "@agentwire/testkit/peer";

export interface BrokerTarget {
  /** WebSocket URL of the broker, e.g. ws://127.0.0.1:7420/ */
  url: string;
  /**
   * WebSocket URL where the cases' agents (sessions registering with capabilities) connect: another
   * broker of the same mesh, so that every task, request and cancel crosses brokers. Default `url`.
   * When it differs, each agent's registration waits until a `query` on `url` lists it (MESH-1: the
   * registry crosses brokers with a delay), and cases that MESH rules relax skip with the rule cited.
   */
  agentUrl?: string | undefined;
  /** HTTP base URL of its API; cases of §15 skip without it. */
  http?: string | undefined;
  /** Default wait for one expected frame. */
  timeoutMs?: number | undefined;
}

export interface Session {
  peer: Peer;
  registered: Registered;
}

let counter = 0;
const runId = randomBytes(3).toString("hex");

export class BrokerCtx {
  readonly url: string;
  readonly agentUrl: string;
  readonly http: string | undefined;
  readonly timeoutMs: number;
  readonly peers: Peer[] = [];
  /** A client session on `url` that asks whether an agent of `agentUrl` is listed yet (`seen`). */
  private probe: Promise<Peer> | undefined;

  constructor(target: BrokerTarget) {
    this.url = target.url;
    this.agentUrl = target.agentUrl ?? target.url;
    this.http = target.http;
    this.timeoutMs = target.timeoutMs ?? 5_000;
  }

  /** A name unique to this run, valid as capability, agent id, ref and topic token. */
  uniq(prefix = "cf"): string {
    return `${prefix}-${runId}-${++counter}`;
  }

  /** Agents connect to one broker of a mesh and clients to another (`agentUrl` differs from `url`). */
  get acrossBrokers(): boolean {
    return this.agentUrl !== this.url;
  }

  /**
   * Skips the case when its agents are on another broker than its clients, because the MESH rule
   * `rule` of SPEC.md lets a mesh differ there from one broker in what the case checks; `why` says how.
   */
  relaxedAcrossBrokers(rule: string, why: string): void {
    if (this.acrossBrokers) throw new Skip(`${rule}: ${why}`);
  }

  async connect(options: ConnectOptions = {}, label = "peer", url = this.url): Promise<Peer> {
    // A peer as any broker may meet one: it offers permessage-deflate (TRANS-10) and ignores frame
    // types it does not know (ENC-13).
    const peer = await Peer.connect(url, { perMessageDeflate: true, ignoreUnknownTypes: true, waitMs: 5_000, ...options, label });
    this.peers.push(peer);
    return peer;
  }

  /**
   * Connects and registers; keeps the session alive with heartbeats unless `heartbeat` is false. A
   * session with capabilities (an agent) connects to `agentUrl` and, when that is another broker, is
   * returned once a query on `url` lists it.
   */
  async register(fields: Record<string, unknown> = {}, label = "peer", heartbeat = true): Promise<Session> {
    const capabilities = Array.isArray(fields.capabilities) ? (fields.capabilities as { name?: unknown }[]) : [];
    const peer = await this.connect({}, label, capabilities.length > 0 ? this.agentUrl : this.url);
    peer.send({ type: "register", ...fields });
    const first = await peer.nextAny((f) => f.type === "registered" || f.type === "error", this.timeoutMs, "registered");
    if (first.type !== "registered") {
      if (first.type !== "error") throw new Failure("unreachable"); throw new Failure(`${label}: register ${JSON.stringify(fields)} was refused with ${first.code}: ${first.message}`);
    }
    if (heartbeat) peer.startHeartbeat(heartbeatEvery(first));
    const name = capabilities[0]?.name;
    if (this.acrossBrokers && typeof name === "string") await this.seen(first.agent_id, name);
    return { peer, registered: first };
  }

  /**
   * Resolves once a `query` on `url` for `capability` lists agent `agentId`, with the fields of `with`
   * when given (e.g. `{ status: "draining" }`): at once on one broker, within MESH-1's delay when the
   * agent is on another broker of a mesh. Fails the case at `timeoutMs`.
   */
  async seen(agentId: string, capability: string, fields: Partial<Record<"status" | "in_flight", unknown>> = {}): Promise<void> {
    this.probe ??= this.register({}, "registry-probe").then((s) => s.peer);
    const probe = await this.probe;
    const deadline = Date.now() + this.timeoutMs;
    const wanted = Object.entries(fields);
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      const ref = this.uniq("seen");
      probe.send({ type: "query", ref, capability });
      const ans = await probe.next("agents", (f) => f.ref === ref, this.timeoutMs, `agents answering a query for ${capability}`);
      if (ans.agents.some((a) => a.agent_id === agentId && wanted.every(([k, v]) => (a as unknown as Record<string, unknown>)[k] === v))) return;
      if (Date.now() > deadline) {
        const as = wanted.length === 0 ? "" : ` with ${JSON.stringify(fields)}`;
        throw new Failure(`agent ${agentId} (${capability}) on ${this.agentUrl} was not listed${as} by a query on ${this.url} within ${this.timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** An agent offering the given capabilities (names or full Capability maps). */
  agent(capabilities: (string | Capability)[], fields: Record<string, unknown> = {}, label = "agent"): Promise<Session> {
    return this.register({ capabilities: capabilities.map((c) => (typeof c === "string" ? { name: c } : c)), ...fields }, label);
  }

  client(label = "client"): Promise<Session> {
    return this.register({}, label);
  }

  /** Submits and waits for `accepted`; returns the task id. */
  async submit(client: Peer, capability: string, doc: unknown = null, extra: Record<string, unknown> = {}): Promise<{ ref: string; task_id: string; input: Uint8Array }> {
    const ref = this.uniq("s");
    const input = extra.input instanceof Uint8Array ? extra.input : encodePayload(doc);
    client.send({ type: "submit", ref, capability, input, ...extra });
    const answer = await client.nextAny((f) => (f.type === "accepted" || f.type === "error") && f.ref === ref, this.timeoutMs, `accepted for ${ref}`);
    if (answer.type === "error") throw new Failure(`submit ${capability} was refused: ${answer.code} ${answer.message}`);
    if (answer.type !== "accepted") throw new Failure("unreachable");
    return { ref, task_id: answer.task_id, input };
  }

  /** A fresh capability, one agent offering it, a client, and one task submitted and dispatched to the agent. */
  async dispatched(extra: Record<string, unknown> = {}): Promise<{ cap: string; agent: Session; client: Peer; task_id: string }> {
    const cap = this.uniq("cap");
    const agent = await this.agent([cap]);
    const { peer: client } = await this.client();
    const { task_id } = await this.submit(client, cap, null, extra);
    await agent.peer.next("task", (t) => t.task_id === task_id);
    return { cap, agent, client, task_id };
  }

  /** Waits for a `query` round trip on `peer`: every frame the broker produced for it before is in. */
  async sync(peer: Peer): Promise<void> {
    const ref = this.uniq("sync");
    peer.send({ type: "query", ref, capability: this.uniq("none") });
    await peer.next("agents", (f) => f.ref === ref, this.timeoutMs, "agents answering a sync query");
  }

  /** Expects an `error` with `code` answering the frame with `ref`. */
  async error(peer: Peer, code: string, ref?: string): Promise<FrameOf<"error">> {
    const err = await peer.next("error", (f) => ref === undefined || f.ref === ref, this.timeoutMs, `error ${code}${ref === undefined ? "" : ` with ref ${ref}`}`);
    check(err.code === code, `expected error ${code}${ref === undefined ? "" : ` (ref ${ref})`}, got ${err.code}: ${err.message}`);
    return err;
  }

  /** Cases that need eviction or deadlines skip on brokers whose timers are too long to wait for. */
  needShortHeartbeat(reg: Registered, limitMs = 5_000): void {
    if (reg.heartbeat_timeout_ms > limitMs) throw new Skip(`heartbeat_timeout_ms is ${reg.heartbeat_timeout_ms} (> ${limitMs}); start the broker with a short heartbeat timeout to run this case`);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.close()));
  }

  /** Encoding violations the broker committed on any peer of this case. */
  violations(): string[] {
    return this.peers.flatMap((p) => p.violations.map((v) => `${p.label}: ${v}`));
  }
}

export function heartbeatEvery(reg: Registered): number {
  return Math.max(20, Math.min(reg.heartbeat_interval_ms, Math.floor(reg.heartbeat_timeout_ms / 3)));
}
