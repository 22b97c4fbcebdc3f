/** Composition root: one broker = one HTTP+WebSocket server and its parts. No global state. */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { CLOSE_CODES, SUBPROTOCOL } from "@agentwire/wire";
import { Auth, bearer } from "./auth.js";
import { LocalMesh, type MeshPort } from "./backend.js";
import type { BrokerConfig } from "./config.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { MemoryEventStore, record, type EventStore } from "./event-store.js";
import { PostgresEventStore } from "./pg-event-store.js";
import { EventBus } from "./events.js";
import { BrokerCore, type BrokerState } from "./core.js";
import { Handlers } from "./handlers.js";
import { HeartbeatMonitor } from "./heartbeat.js";
import { Dashboard } from "./dashboard/dashboard.js";
import { errorBody, httpHandler } from "./http.js";
import { Messaging } from "./messaging.js";
import { Metrics } from "./metrics.js";
import { OriginPolicy } from "./origins.js";
import { registerPoolMetrics } from "./pools/metrics.js";
import { PoolService } from "./pools/pool-service.js";
import { Registry } from "./registry.js";
import { RedisBackend } from "./redis/redis-backend.js";
import type { RequestRecord } from "./requests.js";
import { Session } from "./session.js";
import { WriteBatcher } from "./write-batch.js";
import { DeadlineHeap } from "./tasks/deadlines.js";
import { Submissions } from "./tasks/submissions.js";
import { TaskService } from "./tasks/task-service.js";
import { TaskTable, idPrefix, newIncarnation, type TaskRecord } from "./tasks/task-table.js";
import { WorkflowEngine } from "./workflows/engine.js";
import { registerWorkflowMetrics } from "./workflows/metrics.js";

export interface Broker extends AsyncDisposable {
  readonly id: string;
  readonly address: { host: string; port: number };
  /** Every task and agent transition of this broker, as it happens (docs/events.md). */
  readonly events: EventBus;
  /** Graceful: goaway to every session, wait for in-flight tasks up to the grace period, close. */
  shutdown(reason?: string): Promise<void>;
  /** Closes every session and the server at once. */
  close(): Promise<void>;
}

/** A broker's parts without its server: what `startBroker` serves, and what unit tests drive through in-memory sessions. */
export interface BrokerParts {
  readonly state: BrokerState;
  readonly core: BrokerCore;
  readonly handlers: Handlers;
  readonly events: EventBus;
  readonly metrics: Metrics;
  readonly table: TaskTable;
  readonly deadlines: DeadlineHeap<TaskRecord | RequestRecord>;
  readonly sessions: Set<Session>;
  readonly auth: Auth;
  readonly log: Logger;
  /** Every event of the bus, for replay (undefined with `--events-max 0`). */
  readonly eventStore: EventStore | undefined;
  /** A new session on an upgraded WebSocket (`upgradeToken`: the upgrade's bearer token). */
  connect(ws: WebSocket, socket: Duplex, upgradeToken: string | undefined): Session;
}

/** Wires one broker's parts around `backend` (LocalMesh: a single broker). No I/O. */
export function assembleBroker(config: BrokerConfig, log: Logger, backend: MeshPort, brokerId: string, incarnation: string): BrokerParts {
  const state: BrokerState = { brokerId, shuttingDown: false, agentIdPrefix: idPrefix(brokerId, "a", incarnation) };
  const sessions = new Set<Session>();
  const auth = new Auth(config.auth.tokens);
  const events = new EventBus(log);
  const eventStore = openEventStore(config, log, idPrefix(brokerId, "e", incarnation));
  if (eventStore !== undefined) record(events, eventStore, brokerId, config.eventsPayloads);
  const registry = new Registry(brokerId, events);
  const table = new TaskTable(config.resultTtlMs, config.maxEndedTasks, config.maxEndedBytes);

  let tasks: TaskService | undefined;
  let messaging: Messaging | undefined;
  const deadlines = new DeadlineHeap<TaskRecord | RequestRecord>((item) => {
    if ("callerId" in item) messaging!.expire(item);
    else tasks!.expire(item);
  });
  const dispatcher = new Dispatcher(registry, (task, agent) => tasks!.dispatch(task, agent));
  const metrics = new Metrics({
    connections: () => sessions.size,
    agentsByStatus: () => countBy(registry.all(), (s) => (s.isAgent ? s.status : undefined)),
    tasksByState: () => countBy(table.values(), (t) => t.state),
    retention: () => table.retention(),
    queueDepths: () => dispatcher.depths(),
    mesh: () => backend.stats(),
    events: () => eventStore?.health(),
  });
  metrics.listen(events);
  tasks = new TaskService(config, idPrefix(brokerId, "t", incarnation), table, deadlines, dispatcher, registry, events, backend);
  messaging = new Messaging(config, brokerId, idPrefix(brokerId, "r", incarnation), registry, deadlines, metrics, backend, events);
  const submissions = new Submissions(tasks, backend, config.eventsDurable && eventStore !== undefined ? () => eventStore.committed() : undefined);
  const pools: PoolService = new PoolService({
    brokerId,
    config: config.pools,
    registry,
    queued: (capability) => dispatcher.queueLength(capability),
    remoteAgents: () => backend.remoteAgents({}),
    liveElsewhere: (agentId) => backend.brokerOfAgent(agentId) !== undefined,
    drainAgent: (agentId, cause): boolean => core.drainAgent(agentId, cause),
    mesh: backend.poolMesh(),
    events,
    log,
  });
  const core: BrokerCore = new BrokerCore(config, state, auth, registry, tasks, messaging, submissions, backend, log, pools);
  registerPoolMetrics(metrics.registry, pools);
  tasks.poolHome = (capability) => pools.homeOf(capability);
  core.workflows = new WorkflowEngine(core, { brokerId, idPrefix: `${brokerId}.w${incarnation}-`, store: backend.workflowStore(), events, log, leaseMs: 3 * config.meshLivenessMs, maxAttempts: config.maxAttempts, maxRuns: config.maxQueueLength });
  registerWorkflowMetrics(metrics.registry, core.workflows, events);
  const handlers = new Handlers(config, core, metrics, log, sessions);
  backend.attach(core.meshInbound());
  registry.onChange = () => backend.registryChanged();

  let sessionSeq = 0;
  const sessionPrefix = idPrefix(brokerId, "s", incarnation);
  const limits = { maxFrameBytes: config.maxFrameBytes, sendBufferBytes: config.sendBufferBytes, batcher: new WriteBatcher() };
  const connect = (ws: WebSocket, socket: Duplex, upgradeToken: string | undefined): Session => {
    const s = new Session(`${sessionPrefix}${(++sessionSeq).toString(36)}`, ws, socket, handlers, limits, upgradeToken);
    sessions.add(s);
    return s;
  };
  return { state, core, handlers, events, metrics, table, deadlines, sessions, auth, log, eventStore, connect };
}

