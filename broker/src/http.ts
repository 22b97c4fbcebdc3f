/** The HTTP API on the WebSocket port [HTTP-*]: tasks, agents, publish, health, metrics. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import {
  AgentStatusSchema,
  AgentwireError,
  ERROR_CODES,
  errorFromCode,
  LIMITS,
  SubmitSchema,
  decodePayload,
  encodePayload,
  isErrorCode,
  isValidTopic,
} from "@agentwire/wire";
import { Auth, bearer } from "./auth.js";
import type { MeshPort, RemoteOutcome } from "./backend.js";
import type { TokenAcl } from "./config.js";
import { unknownTask, type BrokerCore } from "./core.js";
import type { Dashboard } from "./dashboard/dashboard.js";
import type { EventQuery, EventStore, StoredEvent } from "./event-store.js";
import type { TaskEvent } from "./events.js";
import type { Metrics } from "./metrics.js";
import { poolsView } from "./pools/view.js";
import { crossOrigin, type OriginPolicy } from "./origins.js";
import type { SubmitReply } from "./tasks/submissions.js";
import { isMeshRun, type TaskService } from "./tasks/task-service.js";
import { createdAt, endState, everDispatched, type TaskObserver, type TaskRecord } from "./tasks/task-table.js";
import { workflowRoute } from "./workflows/http.js";

const HttpSubmitSchema = SubmitSchema.omit({ type: true, ref: true, input: true }).extend({ input: z.unknown().optional() });

export interface HttpDeps {
  core: BrokerCore;
  auth: Auth;
  metrics: Metrics;
  backend: MeshPort;
  eventStore: EventStore | undefined;
  maxBodyBytes: number;
  origins: OriginPolicy;
  /** The live dashboard's files and routes (dashboard/dashboard.ts). */
  dashboard: Dashboard;
  /** Extra handlers by path prefix (BrokerConfig.mounts), dispatched after auth. */
  mounts: readonly HttpMount[];
}

/**
 * An extra HTTP handler on the broker's port, e.g. a protocol bridge (`@agentwire/mcp` at `/mcp`): it
 * gets every request whose path is `prefix` or under `prefix/`, once the bearer token was checked
 * (auth on) [HTTP-1]. The broker does not know what it serves.
 */
export interface HttpMount {
  /** A path prefix starting with `/`, without a trailing one, e.g. `/mcp`. */
  readonly prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
  /** Called once when the broker closes. */
  close?(): void | Promise<void>;
}

export function httpHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(deps, req, res).catch((err: unknown) => {
      // Every error leaves as its registry code with that code's HTTP status [HTTP-2].
      const e = err instanceof AgentwireError ? err : errorFromCode("internal", err instanceof Error ? err.message : String(err));
      deps.metrics.error(e.code);
      if (!res.headersSent) json(res, isErrorCode(e.code) ? ERROR_CODES[e.code].http : 500, errorBody(e));
      else res.end();
    });
  };
}

