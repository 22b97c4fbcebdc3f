/** A broker's recorded event as its HTTP API serves it (SPEC HTTP-15): one NDJSON line, or one SSE `data:`. */
export interface RecordedEvent<D = Record<string, unknown>> {
  /** Orders every event of one store, from 1. */
  position: number;
  /** Unique per event. */
  event_id: string;
  /** `task-<task_id>`, `agent-<agent_id>`, `request-<id>` or `topic-<topic>`. */
  stream: string;
  /** Counts the stream's events from 1, without gaps. */
  stream_position: number;
  /** `task.submitted`, `agent.registered`, ... (docs/events.md). */
  type: string;
  /** When it happened, Unix ms. */
  at: number;
  broker_id: string;
  /** The event as the broker's bus announced it (docs/events.md: TaskEvent, AgentEvent, MessageEvent). */
  data: D;
}