/** The event store `--events` names: PostgreSQL, or the in-memory ring (none with `--events-max 0`). */
function openEventStore(config: BrokerConfig, log: Logger, eventIdPrefix: string): EventStore | undefined {
  if (config.events !== "memory") {
    return new PostgresEventStore({ url: config.events, idPrefix: eventIdPrefix, bufferMax: config.eventsBuffer, retentionMs: config.eventsRetentionMs, log });
  }
  return config.eventsMax > 0 ? new MemoryEventStore(config.eventsMax, eventIdPrefix, config.eventsRetentionMs) : undefined;
}

export async function startBroker(config: BrokerConfig, logger: Logger, backendArg?: MeshPort): Promise<Broker> {
  const brokerId = config.brokerId === "" ? `b-${randomBytes(4).toString("hex")}` : config.brokerId;
  const log = logger.child({ broker_id: brokerId });
  const incarnation = newIncarnation();
  const backend: MeshPort =
    backendArg ??
    (config.redis !== "" || config.redisCluster !== ""
      ? new RedisBackend({ target: { url: config.redis, cluster: config.redisCluster }, brokerId, incarnation, keyTtlMs: config.resultTtlMs, log, sweepMs: config.meshSweepMs, livenessMs: config.meshLivenessMs, responseMarginMs: config.meshResponseMarginMs })
      : new LocalMesh());
  const { state, core, events, metrics, table, deadlines, sessions, auth, eventStore, connect } = assembleBroker(config, log, backend, brokerId, incarnation);
  const tasks = core.tasks;
  const sockets = new Set<WebSocket>();

  const monitor = new HeartbeatMonitor(
    sessions,
    config.heartbeatTimeoutMs,
    (s) => {
      log.info({ agent_id: s.agentId, session_id: s.id }, "evicting silent session");
      if (s.isAgent && events.active) events.agent("agent.evicted", s, "heartbeat timeout");
    },
    (now) => table.sweep(now),
  );

  const origins = new OriginPolicy(config.allowedOrigins);
  const mounts = config.mounts ?? [];
  const server = createServer(
    httpHandler({ core, auth, metrics, backend, eventStore, maxBodyBytes: config.maxFrameBytes, origins, dashboard: new Dashboard({ core, metrics, eventStore, sessions, startedAt: Date.now() }, auth), mounts }),
  );
  const wss = new WebSocketServer({
    noServer: true,
    // Slightly above the limit so an oversized frame reaches our decoder and gets frame_too_large.
    maxPayload: config.maxFrameBytes + 64 * 1024,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A page of another origin is refused before anything else [TRANS-11].
    const page = origins.of(req);
    if (page?.allowed === false) {
      metrics.error("forbidden");
      log.debug({ origin: page.origin }, "upgrade refused: origin not allowed");
      const body = JSON.stringify(errorBody(OriginPolicy.refusal(page.origin)));
      socket.end(`HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (state.shuttingDown || !offered.includes(SUBPROTOCOL)) {
      const status = state.shuttingDown ? "503 Service Unavailable" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      connect(ws, socket, bearer(req.headers.authorization));
    });
  });

  await backend.start();
  await eventStore?.start();
  core.workflows.start();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  monitor.start();
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      state.shuttingDown = true;
      monitor.stop();
      core.pools.close();
      await core.workflows.close();
      tasks.endAll();
      for (const s of [...sessions]) s.closeWith(CLOSE_CODES.goingAway, "broker shutting down");
      deadlines.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const timer = setTimeout(() => {
        for (const ws of sockets) ws.terminate();
      }, 1_000);
      await closed;
      clearTimeout(timer);
      await backend.close();
      await eventStore?.close();
      await Promise.allSettled(mounts.map((m) => m.close?.()));
      log.info("closed");
    })());

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason = "shutdown"): Promise<void> =>
    (shuttingDown ??= (async () => {
      state.shuttingDown = true;
      backend.stopIntake();
      const grace = config.shutdownGraceMs;
      log.info({ in_flight: tasks.inFlight(), grace_ms: grace }, "shutting down");
      for (const s of sessions) if (s.state === "ready" || s.state === "draining") s.send({ type: "goaway", reason, grace_ms: grace });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, grace);
        const check = (): void => {
          if (tasks.inFlight() === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        tasks.onRelease = check;
        check();
      });
      await close();
    })());

  log.info({ host: config.host, port, backend: backend.kind, incarnation }, "listening");
  return {
    id: brokerId,
    address: { host: config.host, port },
    events,
    shutdown,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function countBy<T>(items: Iterable<T>, key: (item: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