/** The body of an error answer [HTTP-2]. */
export function errorBody(e: AgentwireError): { error: { code: string; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

async function route(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (crossOrigin(deps.origins, req, res)) return;
  const url = new URL(req.url ?? "/", "http://broker");
  const path = url.pathname;
  const method = req.method ?? "GET";

  if (method === "GET" && path === "/livez") return json(res, 200, { status: "ok" });
  if (method === "GET" && path === "/readyz") {
    const { shuttingDown } = deps.core.state;
    const ready = !shuttingDown && deps.backend.ready;
    // The event store's state is detail: routing goes on while it cannot write (events are buffered, then dropped).
    const events = deps.eventStore?.health();
    return json(res, ready ? 200 : 503, { status: ready ? "ready" : shuttingDown ? "shutting_down" : "backend_not_ready", events });
  }

  // The dashboard's files hold no data: the page loads, then asks for a token.
  if (deps.dashboard.serveAsset(method, path, res)) return;

  // Every other route needs the bearer token when auth is on [HTTP-1].
  const acl = authorize(deps, req);
  if (await deps.dashboard.route(method, path, url, req, res, acl)) return;
  const mount = deps.mounts.find((m) => path === m.prefix || path.startsWith(`${m.prefix}/`));
  if (mount !== undefined) return mount.handle(req, res);
  if (method === "GET" && path === "/metrics") {
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (method === "POST" && path === "/v1/tasks") return submit(deps, req, res, url, acl);
  if (method === "GET" && path === "/v1/events") return replay(deps, req, res, url, acl);
  const timeline = /^\/v1\/tasks\/([^/]+)\/events$/.exec(path);
  if (timeline !== null && method === "GET") return taskTimeline(deps, res, decodeURIComponent(timeline[1]!), acl);
  const retried = /^\/v1\/tasks\/([^/]+)\/retry$/.exec(path);
  if (retried !== null && method === "POST") return retry(deps, res, decodeURIComponent(retried[1]!), acl);
  const taskMatch = /^\/v1\/tasks\/([^/]+)$/.exec(path);
  if (taskMatch !== null && (method === "GET" || method === "DELETE")) {
    const id = decodeURIComponent(taskMatch[1]!);
    if (method === "DELETE") {
      const task = deps.core.cancel(acl, null, id, "cancelled over HTTP");
      return json(res, 200, { task_id: task.id, state: task.state });
    }
    const known = deps.core.tasks.table.get(id);
    // Another token's task is answered as an unknown one: its existence is not revealed [AUTH-8].
    const task = known !== undefined && Auth.ownsTask(acl, known.owner) ? known : undefined;
    if (known === undefined && Auth.ownsTask(acl, "")) {
      // Another broker's task that ran in the mesh: its stored result outlives its origin broker, and names no token.
      const stored = await deps.backend.storedOutcome(id);
      if (stored !== undefined) return json(res, 200, storedView(id, stored));
    }
    if (task === undefined) throw unknownTask(id);
    return json(res, 200, taskView(task));
  }
  if (method === "GET" && path === "/v1/agents") {
    const status = url.searchParams.get("status") ?? undefined;
    if (status !== undefined && !AgentStatusSchema.safeParse(status).success) throw errorFromCode("bad_frame", `bad status ${status}`);
    const filter = { capability: url.searchParams.get("capability") ?? undefined, status: status as z.infer<typeof AgentStatusSchema> | undefined };
    const agents = deps.core.query(filter);
    return json(res, 200, { agents });
  }
  if (method === "GET" && path === "/v1/pools") return json(res, 200, poolsView(deps.core.pools));
  if (/^\/v1\/(workflows|runs)(\/|$)/.test(path)) return workflowRoute({ engine: deps.core.workflows, readJson: (r) => readJson(r, deps.maxBodyBytes), json }, method, path, url, req, res, acl);
  const pubMatch = /^\/v1\/publish\/([^/]+)$/.exec(path);
  if (pubMatch !== null && method === "POST") {
    const topic = decodeURIComponent(pubMatch[1]!);
    if (!isValidTopic(topic)) throw errorFromCode("bad_frame", `not a valid topic: ${topic}`);
    const payload = encodePayload(await readJson(req, deps.maxBodyBytes));
    const { local, remote: sent } = deps.core.publish(acl, deps.core.state.brokerId, topic, payload, true);
    const remote = await sent;
    return json(res, 202, { delivered: local + remote });
  }
  throw errorFromCode("not_found", `no route ${method} ${path}`);
}

function authorize(deps: HttpDeps, req: IncomingMessage): TokenAcl | undefined {
  if (!deps.auth.enabled) return undefined;
  const acl = deps.auth.lookup(bearer(req.headers.authorization));
  if (acl === undefined) throw errorFromCode("unauthorized", "missing or unknown bearer token");
  return acl;
}

async function submit(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL, acl: TokenAcl | undefined): Promise<void> {
  const parsed = HttpSubmitSchema.safeParse(await readJson(req, deps.maxBodyBytes));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errorFromCode("bad_frame", `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  const body = parsed.data;
  const waitParam = url.searchParams.get("wait");
  const waitMs = waitParam === null ? -1 : /^\d{1,8}$/.test(waitParam) ? Number(waitParam) : NaN;
  if (Number.isNaN(waitMs) || waitMs > 86_400_000) throw errorFromCode("bad_frame", "wait must be an integer 0..86400000 (ms)");
  // The same submit as a `submit` frame's (BrokerCore.submit), mesh-wide idempotency keys included.
  let answer: { id: string; duplicate: boolean } | undefined;
  let foreign: { outcome: RemoteOutcome | undefined } | undefined;
  let foreignEnded: (() => void) | undefined;
  const reply: SubmitReply = {
    observer: null,
    follows: waitMs > 0,
    accepted: (_ref, id, duplicate) => void (answer = { id, duplicate }),
    foreignOutcome: (_ref, _id, outcome) => {
      foreign = { outcome };
      foreignEnded?.();
    },
  };
  await deps.core.submit(acl, { ...body, input: encodePayload(body.input ?? null) }, reply, "http");
  const { id, duplicate } = answer!;
  const task = deps.core.tasks.table.get(id);
  if (task === undefined || isMeshRun(task)) {
    // A task another broker accepted (its key was bound there): its outcome comes from the mesh.
    if (waitMs > 0 && foreign === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        foreignEnded = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const o = waitMs < 0 ? undefined : foreign?.outcome;
    // Its state while open is not known here: it was accepted and handed on.
    if (o === undefined) return json(res, 202, { task_id: id, state: "dispatched", duplicate: true });
    return json(res, 200, { task_id: id, state: endState(o.ok, o.error), ok: o.ok, output: o.output === undefined ? undefined : safeDecode(o.output), error: o.error });
  }
  if (waitMs > 0 && task.endedAt === 0) await waitForEnd(deps.core.tasks, task, waitMs);
  if (waitMs < 0 || task.endedAt === 0) {
    return json(res, 202, duplicate ? { task_id: task.id, state: task.state, duplicate } : { task_id: task.id, state: task.state });
  }
  const { task_id, state, ok, output, error } = taskView(task);
  return json(res, 200, { task_id, state, ok, output, error });
}

/** The event store, or not_found when the broker keeps none (`--events-max 0`). */
function store(deps: HttpDeps): EventStore {
  if (deps.eventStore === undefined) throw errorFromCode("not_found", "this broker keeps no events (--events-max 0)");
  return deps.eventStore;
}

/**
 * Every recorded event matching the query, as NDJSON in position order, streamed [HTTP-15]. Events span
 * every token's tasks: with authentication on, admin tokens only.
 */
async function replay(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, url: URL, acl: TokenAcl | undefined): Promise<void> {
  const events = store(deps);
  // Only who may see tasks of no token (an admin, or anyone with auth off), as for a stored outcome.
  if (!Auth.ownsTask(acl, "")) throw errorFromCode("forbidden", "replaying events needs an admin token");
  const q = url.searchParams;
  const text = (name: string): string | undefined => q.get(name) ?? undefined;
  const query: EventQuery = {
    from: timeParam(q.get("from"), "from"),
    to: timeParam(q.get("to"), "to"),
    types: q.get("type")?.split(",").filter((t) => t !== ""),
    task: text("task"),
    agent: text("agent"),
    capability: text("capability"),
    after: intParam(q.get("after"), "after", 0, Number.MAX_SAFE_INTEGER),
    limit: intParam(q.get("limit"), "limit", 1, 1_000_000) ?? 100_000,
  };
  if (q.has("follow")) return follow(events, req, res, query);
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  let chunk = "";
  for await (const e of events.read(query)) {
    chunk += `${jsonText(e)}\n`;
    if (chunk.length >= 64 * 1024) {
      const more = res.write(chunk);
      chunk = "";
      if (!more) await new Promise<void>((resolve) => res.once("drain", resolve));
      if (res.destroyed) return;
    }
  }
  res.end(chunk);
}

/**
 * The live tail: Server-Sent Events, each with its position as `id`, from after `Last-Event-ID` (or
 * `after`; else from now) and then as they are recorded, until the client goes. A client that
 * reconnects with `Last-Event-ID` misses nothing the store still holds and sees nothing twice.
 */
async function follow(events: EventStore, req: IncomingMessage, res: ServerResponse, query: EventQuery): Promise<void> {
  const last = req.headers["last-event-id"];
  let after = typeof last === "string" && /^\d{1,16}$/.test(last) ? Number(last) : (query.after ?? (query.from === undefined ? await events.head() : 0));
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let running = false;
  let again = false; // more may have been recorded while a read ran
  let gone = false;
  const batch = 10_000;
  const drained = (): Promise<void> => new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
  const pump = async (): Promise<void> => {
    if (running) return void (again = true);
    running = true;
    try {
      do {
        again = false;
        // Every event up to `head` is looked at by the read below: past it, non-matching ones are not read again.
        const head = await events.head();
        let chunk = "";
        let n = 0;
        for await (const e of events.read({ ...query, after, limit: batch })) {
          chunk += `id: ${e.position}\ndata: ${jsonText(e)}\n\n`;
          after = e.position;
          n++;
        }
        if (n < batch) after = Math.max(after, head);
        if (gone || chunk === "") continue;
        if (!res.write(chunk)) await drained();
        if (n === batch) again = true;
      } while (again && !gone);
    } catch (err) {
      // The store failed to answer (a database restarting): the client reconnects with Last-Event-ID.
      if (!gone) res.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      running = false;
    }
  };
  const off = events.onAppend(() => void pump());
  // A comment line now and then keeps proxies from closing an idle stream.
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  keepAlive.unref();
  res.on("close", () => {
    gone = true;
    off();
    clearInterval(keepAlive);
  });
  res.write(": following\n\n");
  await pump();
}

/** One task's recorded events, oldest first: its owner's token (or an admin) only [HTTP-16, AUTH-8]. */
async function taskTimeline(deps: HttpDeps, res: ServerResponse, id: string, acl: TokenAcl | undefined): Promise<void> {
  const found = await taskEvents(deps, id, acl, {});
  if (found.length === 0) throw unknownTask(id);
  json(res, 200, { task_id: id, events: found });
}

/** A task's recorded events the token may see; none for another token's task. */
async function taskEvents(deps: HttpDeps, id: string, acl: TokenAcl | undefined, query: EventQuery): Promise<StoredEvent[]> {
  const events = store(deps);
  const task = deps.core.tasks.table.get(id);
  // A task no longer held here names no token: its events are shown to admins only.
  const allowed = Auth.ownsTask(acl, task?.owner ?? "");
  if (!allowed) return [];
  const found: StoredEvent[] = [];
  for await (const e of events.read({ ...query, task: id })) found.push(e);
  return found;
}

/** Submits a recorded task again, from its recorded capability and input, as a new task of this token [HTTP-17]. */
async function retry(deps: HttpDeps, res: ServerResponse, id: string, acl: TokenAcl | undefined): Promise<void> {
  const [submitted] = await taskEvents(deps, id, acl, { types: ["task.submitted"], limit: 1 });
  if (submitted === undefined) throw unknownTask(id);
  const { capability, payload, payload_bytes } = submitted.data as TaskEvent;
  if (payload === undefined) {
    const why = payload_bytes === undefined ? "this broker records no inputs (--events-payloads 0)" : `its ${payload_bytes} bytes were over --events-payloads`;
    throw errorFromCode("not_found", `task ${id}'s input was not recorded: ${why}`);
  }
  let answer: string | undefined;
  const reply: SubmitReply = { observer: null, follows: false, accepted: (_ref, taskId) => void (answer = taskId), foreignOutcome: () => {} };
  await deps.core.submit(acl, { capability, input: payload }, reply, "http");
  json(res, 202, { task_id: answer, retry_of: id });
}

/** A time parameter: epoch milliseconds or an ISO 8601 date-time. */
function timeParam(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) throw errorFromCode("bad_frame", `${name} must be epoch milliseconds or an ISO 8601 date-time`);
  return ms;
}

function intParam(value: string | null, name: string, min: number, max: number): number | undefined {
  if (value === null) return undefined;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw errorFromCode("bad_frame", `${name} must be an integer ${min}..${max}`);
  return n;
}

function waitForEnd(tasks: TaskService, task: TaskRecord, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const observer: TaskObserver = {
      onProgress() {},
      onResult(): void {
        clearTimeout(timer);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      tasks.unwatch(task, observer);
      resolve();
    }, ms);
    tasks.watch(task, observer, undefined);
  });
}

