/**
 * One WebSocket connection: decode → validate → route → encode, with plain data between the steps.
 * State machine: awaiting_register → ready → draining → closed [CONN-1].
 */
import type { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { WriteBatcher } from "./write-batch.js";
import {
  isId,
  AgentwireError,
  CLOSE_CODES,
  ERROR_CODES,
  PEER_TO_BROKER,
  decode,
  encode,
  isErrorCode,
  type AgentStatus,
  type Frame,
} from "@agentwire/wire";
import type { TokenAcl } from "./config.js";
import { everDispatched, type TaskObserver, type TaskRecord } from "./tasks/task-table.js";
import type { RequestRecord } from "./requests.js";
import type { RemoteOutcome } from "./backend.js";
import type { SubmitReply } from "./tasks/submissions.js";

export type SessionState = "awaiting_register" | "ready" | "draining" | "closed";

/** A capability as an agent registered it, with its semver checks cached per range. */
export interface OfferedCapability {
  readonly name: string;
  readonly version: string;
  readonly tags: readonly string[];
  readonly raw: Record<string, unknown>;
  readonly ranges: Map<string, boolean>;
}

/** What a session hands its decoded frames to (the broker's handlers). */
export interface FrameHandler {
  handle(session: Session, frame: Frame): void;
  /** The session ended (closed, evicted, destroyed): requeue its tasks etc. Called once. */
  gone(session: Session): void;
  errorSent(code: string): void;
}

export interface SessionLimits {
  maxFrameBytes: number;
  sendBufferBytes: number;
  batcher: WriteBatcher;
}

/** Corked bytes after which a socket is flushed before the turn ends (4 KiB measured best: bench/README.md). */
const FLUSH_BYTES = 4 * 1024;

export class Session implements TaskObserver, SubmitReply {
  state: SessionState = "awaiting_register";
  agentId = "";
  name = "";
  /** Registration order, for round robin. */
  seq = 0;
  readonly caps = new Map<string, OfferedCapability>();
  capacity = 0;
  tier = 0;
  tags: readonly string[] = [];
  status: AgentStatus = "ready";
  /** The pool this agent is a member of (`register.pool`) [POOL-1]. */
  pool: string | undefined;
  reportedInFlight = 0;
  /** Tasks dispatched to this agent and not ended. */
  readonly tasks = new Set<TaskRecord>();
  /** Requests forwarded to this session and not answered. */
  readonly requestsIn = new Set<RequestRecord>();
  /** Tasks submitted + requests made by this session and still open (max_in_flight) [LIMIT-2]. */
  private open = 0;
  /** Topic patterns this session subscribed to (LIMIT-7 counts them). */
  private readonly subscriptions = new Set<string>();
  lastSeen: number;
  connectedAt = 0;
  acl: TokenAcl | undefined;
  /** Requests this session made and that are pending, by the caller's id. */
  readonly requestsOut = new Map<string, RequestRecord>();
  private slow = false;
  /** Frames that arrived while an earlier frame's handling waits on the mesh (`hold`), in order. */
  private backlog: (Buffer | ArrayBuffer | Buffer[])[] | undefined;
  /** Whether the socket is corked until the end of this event-loop turn (WriteBatcher). */
  corked = false;

  constructor(
    readonly id: string,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly handler: FrameHandler,
    private readonly limits: SessionLimits,
    /** Bearer token from the upgrade request, if any. */
    readonly upgradeToken: string | undefined,
  ) {
    this.lastSeen = Date.now();
    ws.on("message", this.onMessage);
    ws.on("close", this.onClose);
    ws.on("error", this.onClose);
    // Past ws's maxPayload (max_frame_bytes + 64 KiB) ws stops reading; shorter ones reach decode().
    onMessageTooBig(ws, () => this.close("frame_too_large", `message longer than max_frame_bytes ${limits.maxFrameBytes}`, undefined, { max: limits.maxFrameBytes }));
  }

  get isAgent(): boolean {
    return this.caps.size > 0;
  }

  /** Broker-counted in-flight, or the agent's own figure when higher. */
  get load(): number {
    const n = Math.max(this.tasks.size, this.reportedInFlight);
    return this.capacity > 0 ? n / this.capacity : 1;
  }

  /**
   * The frame being handled waits for `work` (a round trip to the mesh): frames after it are kept and
   * handled once it settles, in the order received [CONN-7]; reading from the socket pauses meanwhile,
   * so a peer cannot grow the backlog without bound. A failure of `work` is sent as an error.
   */
  hold(work: Promise<void>, ref?: string): void {
    this.backlog ??= [];
    this.ws.pause();
    void work.catch((err: unknown) => this.fail(err, ref)).finally(this.release);
  }

  private readonly release = (): void => {
    const queued = this.backlog ?? [];
    this.backlog = undefined;
    for (let i = 0; i < queued.length; i++) {
      this.handleMessage(queued[i]!, true);
      if (this.backlog !== undefined) {
        (this.backlog as (Buffer | ArrayBuffer | Buffer[])[]).push(...queued.slice(i + 1));
        return;
      }
    }
    if (this.state !== "closed") this.ws.resume();
  };

  private readonly onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
    if (this.state === "closed") return;
    this.lastSeen = Date.now();
    if (this.backlog !== undefined && isBinary) {
      this.backlog.push(data);
      return;
    }
    this.handleMessage(data, isBinary);
  };

  private handleMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.state === "closed") return;
    if (!isBinary) {
      this.error("bad_frame", "text messages are not allowed; send binary MessagePack");
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    let frame: Frame;
    try {
      frame = decode(bytes, { maxFrameBytes: this.limits.maxFrameBytes, accept: PEER_TO_BROKER });
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.state === "awaiting_register" && frame.type !== "register") {
      this.error("not_registered", "send register first", refOf(frame));
      return;
    }
    try {
      this.handler.handle(this, frame);
    } catch (err) {
      this.fail(err, refOf(frame));
    }
  }

  private readonly onClose = (): void => {
    this.markGone();
  };

  /** Sends an encoded frame; a socket past its buffer bound is dropped as a slow consumer. */
  sendBytes(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.limits.batcher.add(this);
    }
    this.ws.send(bytes);
    // A long turn (a full read buffer of frames) still lets the peer start on the first frames.
    if (this.socket.writableLength >= FLUSH_BYTES) {
      this.socket.uncork();
      this.socket.cork();
    }
    if (this.ws.bufferedAmount > this.limits.sendBufferBytes && !this.slow) {
      this.slow = true;
      // Deferred so that closing (and requeueing this session's tasks) never runs inside a dispatch loop.
      queueMicrotask(() => this.close("slow_consumer", `send buffer passed ${this.limits.sendBufferBytes} bytes`));
    }
  }

  send(frame: Frame): void {
    if (this.state !== "closed") this.sendBytes(encode(frame));
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Sends an error frame; codes that do not survive close the connection after it. */
  error(code: string, message: string, ref?: string, details?: Record<string, unknown>): void {
    const survives = isErrorCode(code) ? ERROR_CODES[code].survives : true;
    if (!survives) {
      this.close(code, message, ref, details);
      return;
    }
    this.handler.errorSent(code);
    this.send({ type: "error", code, message, ref: validRef(ref), details });
  }

  fail(err: unknown, ref?: string): void {
    if (err instanceof AgentwireError) this.error(err.code, err.message, err.ref ?? ref, err.details);
    else this.error("internal", err instanceof Error ? err.message : String(err), ref);
  }

  /** Sends a fatal error, closes the socket with the code of TRANS-8 and treats the session as gone at once. */
  close(code: string, message: string, ref?: string, details?: Record<string, unknown>): void {
    this.closeWith(isErrorCode(code) ? ERROR_CODES[code].close : CLOSE_CODES.policyViolation, message, code, ref, details);
  }

  /** Closes the socket (after a fatal error frame when `code` is given) and treats the session as gone. */
  closeWith(wsCode: number, message: string, code?: string, ref?: string, details?: Record<string, unknown>): void {
    if (this.state === "closed") return;
    if (code !== undefined) {
      this.handler.errorSent(code);
      this.ws.send(encode({ type: "error", code, message, ref: validRef(ref), details, fatal: true }));
    }
    this.ws.close(wsCode, message.slice(0, 120));
    // A peer that never reads would keep the close handshake open: cut it after a grace period.
    setTimeout(() => this.ws.terminate(), 2_000).unref();
    this.markGone();
  }

  /** Cuts the connection without a handshake (eviction of a silent peer). */
  terminate(): void {
    this.ws.terminate();
    this.markGone();
  }

  private markGone(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.handler.gone(this);
  }

  // ---- open items: the one count of this session's open tasks and requests ----

  get openItems(): number {
    return this.open;
  }

  /** Whether one more task or request fits under `max` open items [LIMIT-2]. */
  hasRoom(max: number): boolean {
    return this.open < max;
  }

  /** A task this session submitted was accepted, or a request it made is pending. */
  itemOpened(): void {
    this.open++;
  }

  /** One of those ended (its result, or its response, was sent). */
  itemEnded(): void {
    this.open--;
  }

  // ---- SubmitReply: how this session hears of its submits ----

  readonly follows = true;

  get observer(): TaskObserver {
    return this;
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  hasSubscription(pattern: string): boolean {
    return this.subscriptions.has(pattern);
  }

  /** Adds a subscription; false when the session held it already. */
  addSubscription(pattern: string): boolean {
    if (this.subscriptions.has(pattern)) return false;
    this.subscriptions.add(pattern);
    return true;
  }

  /** Removes a subscription; false when the session did not hold it. */
  removeSubscription(pattern: string): boolean {
    return this.subscriptions.delete(pattern);
  }

  /** Every subscription, which the session no longer holds (it ended). */
  takeSubscriptions(): string[] {
    const all = [...this.subscriptions];
    this.subscriptions.clear();
    return all;
  }

  accepted(ref: string, taskId: string, duplicate: boolean): void {
    if (!duplicate) this.itemOpened();
    this.send(duplicate ? { type: "accepted", ref, task_id: taskId, duplicate: true } : { type: "accepted", ref, task_id: taskId });
  }

  /** An `accepted` that comes once the task's event is written: later frames go on meanwhile. */
  answerLater(work: Promise<void>, ref: string): void {
    void work.catch((err: unknown) => this.fail(err, ref));
  }

  /** A task's `result` from its stored outcome in the mesh (undefined: none before its deadline). */
  foreignOutcome(ref: string, taskId: string, outcome: RemoteOutcome | undefined): void {
    const o = outcome ?? { ok: false, error: { code: "deadline_exceeded", message: "the task's deadline passed", retryable: true } };
    this.send({ type: "result", task_id: taskId, ok: o.ok, output: o.ok ? o.output : undefined, error: o.ok ? undefined : o.error, attempt: o.attempt, ref });
  }

  // ---- TaskObserver: the submitter side ----

  onProgress(task: TaskRecord, data: Uint8Array): void {
    this.send({ type: "progress", task_id: task.id, data });
  }

  onResult(task: TaskRecord, ref: string | undefined, submitted: boolean): void {
    if (submitted) this.itemEnded();
    this.send({
      type: "result",
      task_id: task.id,
      ok: task.ok,
      output: task.output,
      error: task.error,
      attempt: everDispatched(task) ? task.attempt : undefined,
      ref,
    });
  }
}

/** Errors of ws's receiver for a message longer than its `maxPayload` (ws closes those with 1009). */
const TOO_BIG = new Set(["WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"]);

/**
 * Calls `tooBig` when ws refuses a message longer than its `maxPayload`, while the socket is still
 * open: ws's own listener closes it with 1009 and only then emits 'error', too late for the fatal
 * error frame that must come first [ENC-8]. ws has no public hook, so this listens ahead of ws on
 * its private `_receiver` (ws 8); broker/test/security.test.ts pins the behaviour.
 */
function onMessageTooBig(ws: WebSocket, tooBig: () => void): void {
  const receiver = (ws as unknown as { _receiver?: EventEmitter })._receiver;
  receiver?.prependListener("error", (err: { code?: unknown }) => {
    if (typeof err.code === "string" && TOO_BIG.has(err.code)) tooBig();
  });
}


/** An invalid id (the reason a frame failed, maybe) is never echoed: the error frame must stay valid. */
function validRef(ref: string | undefined): string | undefined {
  return ref !== undefined && isId(ref) ? ref : undefined;
}

function refOf(frame: Frame): string | undefined {
  const f = frame as { ref?: unknown; task_id?: unknown; id?: unknown };
  const r = f.ref ?? f.task_id ?? f.id;
  return typeof r === "string" ? r : undefined;
}
