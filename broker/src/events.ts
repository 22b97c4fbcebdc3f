/**
 * The broker's event bus: every task and agent transition, announced once, in order, in process
 * (docs/events.md is the catalogue; its names are a public API). The task service and the registry
 * emit; metrics, and later an event store or a dashboard, listen.
 *
 * Emitting costs nothing when nobody listens, and a transition allocates nothing for listeners that
 * only count: listeners get the live record and the event type; `taskEvent()`/`agentEvent()` make the
 * plain, stable event object for listeners that keep it. A listener that throws is logged and does
 * not disturb routing or the other listeners.
 */
import type { Logger } from "pino";
import type { AgentStatus, ErrorInfo, TaskState, WorkflowEventType } from "@agentwire/wire";
import type { Decision } from "./pools/autoscaler.js";
import type { TaskRecord } from "./tasks/task-table.js";

export const TASK_EVENTS = [
  "task.submitted",
  "task.queued",
  "task.dispatched",
  "task.running",
  "task.progress",
  "task.requeued",
  "task.succeeded",
  "task.failed",
  "task.cancelled",
  "task.deadline_exceeded",
] as const;
export type TaskEventType = (typeof TASK_EVENTS)[number];

export const AGENT_EVENTS = ["agent.registered", "agent.status", "agent.draining", "agent.evicted", "agent.left"] as const;
export type AgentEventType = (typeof AGENT_EVENTS)[number];

/** Direct messages, publishes and requests: metadata only (who, to whom, how large), not a state machine. */
export const MESSAGE_EVENTS = ["message.sent", "message.published", "request.sent", "request.answered"] as const;
export type MessageEventType = (typeof MESSAGE_EVENTS)[number];

/** Pool decisions (broker/src/pools): one event per decision of a pool's autoscaler [POOL-14]. */
export const POOL_EVENTS = ["pool.scaled"] as const;
export type PoolEventType = (typeof POOL_EVENTS)[number];

/** The event a task's arrival in an end state announces. */
export const END_EVENT: Readonly<Record<"succeeded" | "failed" | "cancelled" | "deadline_exceeded", TaskEventType>> = {
  succeeded: "task.succeeded",
  failed: "task.failed",
  cancelled: "task.cancelled",
  deadline_exceeded: "task.deadline_exceeded",
};

/** What a listener is told of an agent: its session's public face. */
export interface AgentSubject {
  readonly agentId: string;
  readonly status: AgentStatus;
  readonly caps: ReadonlyMap<string, unknown>;
}

export interface Listener {
  /** A task transition; `task` is the live record (read it now, do not keep it). */
  task?(type: TaskEventType, task: TaskRecord, at: number, cause: string | undefined): void;
  agent?(type: AgentEventType, agent: AgentSubject, at: number, cause: string | undefined): void;
  /** A message, publish or request; `event` is a fresh object the listener may keep. */
  message?(event: MessageEvent): void;
  /** A pool decision; `event` is a fresh object the listener may keep. */
  pool?(event: PoolEvent): void;
  /** A workflow run's or step's transition; `event` is a fresh object the listener may keep. */
  workflow?(event: WorkflowEvent): void;
}

