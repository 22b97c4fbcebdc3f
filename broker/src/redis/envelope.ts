/** Wire formats of values the mesh stores in Redis: task entries, responses, publish messages. */
import type { RemoteOutcome, RemoteTask } from "../backend.js";
import { ownerTag } from "../auth.js";
import { everDispatched, type TaskRecord } from "../tasks/task-table.js";
import { decodePayload, encodePayload, type ErrorInfo, type TraceContext } from "@agentwire/wire";

/**
 * A control entry one broker sends another through the receiver's ready list (the same blocking
 * connection that reads responses, so the connection count stays constant and entries keep their
 * order: a task's progress entries precede its response). Binary fields are base64.
 */
export type MeshControl =
  /** To the broker holding agent `agent`: put it into DRAINING [DRAIN-7]. */
  | { k: "drain"; agent: string; cause: string }
  /** To the executing broker: the origin cancelled (or timed out) a task it handed over. */
  | { k: "cancel"; origin: string; task: string; reason: string }
  /** To the origin: a broker reclaimed its handed-over task from a dead broker and handed it to `to` as `attempt`. */
  | { k: "moved"; task: string; to: string; attempt: number }
  /** To the origin: progress of a handed-over task (`task` is the origin's id). */
  | { k: "progress"; task: string; attempt: number; data: string }
  /** To the broker holding agent `to`: a direct message. */
  | { k: "message"; to: string; from: string; payload: string; cid?: string | undefined; tp?: string | undefined; ts?: string | undefined }
  /** To the broker holding the target: a request; `id` is the origin's request record id. */
  | { k: "request"; origin: string; id: string; to?: string | undefined; cap?: string | undefined; from: string; payload: string; deadline: number; tp?: string | undefined; ts?: string | undefined }
  /** To the origin: the answer to request `id`. */
  | { k: "response"; id: string; ok?: boolean | undefined; payload?: string | undefined; error?: ErrorInfo | undefined; tp?: string | undefined; ts?: string | undefined };


/** A task as handed to broker `target` (its queue then holds it, with the input and the time left). */
export function handoffOf(task: TaskRecord, origin: string, target: string): RemoteTask {
  // The time left, and the origin's deadline too: where the two brokers' clocks agree, the receiver ends it at the same moment (runHandedOver).
  return remoteTask(task, origin, target, task.input, Math.max(1, task.deadline - Date.now()), task.deadline);
}

const NO_INPUT = new Uint8Array(0);

/**
 * A task's open record at its origin (`aw:{b:<origin>}:open`). Once another broker's queue holds it
 * (`handedTo`), a recovery leaves it to that broker and the input is not kept; until then the task may
 * have to run elsewhere, from this record.
 */
export function taskRecord(task: TaskRecord, origin: string, handedTo?: string): RemoteTask {
  return remoteTask(task, origin, handedTo ?? "", handedTo === undefined ? task.input : NO_INPUT, task.timeoutMs, task.deadline);
}

/** One object literal, no spreads: built per task on the hot path. An undefined field is not encoded. */
function remoteTask(task: TaskRecord, origin: string, target: string, input: Uint8Array, timeoutMs: number, deadline: number | undefined): RemoteTask {
  return {
    task_id: task.id,
    capability: task.capability,
    input,
    origin_broker: origin,
    target_broker: target,
    timeout_ms: timeoutMs,
    attempt: task.attempt,
    max_attempts: task.maxAttempts,
    version: task.version,
    tags: task.tags,
    priority: task.priority,
    strategy: task.strategy,
    deadline,
    owner: ownerTag(task.owner),
    traceparent: task.trace?.traceparent,
    tracestate: task.trace?.tracestate,
  };
}

/** The outcome of an ended task, as stored in its response key. */
export function outcomeOf(task: TaskRecord): Buffer {
  return encodeOutcome({ ok: task.ok, output: task.output, error: task.error, attempt: everDispatched(task) ? task.attempt : undefined, owner: ownerTag(task.owner) });
}

/** A task stream entry has one field, `t`: the task as one MessagePack map, its input as `bin`. */
export const TASK_FIELD = "t";

