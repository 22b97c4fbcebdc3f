/**
 * The suite's own broker for agent mode: a loopback WebSocket server that registers the agent under
 * test with short heartbeat settings and hands each session to the case, which then plays the
 * broker's part frame by frame.
 */
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { DEFAULTS, PROTOCOL_VERSION, SUBPROTOCOL, type Frame, type Register } from "@agentwire/wire";
import { Failure } from "./case.js";
import { Peer } from "@agentwire/testkit/peer";

export interface MockBrokerOptions {
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
}

export interface AgentSession {
  peer: Peer;
  /** Whether the upgrade offered agentwire.v1 [TRANS-2]. */
  offeredSubprotocol: boolean;
  /** The first frame the agent sent. */
  first: Frame | undefined;
  register: Register | undefined;
  registeredAt: number;
}

export class MockBroker {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  private readonly pending: AgentSession[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly all = new Set<Peer>();
  private sessions = 0;

  private constructor(
    private readonly server: WebSocketServer,
    options: MockBrokerOptions,
  ) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 500;
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 3 * this.heartbeatIntervalMs;
    server.on("connection", (ws, req) => void this.accept(ws, req));
  }

  static start(options: MockBrokerOptions = {}): Promise<MockBroker> {
    return new Promise((resolve, reject) => {
      const server = new WebSocketServer({
        host: "127.0.0.1",
        port: 0,
        maxPayload: 64 << 20,
        handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
      });
      server.once("listening", () => resolve(new MockBroker(server, options)));
      server.once("error", reject);
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  private async accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim()).includes(SUBPROTOCOL);
    const peer = new Peer(ws, { side: "broker", label: "agent", waitMs: 5_000 });
    this.all.add(peer);
    void peer.closed.then(() => this.all.delete(peer));
    peer.onFrame = (f) => {
      if (f.type === "drain" && f.ref !== undefined) peer.send({ type: "ack", ref: f.ref });
    };
    let first: Frame | undefined;
    try {
      const malformed = new Promise<undefined>((resolve) => {
        peer.onViolation = () => resolve(undefined);
      });
      first = await Promise.race([peer.nextAny(() => true, 10_000, "the agent's first frame").catch(() => undefined), malformed]);
    } catch {
      first = undefined;
    }
    const register = first?.type === "register" ? first : undefined;
    const n = ++this.sessions;
    if (register !== undefined) {
      peer.send({
        type: "registered",
        protocol: PROTOCOL_VERSION,
        agent_id: register.agent_id ?? `agent-${n}`,
        session_id: `s-${n}`,
        broker_id: "conformance",
        heartbeat_interval_ms: this.heartbeatIntervalMs,
        heartbeat_timeout_ms: this.heartbeatTimeoutMs,
        max_frame_bytes: DEFAULTS.maxFrameBytes,
        max_in_flight: DEFAULTS.maxInFlight,
        task_timeout_ms: DEFAULTS.taskTimeoutMs,
        request_timeout_ms: DEFAULTS.requestTimeoutMs,
        max_attempts: DEFAULTS.maxAttempts,
      });
    }
    this.pending.push({ peer, offeredSubprotocol: offered, first, register, registeredAt: Date.now() });
    for (const w of [...this.waiters]) w();
  }

  /** Drops sessions nobody claimed (e.g. a previous agent reconnecting). */
  discardPending(): void {
    for (const s of this.pending.splice(0)) s.peer.terminate();
  }

  /** The next session that connected and sent its first frame. */
  nextSession(timeoutMs: number, gone?: Promise<unknown>): Promise<AgentSession> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const s = this.pending.shift();
        if (s !== undefined) done(() => resolve(s));
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      const timer = setTimeout(() => done(() => reject(new Failure(`the agent did not connect and send a frame within ${timeoutMs} ms`))), timeoutMs);
      void gone?.then((why) => done(() => reject(new Failure(`the agent exited before connecting (${String(why)})`))));
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const p of this.all) p.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