/** A task event as kept (event store, dashboard): plain data, stable field names. */
export interface TaskEvent {
  type: TaskEventType;
  /** Unix ms. */
  at: number;
  broker_id: string;
  task_id: string;
  capability: string;
  state: TaskState;
  attempt: number;
  /** The agent of the current attempt, once dispatched to a local agent. */
  agent_id?: string | undefined;
  /** Why, where the type alone does not say (e.g. `agent_lost`, `retryable_failure`, `shutting_down`). */
  cause?: string | undefined;
  /** The error of a failed, cancelled or deadline_exceeded task. */
  error?: ErrorInfo | undefined;
  /**
   * Recorded by an event store that keeps payloads (`--events-payloads`): the task's input on
   * `task.submitted`, its output on `task.succeeded` (one MessagePack document), when no larger than the cap.
   */
  payload?: Uint8Array | undefined;
  /** The size of a payload larger than the cap, which was not kept. */
  payload_bytes?: number | undefined;
  /** The submit's W3C trace context, on each event of a task that carried one [TRACE-7]. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

export interface AgentEvent {
  type: AgentEventType;
  at: number;
  broker_id: string;
  agent_id: string;
  status: AgentStatus;
  capabilities: string[];
  cause?: string | undefined;
}

/** A direct message, publish or request as kept: who sent it where, and its size. */
export interface MessageEvent {
  type: MessageEventType;
  at: number;
  broker_id: string;
  /** The sender: an agent id, a client's session id, or the broker's id (HTTP publish). */
  from: string;
  /** The target agent of a direct message or of a request by id. */
  to?: string | undefined;
  /** The target capability of a request by capability. */
  capability?: string | undefined;
  topic?: string | undefined;
  /** The broker's id of a request (its stream is `request-<id>`). */
  request_id?: string | undefined;
  /** Sessions of this broker a publish reached. */
  delivered?: number | undefined;
  /** A request's answer: whether it succeeded, and its error code if not. */
  ok?: boolean | undefined;
  code?: string | undefined;
  /** Size of the payload (message body, request or response payload). */
  bytes: number;
  /** The payload itself, with `--events-payloads`, when no larger than the cap. */
  payload?: Uint8Array | undefined;
  /** The send's, publish's or request's W3C trace context, when it carried one [TRACE-7]. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** A pool's autoscaler decided a new size (docs/events.md, POOL-14): the decision and its figures; its stream is `pool-<name>`. */
export interface PoolEvent extends Decision {
  type: PoolEventType;
  at: number;
  /** The deciding broker. */
  broker_id: string;
  pool: string;
}

/** A workflow run's or step's transition (docs/events.md, WF-22); its stream is `workflow-<run_id>`. */
export interface WorkflowEvent {
  type: WorkflowEventType;
  at: number;
  /** The broker running the run. */
  broker_id: string;
  run_id: string;
  /** The definition's name and version. */
  workflow: string;
  version: string;
  /** On `workflow.step.*`: the step, its attempt, and on `workflow.step.started` the attempt's task. */
  step?: string | undefined;
  attempt?: number | undefined;
  task_id?: string | undefined;
  /** On `workflow.step.retrying`: time until the next attempt. */
  delay_ms?: number | undefined;
  /** The failed attempt's, step's or run's error. */
  error?: ErrorInfo | undefined;
}

/** Any event the bus announces, as kept. */
export type BusEvent = TaskEvent | AgentEvent | MessageEvent | PoolEvent | WorkflowEvent;

export function taskEvent(brokerId: string, type: TaskEventType, task: TaskRecord, at: number, cause: string | undefined): TaskEvent {
  return {
    type,
    at,
    broker_id: brokerId,
    task_id: task.id,
    capability: task.capability,
    state: task.state,
    attempt: task.attempt,
    agent_id: eventAgentId(task),
    cause,
    error: eventError(task),
    traceparent: task.trace?.traceparent,
    tracestate: task.trace?.tracestate,
  };
}

/** A task event's `agent_id`: the agent of the current attempt, once dispatched to a local agent. */
export function eventAgentId(task: TaskRecord): string | undefined {
  const agent = task.agent;
  return agent === null ? undefined : typeof agent === "string" ? agent : (agent as AgentSubject).agentId;
}

/** A task event's `error`: the state is already the end state when its event is announced (endedAt is set just after). */
export function eventError(task: TaskRecord): ErrorInfo | undefined {
  return task.state === "failed" || task.state === "cancelled" || task.state === "deadline_exceeded" ? task.error : undefined;
}

export function agentEvent(brokerId: string, type: AgentEventType, agent: AgentSubject, at: number, cause: string | undefined): AgentEvent {
  return { type, at, broker_id: brokerId, agent_id: agent.agentId, status: agent.status, capabilities: [...agent.caps.keys()], cause };
}

export class EventBus {
  private listeners: Listener[] = [];
  /** True when someone listens: emitters skip all work otherwise. */
  active = false;

  constructor(private readonly log: Logger) {}

  /** Adds a listener; returns its removal. */
  on(listener: Listener): () => void {
    this.listeners = [...this.listeners, listener];
    this.active = true;
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.active = this.listeners.length > 0;
    };
  }

  task(type: TaskEventType, task: TaskRecord, cause?: string): void {
    const at = Date.now();
    for (const l of this.listeners) {
      if (l.task === undefined) continue;
      try {
        l.task(type, task, at, cause);
      } catch (err) {
        this.log.warn({ err, event: type, task_id: task.id }, "event listener failed");
      }
    }
  }

  /** Announces a message event; callers build it only when `active`. */
  message(event: MessageEvent): void {
    this.emit("message", event);
  }

  /** Announces a pool decision; callers build it only when `active`. */
  pool(event: PoolEvent): void {
    this.emit("pool", event, { pool: event.pool });
  }

  /** Announces a workflow transition; callers build it only when `active`. */
  workflow(event: WorkflowEvent): void {
    this.emit("workflow", event, { run_id: event.run_id });
  }

  /** Hands a kept event object to every listener of its kind; `log` names it when one throws. */
  private emit<K extends "message" | "pool" | "workflow">(kind: K, event: Parameters<NonNullable<Listener[K]>>[0], log?: Record<string, string>): void {
    for (const l of this.listeners) {
      const listen = l[kind] as ((e: typeof event) => void) | undefined;
      if (listen === undefined) continue;
      try {
        listen.call(l, event);
      } catch (err) {
        this.log.warn({ err, event: event.type, ...log }, "event listener failed");
      }
    }
  }

  agent(type: AgentEventType, agent: AgentSubject, cause?: string): void {
    const at = Date.now();
    for (const l of this.listeners) {
      if (l.agent === undefined) continue;
      try {
        l.agent(type, agent, at, cause);
      } catch (err) {
        this.log.warn({ err, event: type, agent_id: agent.agentId }, "event listener failed");
      }
    }
  }
}