export function encodeTask(t: RemoteTask): Buffer {
  const bytes = encodePayload(t);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const optional = (v: unknown, check: (v: unknown) => boolean): boolean => v === undefined || v === null || check(v);

const OPTIONAL_FIELDS = ["max_attempts", "version", "tags", "priority", "strategy", "deadline", "owner", "traceparent", "tracestate"] as const;

/** The task of a stream entry's field/value list, or undefined when it holds none (or a malformed one). */
export function decodeTask(fields: readonly Buffer[]): RemoteTask | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === TASK_FIELD) return decodeTaskBytes(fields[i + 1]!);
  return undefined;
}

/** A task encoded by `encodeTask` (a stream entry's field, or an open-task record), or undefined when malformed. */
export function decodeTaskBytes(bytes: Buffer): RemoteTask | undefined {
  let v: Record<string, unknown>;
  try {
    v = decodePayload<Record<string, unknown>>(bytes);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const ok =
    isStr(v.task_id) && isStr(v.capability) && v.input instanceof Uint8Array && isStr(v.origin_broker) && isStr(v.target_broker) &&
    isInt(v.timeout_ms) && isInt(v.attempt) && optional(v.max_attempts, isInt) && optional(v.version, isStr) &&
    optional(v.tags, (t) => Array.isArray(t) && t.every(isStr)) && optional(v.priority, isStr) && optional(v.strategy, isStr) &&
    optional(v.deadline, isInt) && optional(v.owner, isStr) && optional(v.traceparent, isStr) && optional(v.tracestate, isStr);
  if (!ok) return undefined;
  for (const k of OPTIONAL_FIELDS) if (v[k] === null) delete v[k];
  return v as unknown as RemoteTask;
}

/**
 * A stored outcome (response key, ready entry): one MessagePack map {ok, output (bin), error, attempt,
 * owner}, the output's bytes as they are (no base64, no JSON string for Redis to carry and the origin
 * to parse).
 */
export function encodeOutcome(o: RemoteOutcome): Buffer {
  const bytes = encodePayload({ ok: o.ok, output: o.output, error: o.error, attempt: o.attempt, owner: o.owner });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const isErrorInfo = (v: unknown): v is ErrorInfo =>
  typeof v === "object" && v !== null && isStr((v as ErrorInfo).code) && isStr((v as ErrorInfo).message);

/** An outcome stored by `encodeOutcome`; throws on bytes that are not one. */
export function decodeOutcome(bytes: Uint8Array): RemoteOutcome {
  const v = decodePayload<Record<string, unknown>>(bytes);
  if (typeof v !== "object" || v === null || typeof v.ok !== "boolean") throw new Error("not a stored outcome");
  const output = v.output ?? undefined;
  const error = v.error ?? undefined;
  const attempt = v.attempt ?? undefined;
  const owner = v.owner ?? undefined;
  if ((output !== undefined && !(output instanceof Uint8Array)) || (error !== undefined && !isErrorInfo(error)) || (attempt !== undefined && !isInt(attempt)) || (owner !== undefined && !isStr(owner)))
    throw new Error("not a stored outcome");
  return { ok: v.ok, output, error, attempt, owner };
}

/**
 * Publish message: u32 header length, header JSON {topic, from, origin, broker?, tp?, ts?}, then the
 * payload bytes; `broker` is true when the broker itself published (HTTP, MSG-7), `tp`/`ts` the
 * publish's trace context (TRACE-4).
 */
export function encodePublish(origin: string, topic: string, from: string, payload: Uint8Array, fromBroker = false, trace?: TraceContext): Buffer {
  const header = Buffer.from(JSON.stringify({ topic, from, origin, broker: fromBroker ? true : undefined, tp: trace?.traceparent, ts: trace?.tracestate }));
  const out = Buffer.allocUnsafe(4 + header.length + payload.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(payload, 4 + header.length);
  return out;
}

export function decodePublish(buf: Buffer): { origin: string; topic: string; from: string; broker?: boolean; tp?: string; ts?: string; payload: Uint8Array } {
  const n = buf.readUInt32BE(0);
  const header = JSON.parse(buf.subarray(4, 4 + n).toString()) as { topic: string; from: string; origin: string; broker?: boolean; tp?: string; ts?: string };
  return { ...header, payload: buf.subarray(4 + n) };
}