function taskView(t: TaskRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    task_id: t.id,
    capability: t.capability,
    state: t.state,
    attempt: everDispatched(t) ? t.attempt : 0,
    priority: t.priority,
    created_at: createdAt(t),
  };
  if (t.endedAt !== 0) {
    view.ended_at = t.endedAt;
    view.ok = t.ok;
    if (t.output !== undefined) view.output = safeDecode(t.output);
    if (t.error !== undefined) view.error = t.error;
  }
  return view;
}

/** The view of a task known only by its stored mesh outcome (no record here: no capability or times). */
function storedView(id: string, o: RemoteOutcome): Record<string, unknown> {
  const view: Record<string, unknown> = {
    task_id: id,
    state: endState(o.ok, o.error),
    attempt: o.attempt ?? 1,
    ok: o.ok,
  };
  if (o.output !== undefined) view.output = safeDecode(o.output);
  if (o.error !== undefined) view.error = o.error;
  return view;
}

/** A payload document as JSON [HTTP-5]: bin as base64, NaN/infinities and extensions as null. */
function safeDecode(bytes: Uint8Array): unknown {
  let doc: unknown;
  try {
    doc = decodePayload(bytes);
  } catch {
    return null;
  }
  return toJson(doc);
}

function toJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [typeof k === "string" ? k : JSON.stringify(toJson(k)), toJson(x)]));
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  }
  return null;
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw errorFromCode("frame_too_large", `body larger than ${max} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  // Checked before anything recurses over the document (parse, conversion to MessagePack).
  if (nestsDeeperThan(text, LIMITS.maxJsonDepth)) throw errorFromCode("bad_frame", `body nests arrays and objects deeper than ${LIMITS.maxJsonDepth}`);
  try {
    return JSON.parse(text || "null");
  } catch (err) {
    throw errorFromCode("bad_frame", `body is not JSON: ${(err as Error).message}`);
  }
}

/** Whether JSON text nests arrays and objects deeper than `max`: one pass, strings skipped, no recursion. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // To the closing quote; a backslash escapes the character after it.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** JSON text of an answer: a bigint as a number, a payload (MessagePack bytes, e.g. a recorded input) as its JSON document [HTTP-5]. */
function jsonText(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v instanceof Uint8Array ? safeDecode(v) : v));
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = jsonText(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
