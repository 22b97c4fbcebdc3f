/**
 * The WebSocket adapter: each decoded frame of a session becomes one BrokerCore call, and what the
 * core refuses becomes an error frame (or, for a refused register, a close) in one place.
 */
import { AgentwireError, errorFromCode, type Frame } from "@agentwire/wire";
import type { Logger } from "pino";
import type { BrokerConfig } from "./config.js";
import type { BrokerCore } from "./core.js";
import type { Metrics } from "./metrics.js";
import type { FrameHandler, Session } from "./session.js";
import { carried } from "./trace.js";
import { onRun, onRunCancel, onRunWatch } from "./workflows/sessions.js";

export class Handlers implements FrameHandler {
  constructor(
    private readonly config: BrokerConfig,
    private readonly core: BrokerCore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly sessions: Set<Session>,
  ) {}

  handle(s: Session, f: Frame): void {
    try {
      this.dispatch(s, f);
    } catch (err) {
      this.refused(s, f, err);
    }
  }

  private dispatch(s: Session, f: Frame): void {
    const core = this.core;
    switch (f.type) {
      case "register":
        return core.register(s, f);
      case "heartbeat":
        return core.heartbeat(s, f);
      case "submit": {
        if (!s.hasRoom(this.config.maxInFlight)) throw errorFromCode("overloaded", `session has ${s.openItems} tasks and requests open (max_in_flight)`);
        const pending = core.submit(s.acl, f, s, f.ref);
        if (pending !== undefined) s.hold(pending, f.ref);
        return;
      }
      case "progress":
        return core.progress(s, f);
      case "result":
        return core.result(s, f);
      case "cancel":
        core.cancel(s.acl, s, f.task_id, f.reason);
        return this.ack(s, f.ref);
      case "attach": {
        const pending = core.attach(s, f);
        if (pending !== undefined) s.hold(pending, f.ref);
        return;
      }
      case "send":
        return core.send(s, f);
      case "subscribe":
        core.subscribe(s, f.topic);
        return this.ack(s, f.ref);
      case "unsubscribe":
        core.unsubscribe(s, f.topic);
        return this.ack(s, f.ref);
      case "publish":
        void core.publish(s.acl, s.agentId, f.topic, f.payload, false, carried(f)).remote.catch((err: unknown) => this.log.warn({ err }, "remote publish failed"));
        return this.ack(s, f.ref);
      case "request":
        return core.request(s, f);
      case "response":
        return core.respond(s, f);
      case "query":
        // Local and cached remote agents, answered in order with the session's other frames [CONN-7].
        return s.send({ type: "agents", ref: f.ref, agents: core.query(f) });
      case "drain":
        core.drain(s);
        return this.ack(s, f.ref);
      case "pool":
        core.pool(s, f);
        return this.ack(s, f.ref);
      case "run":
        return onRun(core.workflows, s, f);
      case "run_cancel":
        return onRunCancel(core.workflows, s, f);
      case "run_watch":
        return onRunWatch(core.workflows, s, f);
      default:
        // decode() only lets through frames a broker accepts, so this is a broker→peer type.
        throw errorFromCode("unknown_type", `${f.type} is not accepted by a broker`);
    }
  }

  /**
   * What the core refused, as the protocol says: a refused register closes the session (REG-3, REG-4,
   * REG-6, CONN-2), but a repeated or malformed one only gets an error (CONN-5); a refused request is
   * a failed `response` for its id (REQ-6); anything else an error frame for the frame's ref (ERR-*).
   */
  private refused(s: Session, f: Frame, err: unknown): void {
    if (!(err instanceof AgentwireError)) return s.fail(err, refOf(f));
    const ref = err.ref ?? refOf(f);
    if (f.type === "register" && err.code !== "already_registered" && err.code !== "bad_frame") return s.close(err.code, err.message, ref, err.details);
    if (f.type === "request") return this.core.messaging.fail(s, f.id, err.code, err.message);
    if (f.type === "cancel") return s.error(err.code, err.message, f.ref ?? f.task_id, err.details);
    s.error(err.code, err.message, ref, err.details);
  }

  gone(s: Session): void {
    this.sessions.delete(s);
    this.core.gone(s);
  }

  errorSent(code: string): void {
    this.metrics.error(code);
  }

  private ack(s: Session, ref: string | undefined): void {
    if (ref !== undefined) s.send({ type: "ack", ref });
  }
}

function refOf(f: Frame): string | undefined {
  return "ref" in f && typeof f.ref === "string" ? f.ref : undefined;
}
