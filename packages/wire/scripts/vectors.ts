/**
 * The protocol test vectors of protocol/vectors/ (format: protocol/vectors/README.md).
 *
 * Valid vectors are frame objects encoded with the real `encode`; invalid vectors are hand-assembled
 * MessagePack with a tiny writer below, so every byte of a broken frame is visible here. `vectorFiles`
 * returns the files' text (the drift test compares it with the checked-in files); `writeVectors`
 * writes them (called by gen.ts).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { decode, decodePayload, encode, encodePayload, type ErrorCode, type Frame } from "../src/index.js";
import { protocolDir } from "./paths.js";

export const VECTOR_FORMAT_VERSION = 1;

/** A decoded value in the vectors' JSON notation: bin is `{"$bin": hex}` (plus informative `$doc`). */
export type Notation = null | boolean | number | string | Notation[] | { [key: string]: Notation };

export interface ValidVector {
  id: string;
  description: string;
  spec: string[];
  hex: string;
  frame: Notation;
  /** Keys present in the bytes that a receiver ignores (not part of `frame`), with their values. */
  ignored?: Record<string, Notation>;
  /** False when the bytes are not what a shortest-form encoder writes for `frame` in the order shown. */
  canonical: boolean;
}

export interface InvalidVector {
  id: string;
  description: string;
  spec: string[];
  hex: string;
  error: ErrorCode;
  max_frame_bytes?: number;
}

/** Top-level frame fields that hold an application document; their `$doc` is shown informatively. */
const PAYLOAD_FIELDS = new Set(["input", "output", "data", "payload"]);

// ---- notation ----------------------------------------------------------------------------------

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`not lowercase hex: ${hex.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** A decoded MessagePack value (bins as Uint8Array) in the JSON notation, without `$doc`. */
export function toNotation(value: unknown): Notation {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`no JSON notation for ${value}`);
    return value;
  }
  if (value instanceof Uint8Array) return { $bin: toHex(value) };
  if (Array.isArray(value)) return value.map(toNotation);
  if (typeof value === "object") {
    const out: { [key: string]: Notation } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toNotation(v);
    return out;
  }
  throw new Error(`no JSON notation for ${typeof value}`);
}

/** The notation with every `$doc` removed: what a decoder's output is compared with. */
export function withoutDocs(value: Notation): Notation {
  if (Array.isArray(value)) return value.map(withoutDocs);
  if (value === null || typeof value !== "object") return value;
  if (typeof value.$bin === "string") return { $bin: value.$bin };
  const out: { [key: string]: Notation } = {};
  for (const [k, v] of Object.entries(value)) out[k] = withoutDocs(v);
  return out;
}

/** A frame's notation with `$doc` added to its top-level payload bins. */
function frameNotation(frame: Record<string, unknown>): Notation {
  const out: { [key: string]: Notation } = {};
  for (const [k, v] of Object.entries(frame)) {
    if (v === undefined) continue;
    out[k] =
      v instanceof Uint8Array && PAYLOAD_FIELDS.has(k)
        ? { $bin: toHex(v), $doc: toNotation(decodePayload(v)) }
        : toNotation(v);
  }
  return out;
}

// ---- a tiny MessagePack writer for hand-assembled bytes ------------------------------------------

const be = (n: number, bytes: number): string => n.toString(16).padStart(bytes * 2, "0");

/** Hand-assembly helpers: each returns the hex of one MessagePack item (or header). */
export const mp = {
  nil: "c0",
  false: "c2",
  true: "c3",
  /** A str in its shortest form. */
  str(s: string): string {
    const b = Buffer.from(s, "utf8");
    const n = b.length;
    const head = n < 32 ? be(0xa0 | n, 1) : n < 0x100 ? `d9${be(n, 1)}` : n < 0x10000 ? `da${be(n, 2)}` : `db${be(n, 4)}`;
    return head + b.toString("hex");
  },
  /** A str header followed by raw (possibly invalid UTF-8) bytes. */
  rawStr(hex: string): string {
    const n = hex.length / 2;
    return (n < 32 ? be(0xa0 | n, 1) : `d9${be(n, 1)}`) + hex;
  },
  bin(hex: string): string {
    const n = hex.length / 2;
    return (n < 0x100 ? `c4${be(n, 1)}` : `c5${be(n, 2)}`) + hex;
  },
  /** A non-negative or negative integer in its shortest form (within ±2^31 here). */
  int(n: number): string {
    if (!Number.isInteger(n) || Math.abs(n) > 0x7fff_ffff) throw new Error(`mp.int: ${n}`);
    if (n >= 0) return n < 0x80 ? be(n, 1) : n < 0x100 ? `cc${be(n, 1)}` : n < 0x10000 ? `cd${be(n, 2)}` : `ce${be(n, 4)}`;
    if (n >= -32) return be(0x100 + n, 1);
    return n >= -0x80 ? `d0${be(0x100 + n, 1)}` : n >= -0x8000 ? `d1${be(0x10000 + n, 2)}` : `d2${be(0x1_0000_0000 + n, 4)}`;
  },
  float64(n: number): string {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(n);
    return `cb${b.toString("hex")}`;
  },
  mapHeader(n: number): string {
    return n < 16 ? be(0x80 | n, 1) : `de${be(n, 2)}`;
  },
  arrayHeader(n: number): string {
    return n < 16 ? be(0x90 | n, 1) : `dc${be(n, 2)}`;
  },
  /** A map with str keys in the order given; values are hex items. */
  map(entries: ReadonlyArray<readonly [string, string]>): string {
    return mp.mapHeader(entries.length) + entries.map(([k, v]) => mp.str(k) + v).join("");
  },
  array(items: readonly string[]): string {
    return mp.arrayHeader(items.length) + items.join("");
  },
} as const;

/** Hex of one payload document (a MessagePack document inside a bin). */
const doc = (value: unknown): string => mp.bin(toHex(encodePayload(value)));

// ---- valid vectors -------------------------------------------------------------------------------

interface ValidDef {
  id: string;
  description: string;
  spec: string[];
  frame: Frame;
}

const P = (value: unknown): Uint8Array => encodePayload(value);
const T0 = 1_700_000_000_000; // an integer Unix ms time beyond 32 bits: MessagePack uint64 (ENC-19)

function validDefs(): ValidDef[] {
  const cap = { name: "price.quote", version: "1.2.0" };
  const agentInfo = {
    agent_id: "agent-7",
    name: "Quoter",
    broker_id: "broker-1",
    status: "ready" as const,
    in_flight: 2,
    capacity: 16,
    tier: 0,
    tags: ["eu"],
    capabilities: [cap],
    connected_at: T0,
  };
  return [
    { id: "register-minimal", description: "register with no fields but type: a plain client, every field defaulted.", spec: ["ENC-1", "ENC-11"], frame: { type: "register" } },
    {
      id: "register-agent",
      description: "register of an agent with every field, including a capability with schemas and tags.",
      spec: ["ENC-1", "ENC-6", "CAP-1", "CAP-2"],
      frame: {
        type: "register",
        protocol: 1,
        name: "Quoter",
        agent_id: "agent-7",
        token: "s3cr3t",
        capabilities: [
          {
            name: "price.quote",
            version: "1.2.0",
            description: "Quotes a price.",
            tags: ["eu", "fast"],
            input_schema: { type: "object", properties: { sku: { type: "string" } }, required: ["sku"] },
            output_schema: { type: "object" },
          },
          { name: "ns:tool/run_v2-x" },
        ],
        capacity: 4,
        tier: 9,
        tags: ["eu"],
      },
    },
    {
      id: "registered",
      description: "registered with the default limits.",
      spec: ["ENC-1", "ENC-3"],
      frame: {
        type: "registered",
        protocol: 1,
        agent_id: "agent-7",
        session_id: "s-01HZX",
        broker_id: "broker-1",
        heartbeat_interval_ms: 5000,
        heartbeat_timeout_ms: 15000,
        max_frame_bytes: 1048576,
        max_in_flight: 1024,
      },
    },
    {
      id: "registered-defaults",
      description: "v1.1 registered that also announces the broker's task timeout, request timeout and max attempts.",
      spec: ["REG-14"],
      frame: {
        type: "registered",
        protocol: 1,
        agent_id: "agent-7",
        session_id: "s-01HZX",
        broker_id: "broker-1",
        heartbeat_interval_ms: 5000,
        heartbeat_timeout_ms: 15000,
        max_frame_bytes: 1048576,
        max_in_flight: 1024,
        task_timeout_ms: 30000,
        request_timeout_ms: 10000,
        max_attempts: 3,
      },
    },
    { id: "heartbeat-minimal", description: "heartbeat of a plain client: no load fields.", spec: ["ENC-1"], frame: { type: "heartbeat" } },
    { id: "heartbeat-load", description: "heartbeat of an agent carrying its load.", spec: ["ENC-1", "ENC-3"], frame: { type: "heartbeat", in_flight: 3, capacity: 16, status: "busy" } },
    { id: "submit-minimal", description: "submit with only the required fields; input is a bin holding the document {\"sku\":\"A1\"}.", spec: ["ENC-1", "ENC-7"], frame: { type: "submit", ref: "r1", capability: "price.quote", input: P({ sku: "A1" }) } },
    {
      id: "submit-full",
      description: "submit with every optional field; the version range has two comparators.",
      spec: ["ENC-1", "ENC-7", "CAP-3"],
      frame: {
        type: "submit",
        ref: "r2",
        capability: "price.quote",
        version: ">=1.2 <2",
        tags: ["eu"],
        input: P({ sku: "A1", qty: 3 }),
        priority: "critical",
        timeout_ms: 86400000,
        strategy: "least_loaded",
        idempotency_key: "order-42",
        max_attempts: 5,
      },
    },
    { id: "submit-range-caret", description: "submit with a caret version range and an input document that is a MessagePack nil.", spec: ["ENC-7", "CAP-3"], frame: { type: "submit", ref: "r3", capability: "c", version: "^1.2.3", input: P(null) } },
    { id: "submit-range-star", description: "submit with the version range `*`; input is an array document.", spec: ["ENC-7", "CAP-3"], frame: { type: "submit", ref: "r4", capability: "c", version: "*", input: P([1, "two", true]) } },
    { id: "accepted", description: "accepted for a new task.", spec: ["ENC-1"], frame: { type: "accepted", ref: "r1", task_id: "t-1" } },
    { id: "accepted-duplicate", description: "accepted answering a repeated idempotency key.", spec: ["ENC-1"], frame: { type: "accepted", ref: "r9", task_id: "t-1", duplicate: true } },
    {
      id: "task",
      description: "task dispatched to an agent; deadline is beyond 32 bits and so a MessagePack uint64 (0xcf), the shortest form of a positive int beyond 32 bits.",
      spec: ["ENC-3", "ENC-7", "ENC-19"],
      frame: { type: "task", task_id: "t-1", capability: "price.quote", input: P({ sku: "A1" }), priority: "normal", deadline: T0 + 30000, attempt: 1, max_attempts: 3 },
    },
    {
      id: "task-remaining-ms",
      description: "v1.1 task carrying remaining_ms, the time left until its deadline when the broker sent it.",
      spec: ["TASK-34"],
      frame: { type: "task", task_id: "t-2", capability: "price.quote", input: P({ sku: "A1" }), priority: "high", deadline: T0 + 30000, attempt: 2, max_attempts: 3, remaining_ms: 29950 },
    },
    { id: "progress", description: "progress of a running task.", spec: ["ENC-7"], frame: { type: "progress", task_id: "t-1", data: P({ pct: 50 }) } },
    { id: "result-ok", description: "successful result with an output document.", spec: ["ENC-7"], frame: { type: "result", task_id: "t-1", ok: true, output: P({ price: 12.5 }), attempt: 1 } },
    { id: "result-ok-bare", description: "successful result without output (output is optional when ok is true).", spec: ["ENC-1"], frame: { type: "result", task_id: "t-1", ok: true } },
    {
      id: "result-error",
      description: "failed result (broker to submitter) with an error carrying retryable and details.",
      spec: ["ENC-1", "ERR-1"],
      frame: { type: "result", task_id: "t-1", ok: false, error: { code: "deadline_exceeded", message: "deadline passed", retryable: true, details: { deadline: T0 } }, ref: "r1" },
    },
    { id: "cancel-minimal", description: "cancel with only the task id.", spec: ["ENC-1"], frame: { type: "cancel", task_id: "t-1" } },
    { id: "cancel-full", description: "cancel with reason and ref.", spec: ["ENC-1"], frame: { type: "cancel", task_id: "t-1", reason: "user abort", ref: "c1" } },
    { id: "attach", description: "attach to a task accepted earlier.", spec: ["ENC-1"], frame: { type: "attach", task_id: "t-1", ref: "a1" } },
    { id: "send", description: "direct message to one agent, with correlation id and ref.", spec: ["ENC-7"], frame: { type: "send", to: "agent-7", payload: P("hi"), correlation_id: "corr-1", ref: "s1" } },
    { id: "message-direct", description: "delivered direct message: no topic.", spec: ["ENC-7"], frame: { type: "message", from: "agent-1", payload: P("hi"), correlation_id: "corr-1" } },
    {
      id: "message-from-broker",
      description: "v1.1 broadcast published over HTTP: from is the broker's id and from_broker is true.",
      spec: ["MSG-7", "HTTP-12"],
      frame: { type: "message", from: "broker-1", payload: P({ n: 1 }), topic: "orders.eu", from_broker: true },
    },
    {
      id: "message-broadcast",
      description: "delivered broadcast; topic tokens may be any Unicode other than '.', '*', '>', white space and controls.",
      spec: ["ENC-4", "ENC-7", "TOPIC-1"],
      frame: { type: "message", from: "agent-1", payload: P({ n: -1 }), topic: "größe.ü-1.東京" },
    },
    { id: "subscribe-wildcards", description: "subscribe with a '*' token and a final '>'.", spec: ["TOPIC-2"], frame: { type: "subscribe", topic: "orders.*.>", ref: "sub1" } },
    { id: "subscribe-gt-only", description: "subscribe to '>' alone: every topic.", spec: ["TOPIC-2"], frame: { type: "subscribe", topic: ">" } },
    { id: "subscribe-star-only", description: "subscribe to '*' alone: every one-token topic.", spec: ["TOPIC-2"], frame: { type: "subscribe", topic: "*" } },
    { id: "unsubscribe", description: "unsubscribe from a pattern.", spec: ["TOPIC-2"], frame: { type: "unsubscribe", topic: "orders.*.>", ref: "u1" } },
    { id: "publish", description: "publish to a concrete topic.", spec: ["ENC-7", "TOPIC-1"], frame: { type: "publish", topic: "orders.eu.created", payload: P({ id: 1 }), ref: "p1" } },
    {
      id: "publish-32-tokens",
      description: "publish to a topic of exactly 32 tokens, the most allowed.",
      spec: ["TOPIC-1", "ENC-9"],
      frame: { type: "publish", topic: Array.from({ length: 32 }, (_, i) => `t${i}`).join("."), payload: P(0) },
    },
    { id: "request-to", description: "request to an agent id.", spec: ["ENC-7", "REQ-1"], frame: { type: "request", id: "q1", to: "agent-7", payload: P({ q: "ping" }), timeout_ms: 1000 } },
    { id: "request-capability", description: "request to any agent offering a capability.", spec: ["ENC-7", "REQ-1"], frame: { type: "request", id: "q2", capability: "price.quote", payload: P({ q: "ping" }) } },
    {
      id: "request-forwarded",
      description: "request as the broker forwards it to the agent: broker id, from, a uint64 deadline and (v1.1) remaining_ms.",
      spec: ["ENC-3", "REQ-1", "REQ-3"],
      frame: { type: "request", id: "b-77", to: "agent-7", payload: P({ q: "ping" }), deadline: T0 + 1000, from: "client-3", remaining_ms: 1000 },
    },
    { id: "response-ok", description: "response with a payload; ok defaults to true.", spec: ["ENC-7"], frame: { type: "response", id: "q1", payload: P({ a: "pong" }) } },
    {
      id: "response-error",
      description: "failed response: ok false and an error.",
      spec: ["ERR-1"],
      frame: { type: "response", id: "q1", ok: false, error: { code: "no_responders", message: "no agent", retryable: true } },
    },
    {
      id: "submit-trace",
      description: "v1.2 submit carrying W3C trace context: a sampled traceparent and a tracestate of two list members.",
      spec: ["TRACE-1", "TRACE-2", "TRACE-3"],
      frame: { type: "submit", ref: "r5", capability: "price.quote", input: P({ sku: "A1" }), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor1=opaque,tenant@vendor2=x" },
    },
    {
      id: "task-trace",
      description: "v1.2 task as the broker sends it for a submit that carried trace context: the submit's fields, unchanged.",
      spec: ["TRACE-4"],
      frame: { type: "task", task_id: "t-3", capability: "price.quote", input: P({ sku: "A1" }), priority: "normal", deadline: T0 + 30000, attempt: 1, max_attempts: 3, remaining_ms: 30000, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor1=opaque,tenant@vendor2=x" },
    },
    { id: "send-trace", description: "v1.2 send with a traceparent (not sampled) and no tracestate.", spec: ["TRACE-1", "TRACE-3"], frame: { type: "send", to: "agent-7", payload: P("hi"), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" } },
    { id: "message-trace", description: "v1.2 message delivering a publish that carried a traceparent.", spec: ["TRACE-4"], frame: { type: "message", from: "agent-1", payload: P({ id: 1 }), topic: "orders.eu.created", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
    { id: "publish-trace", description: "v1.2 publish with a traceparent.", spec: ["TRACE-3"], frame: { type: "publish", topic: "orders.eu.created", payload: P({ id: 1 }), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
    { id: "request-trace", description: "v1.2 request with a traceparent and a tracestate.", spec: ["TRACE-3"], frame: { type: "request", id: "q3", capability: "price.quote", payload: P({ q: "ping" }), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor1=opaque" } },
    { id: "response-trace", description: "v1.2 response carrying the traceparent of the request it answers.", spec: ["TRACE-5"], frame: { type: "response", id: "q3", payload: P({ a: "pong" }), traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
    { id: "query-minimal", description: "query of the whole registry.", spec: ["ENC-1"], frame: { type: "query", ref: "qr1" } },
    { id: "query-filters", description: "query filtered by capability, status and tags.", spec: ["ENC-1"], frame: { type: "query", ref: "qr2", capability: "price.quote", status: "ready", tags: ["eu", "fast"] } },
    { id: "agents", description: "agents answering a query, one AgentInfo with a uint64 connected_at.", spec: ["ENC-3"], frame: { type: "agents", ref: "qr1", agents: [agentInfo] } },
    { id: "agents-empty", description: "agents with an empty list.", spec: ["ENC-1"], frame: { type: "agents", ref: "qr2", agents: [] } },
    { id: "drain-minimal", description: "drain without ref.", spec: ["ENC-1"], frame: { type: "drain" } },
    { id: "drain-ref", description: "drain with ref.", spec: ["ENC-1"], frame: { type: "drain", ref: "d1" } },
    { id: "drain-from-broker", description: "v1.2 drain the broker sends an agent it put into DRAINING, with a reason.", spec: ["DRAIN-7"], frame: { type: "drain", reason: "pool scale-down" } },
    { id: "register-pool-member", description: "v1.2 register of an agent that is a member of the pool `quoters`.", spec: ["POOL-1"], frame: { type: "register", agent_id: "quoter-3", capabilities: [cap], capacity: 4, pool: "quoters" } },
    { id: "agents-pool-member", description: "v1.2 agents whose AgentInfo names the agent's pool.", spec: ["POOL-2"], frame: { type: "agents", ref: "qr3", agents: [{ ...agentInfo, pool: "quoters" }] } },
    { id: "pool-minimal", description: "v1.2 pool with only the required fields: the broker's autoscale settings apply.", spec: ["POOL-3"], frame: { type: "pool", ref: "p1", name: "quoters", capabilities: ["price.quote"], min: 2, max: 10 } },
    {
      id: "pool-autoscale",
      description: "v1.2 pool asking for every autoscale setting; thresholds are float64, min 0 allows scale to zero.",
      spec: ["POOL-3", "POOL-6"],
      frame: {
        type: "pool",
        ref: "p2",
        name: "quoters",
        capabilities: ["price.quote", "price.batch"],
        min: 0,
        max: 10,
        autoscale: { up_threshold: 0.75, down_threshold: 0.25, step: 3, interval_ms: 500, window_ms: 5000, stabilization_ms: 15000, cooldown_ms: 2000 },
      },
    },
    {
      id: "scale-up",
      description: "v1.2 scale asking the supervisor for 2 more members; utilization counts the queued tasks as demand and exceeds 1.",
      spec: ["POOL-9"],
      frame: { type: "scale", pool: "quoters", from: 2, to: 4, reason: "utilization_high", utilization: 1.5, in_flight: 8, capacity: 8, queued: 4 },
    },
    {
      id: "scale-down-drain",
      description: "v1.2 scale down naming the member the broker put into DRAINING.",
      spec: ["POOL-9", "POOL-12"],
      frame: { type: "scale", pool: "quoters", from: 4, to: 3, reason: "utilization_low", utilization: 0.125, in_flight: 2, capacity: 16, queued: 0, drain: ["quoter-3"] },
    },
    { id: "goaway", description: "goaway with a grace period.", spec: ["ENC-1"], frame: { type: "goaway", reason: "shutting down", grace_ms: 10000 } },
    { id: "goaway-uint32-max", description: "grace_ms 4294967295, the largest uint32 (0xce).", spec: ["ENC-3"], frame: { type: "goaway", reason: "", grace_ms: 0xffff_ffff } },
    { id: "goaway-beyond-uint32", description: "grace_ms 4294967296, one past uint32: written as uint64 (0xcf).", spec: ["ENC-3", "ENC-19"], frame: { type: "goaway", reason: "", grace_ms: 0x1_0000_0000 } },
    { id: "heartbeat-max-safe-int", description: "in_flight 2^53-1, the largest integer the protocol allows.", spec: ["ENC-3"], frame: { type: "heartbeat", in_flight: Number.MAX_SAFE_INTEGER } },
    { id: "ack", description: "ack of a frame with ref.", spec: ["ENC-1"], frame: { type: "ack", ref: "r1" } },
    { id: "ack-id-256", description: "ack whose ref is 256 printable ASCII bytes, the longest id.", spec: ["ENC-6"], frame: { type: "ack", ref: `${"!~".repeat(127)}az` } },
    { id: "error-minimal", description: "error with code and message only.", spec: ["ERR-1"], frame: { type: "error", code: "bad_frame", message: "" } },
    {
      id: "error-full",
      description: "error with ref, details (nested map, array, negative int, float64, nil, bool) and fatal.",
      spec: ["ERR-1", "ENC-2", "ENC-3"],
      frame: {
        type: "error",
        ref: "r1",
        code: "bad_frame",
        message: "submit: input: expected bin",
        details: { path: "input", offset: -1, ratio: 0.25, nothing: null, flags: [true, false], nested: { a: { b: "c" } } },
        fatal: false,
      },
    },
    {
      id: "run-inline",
      description: "v1.2 run of a definition sent inline: two steps in sequence, a retry policy, a $ref input and a $tpl output.",
      spec: ["WF-1", "WF-7", "WF-17"],
      frame: {
        type: "run",
        ref: "w1",
        workflow: {
          workflow: 1,
          name: "trade",
          version: "1.0.0",
          steps: [
            { id: "analyze", capability: "market_analyzer", input: { $ref: "/input" } },
            { id: "risk", capability: "assess_risk", after: ["analyze"], input: { $ref: "/steps/analyze/output" }, retry: { max_attempts: 3, initial_interval_ms: 100 } },
          ],
          output: { risk: { $ref: "/steps/risk/output" }, summary: { $tpl: "risk of ${/input/symbol}" } },
        },
        input: P({ symbol: "SOL" }),
      },
    },
    { id: "run-by-name", description: "v1.2 run of a registered workflow by name and version, without run_events.", spec: ["WF-2", "WF-17"], frame: { type: "run", ref: "w2", workflow: { name: "trade", version: "1.0.0" }, input: P({ symbol: "SOL" }), watch: false } },
    { id: "run-accepted", description: "v1.2 run_accepted.", spec: ["WF-17"], frame: { type: "run_accepted", ref: "w1", run_id: "r-1" } },
    { id: "run-event-started", description: "v1.2 run_event of a step's attempt starting, with its task.", spec: ["WF-22"], frame: { type: "run_event", run_id: "r-1", event: "workflow.step.started", step: "risk", attempt: 2, task_id: "t-9", at: T0 } },
    {
      id: "run-event-retrying",
      description: "v1.2 run_event of a step waiting for its next attempt, with the error of the one that failed.",
      spec: ["WF-12", "WF-22"],
      frame: { type: "run_event", run_id: "r-1", event: "workflow.step.retrying", step: "risk", attempt: 1, delay_ms: 100, at: T0, error: { code: "upstream", message: "quote feed down", retryable: true } },
    },
    { id: "run-event-run", description: "v1.2 run_event of the run itself: no step.", spec: ["WF-22"], frame: { type: "run_event", run_id: "r-1", event: "workflow.completed", at: T0 } },
    { id: "run-result-ok", description: "v1.2 run_result of a completed run with its output.", spec: ["WF-19"], frame: { type: "run_result", run_id: "r-1", ok: true, output: P({ risk: "low" }) } },
    {
      id: "run-result-failed",
      description: "v1.2 run_result of a failed run: the error of the step that failed it.",
      spec: ["WF-19"],
      frame: { type: "run_result", run_id: "r-1", ok: false, error: { code: "limit_exceeded", message: "step analyze: output of 2000000 bytes exceeds max_step_output_bytes 1048576", details: { step: "analyze", limit: "max_step_output_bytes" } } },
    },
    { id: "run-cancel", description: "v1.2 run_cancel acknowledged by ack.", spec: ["WF-20"], frame: { type: "run_cancel", run_id: "r-1", ref: "c1" } },
    { id: "run-watch", description: "v1.2 run_watch of a run started elsewhere.", spec: ["WF-21"], frame: { type: "run_watch", ref: "w3", run_id: "r-1" } },
    {
      id: "error-depth-16",
      description: "error whose details nest maps so that the frame is exactly 16 levels deep (the root map is level 1), the most allowed.",
      spec: ["ENC-5", "ENC-9"],
      frame: { type: "error", code: "x", message: "m", details: nested(15, 1) as Record<string, unknown> },
    },
  ];
}

/** `levels` maps nested under key "k", the innermost holding `inner`. */
function nested(levels: number, inner: unknown): unknown {
  let v = inner;
  for (let i = 0; i < levels; i++) v = { k: v };
  return v;
}

/** Valid vectors whose bytes are hand-assembled: not what `encode` writes, still to be accepted. */
interface RawValidDef {
  id: string;
  description: string;
  spec: string[];
  hex: string;
  frame: Frame;
  ignored?: Record<string, unknown>;
}

function rawValidDefs(): RawValidDef[] {
  const ackHex = (extra: string, n: number) => mp.mapHeader(n) + mp.str("type") + mp.str("ack") + mp.str("ref") + mp.str("r1") + extra;
  return [
    {
      id: "unknown-keys-ignored",
      description: "ack with two keys no version of the frame defines; receivers ignore unknown keys.",
      spec: ["ENC-10"],
      hex: ackHex(mp.str("x_trace") + mp.str("abc") + mp.str("x_extra") + mp.map([["n", mp.int(1)]]), 4),
      frame: { type: "ack", ref: "r1" },
      ignored: { x_trace: "abc", x_extra: { n: 1 } },
    },
    {
      id: "nil-optional-is-absent",
      description: "drain whose optional `ref` is nil: a top-level optional field sent as nil counts as absent.",
      spec: ["ENC-12"],
      hex: frameOf("drain", [["ref", mp.nil]]),
      frame: { type: "drain" },
      ignored: { ref: null },
    },
    {
      id: "type-not-first",
      description: "submit with `type` as the last key: key order carries no meaning.",
      spec: ["ENC-1", "ENC-11"],
      hex: mp.map([
        ["ref", mp.str("r1")],
        ["capability", mp.str("c")],
        ["input", doc(1)],
        ["type", mp.str("submit")],
      ]),
      frame: { type: "submit", ref: "r1", capability: "c", input: P(1) },
    },
    {
      id: "non-shortest-encodings",
      description: "heartbeat written with map16, str8, str16, uint8/uint16/uint32 and int64 where shorter forms exist; receivers accept any width.",
      spec: ["ENC-1", "ENC-3"],
      hex:
        "de0004" +
        "d904" + toHex(Buffer.from("type")) + "da0009" + toHex(Buffer.from("heartbeat")) +
        mp.str("in_flight") + "cc05" +
        mp.str("capacity") + "ce00000010" +
        mp.str("status") + "d905" + toHex(Buffer.from("ready")),
      frame: { type: "heartbeat", in_flight: 5, capacity: 16, status: "ready" },
    },
    {
      id: "non-shortest-int64",
      description: "task whose small integers are written as int64 (0xd3) and uint64 (0xcf), and whose input is a bin16.",
      spec: ["ENC-3", "ENC-7"],
      hex: mp.map([
        ["type", mp.str("task")],
        ["task_id", mp.str("t")],
        ["capability", mp.str("c")],
        ["input", "c50001c0"],
        ["priority", mp.str("low")],
        ["deadline", "cf0000018bcfe56800"],
        ["attempt", "d30000000000000001"],
        ["max_attempts", "d10003"],
      ]),
      frame: { type: "task", task_id: "t", capability: "c", input: P(null), priority: "low", deadline: T0, attempt: 1, max_attempts: 3 },
    },
    {
      id: "positive-int64",
      description: "task whose deadline, a positive int beyond 32 bits, is written as int64 (0xd3), the form v1.0's canonical bytes used; receivers accept it as well as uint64.",
      spec: ["ENC-3", "ENC-19"],
      hex: mp.map([
        ["type", mp.str("task")],
        ["task_id", mp.str("t")],
        ["capability", mp.str("c")],
        ["input", doc(null)],
        ["priority", mp.str("low")],
        ["deadline", "d30000018bcfe56800"],
        ["attempt", mp.int(1)],
        ["max_attempts", mp.int(3)],
      ]),
      frame: { type: "task", task_id: "t", capability: "c", input: P(null), priority: "low", deadline: T0, attempt: 1, max_attempts: 3 },
    },
    {
      id: "float32-in-details",
      description: "error whose details hold a float32 (0xca) 1.5: floats are allowed outside integer fields.",
      spec: ["ENC-2"],
      hex: mp.map([
        ["type", mp.str("error")],
        ["code", mp.str("x")],
        ["message", mp.str("m")],
        ["details", mp.map([["x", "ca3fc00000"]])],
      ]),
      frame: { type: "error", code: "x", message: "m", details: { x: 1.5 } },
    },
  ];
}

function buildValid(): ValidVector[] {
  const out: ValidVector[] = [];
  for (const def of validDefs()) {
    // Encode, then re-encode what decode returns, so `frame` lists keys in the order a decoder yields.
    const decoded = decode(encode(def.frame));
    if (!isDeepStrictEqual(toNotation(decoded), toNotation(def.frame))) {
      throw new Error(`valid/${def.id}: decode(encode(frame)) differs from the frame`);
    }
    const bytes = encode(decoded);
    out.push({ id: `valid/${def.id}`, description: def.description, spec: def.spec, hex: toHex(bytes), frame: frameNotation(decoded), canonical: true });
  }
  for (const def of rawValidDefs()) {
    const decoded = decode(fromHex(def.hex));
    if (!isDeepStrictEqual(toNotation(decoded), toNotation(def.frame))) {
      throw new Error(`valid/${def.id}: decodes to ${JSON.stringify(toNotation(decoded))}`);
    }
    const vector: ValidVector = { id: `valid/${def.id}`, description: def.description, spec: def.spec, hex: def.hex, frame: frameNotation(decoded), canonical: false };
    if (def.ignored !== undefined) vector.ignored = toNotation(def.ignored) as Record<string, Notation>;
    out.push(vector);
  }
  return out;
}

// ---- invalid vectors -----------------------------------------------------------------------------

type InvalidDef = Omit<InvalidVector, "id"> & { id: string };

/** Hex of a map: `type` first, then the given entries. */
const frameOf = (type: string, entries: ReadonlyArray<readonly [string, string]> = []): string =>
  mp.map([["type", mp.str(type)], ...entries]);

function invalidDefs(): InvalidDef[] {
  const ack = frameOf("ack", [["ref", mp.str("r1")]]);
  const submit = (entries: ReadonlyArray<readonly [string, string]>) => frameOf("submit", entries);
  const submitBase = (over: Record<string, string | undefined>): string => {
    const base: Record<string, string | undefined> = { ref: mp.str("r1"), capability: mp.str("c"), input: doc(1), ...over };
    return submit(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
  };
  const task = (over: Record<string, string>): string => {
    const base: Record<string, string> = {
      task_id: mp.str("t"),
      capability: mp.str("c"),
      input: doc(1),
      priority: mp.str("low"),
      deadline: mp.int(1000),
      attempt: mp.int(1),
      max_attempts: mp.int(3),
      ...over,
    };
    return frameOf("task", Object.entries(base));
  };
  const errorWithDetails = (details: string) => frameOf("error", [["code", mp.str("x")], ["message", mp.str("m")], ["details", details]]);
  const sub = (pattern: string) => frameOf("subscribe", [["topic", mp.str(pattern)]]);
  const pub = (topic: string) => frameOf("publish", [["topic", mp.str(topic)], ["payload", doc(1)]]);
  const ackWith = (key: string, value: string) => frameOf("ack", [["ref", mp.str("r1")], [key, value]]);
  const pool = (over: ReadonlyArray<readonly [string, string]>): string => {
    const base = new Map<string, string>([["ref", mp.str("p1")], ["name", mp.str("p")], ["capabilities", mp.array([mp.str("c")])], ["min", mp.int(1)], ["max", mp.int(2)]]);
    for (const [k, v] of over) base.set(k, v);
    return frameOf("pool", [...base]);
  };
  const ENC1 = ["ENC-1"];
  const ENC2 = ["ENC-2"];
  const FIELDS = ["ENC-15"];

  const defs: InvalidDef[] = [
    // -- not one MessagePack map
    { id: "empty-message", description: "a message of zero bytes.", spec: ENC1, hex: "", error: "bad_frame" },
    { id: "root-array", description: "root is an array holding a str, not a map.", spec: ENC1, hex: mp.array([mp.str("ack")]), error: "bad_frame" },
    { id: "root-str", description: "root is the str \"ack\".", spec: ENC1, hex: mp.str("ack"), error: "bad_frame" },
    { id: "root-int", description: "root is the positive fixint 1.", spec: ENC1, hex: "01", error: "bad_frame" },
    { id: "root-nil", description: "root is nil.", spec: ENC1, hex: "c0", error: "bad_frame" },
    { id: "root-bin", description: "root is a bin that holds a valid ack frame.", spec: ENC1, hex: mp.bin(ack), error: "bad_frame" },
    { id: "root-timestamp", description: "root is a timestamp extension (fixext4, type -1).", spec: ENC1.concat(ENC2), hex: "d6ff00000000", error: "bad_frame" },
    { id: "trailing-byte", description: "a valid ack followed by one byte 0x00.", spec: ENC1, hex: `${ack}00`, error: "bad_frame" },
    { id: "two-frames", description: "two valid acks in one message.", spec: ENC1, hex: ack + ack, error: "bad_frame" },
    // -- truncation
    { id: "truncated-map", description: "map header announces 3 entries, 2 follow.", spec: ENC1, hex: mp.mapHeader(3) + ack.slice(2), error: "bad_frame" },
    { id: "truncated-str", description: "str header announces 10 bytes, 3 follow (end of message).", spec: ENC1, hex: `${mp.mapHeader(2)}${mp.str("type")}${mp.str("ack")}${mp.str("ref")}aa616263`, error: "bad_frame" },
    { id: "truncated-bin", description: "submit whose input bin announces 16 bytes, 2 follow.", spec: ENC1, hex: `${mp.mapHeader(4)}${mp.str("type")}${mp.str("submit")}${mp.str("ref")}${mp.str("r1")}${mp.str("capability")}${mp.str("c")}${mp.str("input")}c4100101`, error: "bad_frame" },
    { id: "truncated-int", description: "heartbeat whose in_flight is a uint32 with 2 of its 4 bytes.", spec: ENC1, hex: `${mp.mapHeader(2)}${mp.str("type")}${mp.str("heartbeat")}${mp.str("in_flight")}ce0000`, error: "bad_frame" },
    { id: "huge-map32-count", description: "map32 announcing 4294967295 entries with nothing after it: must fail fast, without allocating.", spec: ENC1, hex: "dfffffffff", error: "bad_frame" },
    { id: "huge-str32-length", description: "a map whose first key is a str32 announcing 4294967295 bytes.", spec: ENC1, hex: "81dbffffffff", error: "bad_frame" },
    { id: "huge-array32-count", description: "ack with an extra key whose value is an array32 announcing 4294967295 items.", spec: ENC1, hex: mp.mapHeader(3) + mp.str("type") + mp.str("ack") + mp.str("ref") + mp.str("r1") + mp.str("x") + "ddffffffff", error: "bad_frame" },
    // -- forbidden types
    { id: "c1-at-root", description: "the never-used byte 0xc1 as the whole message.", spec: ENC2, hex: "c1", error: "bad_frame" },
    { id: "c1-nested", description: "ack with an extra key whose value is the never-used byte 0xc1.", spec: ENC2, hex: ackWith("x", "c1"), error: "bad_frame" },
    { id: "fixext1", description: "ack with an extra key holding a fixext1 (0xd4) of type 1.", spec: ENC2, hex: ackWith("x", "d40100"), error: "bad_frame" },
    { id: "fixext2", description: "value is a fixext2 (0xd5).", spec: ENC2, hex: ackWith("x", "d5010000"), error: "bad_frame" },
    { id: "timestamp32", description: "value is a timestamp 32 (fixext4 0xd6, type -1): timestamps are extensions too.", spec: ENC2, hex: ackWith("x", "d6ff65536200"), error: "bad_frame" },
    { id: "timestamp64", description: "value is a timestamp 64 (fixext8 0xd7, type -1).", spec: ENC2, hex: ackWith("x", "d7ff0000000065536200"), error: "bad_frame" },
    { id: "fixext16", description: "value is a fixext16 (0xd8).", spec: ENC2, hex: ackWith("x", `d801${"00".repeat(16)}`), error: "bad_frame" },
    { id: "ext8", description: "value is an ext8 (0xc7) of 3 bytes, type 5.", spec: ENC2, hex: ackWith("x", "c70305616263"), error: "bad_frame" },
    { id: "timestamp96", description: "value is a timestamp 96 (ext8 0xc7, length 12, type -1).", spec: ENC2, hex: ackWith("x", `c70cff${"00".repeat(4)}0000000065536200`), error: "bad_frame" },
    { id: "ext16", description: "value is an ext16 (0xc8).", spec: ENC2, hex: ackWith("x", "c800010561"), error: "bad_frame" },
    { id: "ext32", description: "value is an ext32 (0xc9).", spec: ENC2, hex: ackWith("x", "c9000000010561"), error: "bad_frame" },
    { id: "ext-in-details", description: "a timestamp extension nested inside error.details.", spec: ENC2, hex: errorWithDetails(mp.mapHeader(1) + mp.str("at") + "d6ff65536200"), error: "bad_frame" },
    // -- keys and strings
    { id: "int-key", description: "ack with an extra entry whose key is the int 1.", spec: ["ENC-4"], hex: mp.mapHeader(3) + mp.str("type") + mp.str("ack") + mp.str("ref") + mp.str("r1") + "01" + mp.str("x"), error: "bad_frame" },
    { id: "nil-key", description: "ack with an extra entry whose key is nil.", spec: ["ENC-4"], hex: mp.mapHeader(3) + mp.str("type") + mp.str("ack") + mp.str("ref") + mp.str("r1") + "c0" + mp.str("x"), error: "bad_frame" },
    { id: "bin-key", description: "ack whose `ref` key is written as bin instead of str.", spec: ["ENC-4"], hex: mp.mapHeader(2) + mp.str("type") + mp.str("ack") + mp.bin(toHex(Buffer.from("ref"))) + mp.str("r1"), error: "bad_frame" },
    { id: "bin-type-key", description: "the `type` key written as bin: there is then no str key `type`.", spec: ["ENC-4"], hex: mp.mapHeader(1) + mp.bin(toHex(Buffer.from("type"))) + mp.str("drain"), error: "bad_frame" },
    { id: "nested-int-key", description: "an int key inside error.details.", spec: ["ENC-4"], hex: errorWithDetails("8101c3"), error: "bad_frame" },
    { id: "invalid-utf8-value", description: "ack whose ref str holds the bytes c3 28 (not UTF-8).", spec: ["ENC-4"], hex: mp.map([["type", mp.str("ack")], ["ref", mp.rawStr("c328")]]), error: "bad_frame" },
    { id: "invalid-utf8-key", description: "a key str holding the byte ff.", spec: ["ENC-4"], hex: mp.mapHeader(2) + mp.str("type") + mp.str("ack") + mp.rawStr("ff") + mp.str("r1"), error: "bad_frame" },
    { id: "utf8-surrogate", description: "a str holding ed a0 80, the UTF-8 form of the lone surrogate U+D800 (not valid UTF-8).", spec: ["ENC-4"], hex: ackWith("note", mp.rawStr("eda080")), error: "bad_frame" },
    { id: "utf8-overlong", description: "a str holding c0 af, an overlong encoding of '/'.", spec: ["ENC-4"], hex: ackWith("note", mp.rawStr("c0af")), error: "bad_frame" },
    { id: "nesting-17", description: "error whose details make the frame 17 levels deep (root map is level 1); at most 16 are allowed.", spec: ["ENC-5", "ENC-9"], hex: errorWithDetails(nestedHex(16, mp.int(1))), error: "bad_frame" },
    { id: "nesting-17-empty", description: "error whose details nest 15 maps ending in an empty map: the empty map is the 17th level and counts too.", spec: ["ENC-5", "ENC-9"], hex: errorWithDetails(nestedHex(15, "80")), error: "bad_frame" },
    { id: "int64-beyond-2^53", description: "error.details holding the int64 0x9900018bcfe56800, outside ±(2^53-1).", spec: ["ENC-3"], hex: errorWithDetails(mp.mapHeader(1) + mp.str("n") + "d39900018bcfe56800"), error: "bad_frame" },
    { id: "uint64-2^53", description: "heartbeat in_flight written as uint64 2^53, one past the largest allowed integer.", spec: ["ENC-3"], hex: frameOf("heartbeat", [["in_flight", "cf0020000000000000"]]), error: "bad_frame" },
    { id: "nil-required", description: "ack whose required `ref` is nil: nil counts as absent, so `ref` is missing.", spec: ["ENC-12"], hex: frameOf("ack", [["ref", mp.nil]]), error: "bad_frame" },
    { id: "nesting-arrays", description: "an extra key holding 20 nested one-element arrays.", spec: ["ENC-5", "ENC-9"], hex: ackWith("x", `${"91".repeat(20)}01`), error: "bad_frame" },
    // -- size
    {
      id: "oversized",
      description: "a valid 100-byte error frame with max_frame_bytes set to 64.",
      spec: ["ENC-8"],
      hex: frameOf("error", [["code", mp.str("x")], ["message", mp.str("m".repeat(71))]]),
      error: "frame_too_large",
      max_frame_bytes: 64,
    },
    {
      id: "oversized-garbage",
      description: "65 bytes of 0xc1 with max_frame_bytes 64: frame_too_large, not bad_frame, because size is checked first.",
      spec: ["ENC-8"],
      hex: "c1".repeat(65),
      error: "frame_too_large",
      max_frame_bytes: 64,
    },
    // -- type
    { id: "unknown-type", description: "type \"bogus\" names no frame.", spec: ["ENC-11"], hex: frameOf("bogus", [["ref", mp.str("r1")]]), error: "unknown_type" },
    { id: "unknown-type-case", description: "type \"ACK\": type names are case-sensitive.", spec: ["ENC-11"], hex: frameOf("ACK", [["ref", mp.str("r1")]]), error: "unknown_type" },
    { id: "unknown-type-prototype", description: "type \"constructor\" (an inherited property name in some languages) names no frame.", spec: ["ENC-11"], hex: frameOf("constructor"), error: "unknown_type" },
    { id: "unknown-type-empty", description: "type is the empty str.", spec: ["ENC-11"], hex: frameOf(""), error: "unknown_type" },
    { id: "type-int", description: "type is the int 1, not a str.", spec: ["ENC-11"], hex: mp.map([["type", mp.int(1)], ["ref", mp.str("r1")]]), error: "bad_frame" },
    { id: "type-nil", description: "type is nil.", spec: ["ENC-11"], hex: mp.map([["type", "c0"]]), error: "bad_frame" },
    { id: "type-bin", description: "type is a bin holding \"ack\".", spec: ["ENC-11"], hex: mp.map([["type", mp.bin(toHex(Buffer.from("ack")))], ["ref", mp.str("r1")]]), error: "bad_frame" },
    { id: "missing-type", description: "a map with ref but no type.", spec: ["ENC-11"], hex: mp.map([["ref", mp.str("r1")]]), error: "bad_frame" },
    { id: "empty-map", description: "an empty map: no type.", spec: ["ENC-11"], hex: "80", error: "bad_frame" },
    // -- fields
    { id: "missing-required-ref", description: "ack without its required ref.", spec: FIELDS, hex: frameOf("ack"), error: "bad_frame" },
    { id: "missing-required-input", description: "submit without its required input.", spec: FIELDS.concat("ENC-7"), hex: submitBase({ input: undefined }), error: "bad_frame" },
    { id: "missing-required-ok", description: "result without ok.", spec: FIELDS, hex: frameOf("result", [["task_id", mp.str("t")]]), error: "bad_frame" },
    { id: "str-for-int", description: "task.attempt is the str \"1\".", spec: FIELDS.concat("ENC-3"), hex: task({ attempt: mp.str("1") }), error: "bad_frame" },
    { id: "int-for-str", description: "submit.ref is the int 42.", spec: FIELDS, hex: submitBase({ ref: mp.int(42) }), error: "bad_frame" },
    { id: "bool-for-str", description: "submit.capability is true.", spec: FIELDS, hex: submitBase({ capability: mp.true }), error: "bad_frame" },
    { id: "int-for-bool", description: "result.ok is the int 1.", spec: FIELDS, hex: frameOf("result", [["task_id", mp.str("t")], ["ok", mp.int(1)]]), error: "bad_frame" },
    { id: "nil-for-required", description: "task.task_id is nil.", spec: FIELDS, hex: task({ task_id: mp.nil }), error: "bad_frame" },
    { id: "str-for-bin", description: "submit.input is a str instead of a bin: payloads are bin.", spec: ["ENC-7"], hex: submitBase({ input: mp.str("{\"a\":1}") }), error: "bad_frame" },
    { id: "map-for-bin", description: "publish.payload is a map instead of a bin holding it.", spec: ["ENC-7"], hex: frameOf("publish", [["topic", mp.str("a")], ["payload", mp.map([["a", mp.int(1)]])]]), error: "bad_frame" },
    { id: "float-for-int", description: "task.attempt is the float64 1.5.", spec: ["ENC-3"], hex: task({ attempt: mp.float64(1.5) }), error: "bad_frame" },
    { id: "negative-uint", description: "heartbeat.in_flight is -1.", spec: ["ENC-3"], hex: frameOf("heartbeat", [["in_flight", mp.int(-1)]]), error: "bad_frame" },
    { id: "int-2pow53", description: "task.deadline is 2^53 (uint64), one past the protocol's integer range.", spec: ["ENC-3"], hex: task({ deadline: "cf0020000000000000" }), error: "bad_frame" },
    { id: "uint64-max", description: "heartbeat.in_flight is 2^64-1 (uint64).", spec: ["ENC-3"], hex: frameOf("heartbeat", [["in_flight", "cfffffffffffffffff"]]), error: "bad_frame" },
    { id: "int64-min", description: "heartbeat.in_flight is -2^63 (int64).", spec: ["ENC-3"], hex: frameOf("heartbeat", [["in_flight", "d38000000000000000"]]), error: "bad_frame" },
    { id: "nan-for-int", description: "heartbeat.in_flight is a float64 NaN.", spec: ["ENC-3"], hex: frameOf("heartbeat", [["in_flight", "cb7ff8000000000000"]]), error: "bad_frame" },
    { id: "zero-for-positive", description: "register.capacity is 0 (at least 1).", spec: FIELDS, hex: frameOf("register", [["capacity", mp.int(0)]]), error: "bad_frame" },
    { id: "tier-out-of-range", description: "register.tier is 10 (0..9).", spec: FIELDS, hex: frameOf("register", [["tier", mp.int(10)]]), error: "bad_frame" },
    { id: "priority-not-in-enum", description: "submit.priority is \"urgent\".", spec: FIELDS, hex: submitBase({ priority: mp.str("urgent") }), error: "bad_frame" },
    { id: "strategy-not-in-enum", description: "submit.strategy is \"random\".", spec: FIELDS, hex: submitBase({ strategy: mp.str("random") }), error: "bad_frame" },
    { id: "status-not-in-enum", description: "heartbeat.status is \"READY\" (enum values are case-sensitive).", spec: FIELDS, hex: frameOf("heartbeat", [["status", mp.str("READY")]]), error: "bad_frame" },
    { id: "tags-not-array", description: "query.tags is a str instead of an array of str.", spec: FIELDS, hex: frameOf("query", [["ref", mp.str("q")], ["tags", mp.str("eu")]]), error: "bad_frame" },
    { id: "details-not-map", description: "error.details is an array.", spec: FIELDS, hex: errorWithDetails(mp.array([mp.int(1)])), error: "bad_frame" },
    // -- ids
    { id: "id-with-space", description: "ack.ref \"r 1\" holds a space.", spec: ["ENC-6"], hex: frameOf("ack", [["ref", mp.str("r 1")]]), error: "bad_frame" },
    { id: "id-257", description: "ack.ref of 257 bytes, one over the limit.", spec: ["ENC-6", "ENC-9"], hex: frameOf("ack", [["ref", mp.str("a".repeat(257))]]), error: "bad_frame" },
    { id: "id-empty", description: "ack.ref is the empty str.", spec: ["ENC-6"], hex: frameOf("ack", [["ref", mp.str("")]]), error: "bad_frame" },
    { id: "id-non-ascii", description: "ack.ref \"é\" is not ASCII.", spec: ["ENC-6"], hex: frameOf("ack", [["ref", mp.str("é")]]), error: "bad_frame" },
    { id: "id-control", description: "ack.ref holds a tab.", spec: ["ENC-6"], hex: frameOf("ack", [["ref", mp.str("r\t1")]]), error: "bad_frame" },
    // -- topics
    { id: "pattern-gt-not-last", description: "subscribe to \"a.>.b\": '>' only as the last token.", spec: ["TOPIC-2"], hex: sub("a.>.b"), error: "bad_frame" },
    { id: "pattern-empty-token", description: "subscribe to \"a..b\": empty token.", spec: ["TOPIC-2"], hex: sub("a..b"), error: "bad_frame" },
    { id: "pattern-partial-star", description: "subscribe to \"a*\": '*' only as a whole token.", spec: ["TOPIC-2"], hex: sub("a*"), error: "bad_frame" },
    { id: "pattern-empty", description: "subscribe to the empty pattern.", spec: ["TOPIC-2"], hex: sub(""), error: "bad_frame" },
    { id: "pattern-trailing-dot", description: "subscribe to \"a.\": empty last token.", spec: ["TOPIC-2"], hex: sub("a."), error: "bad_frame" },
    { id: "pattern-33-tokens", description: "subscribe to a pattern of 33 tokens, one over the limit.", spec: ["TOPIC-2", "ENC-9"], hex: sub(Array.from({ length: 33 }, () => "*").join(".")), error: "bad_frame" },
    { id: "unsubscribe-bad-pattern", description: "unsubscribe from \">.a\".", spec: ["TOPIC-2"], hex: frameOf("unsubscribe", [["topic", mp.str(">.a")]]), error: "bad_frame" },
    { id: "publish-star", description: "publish to \"a.*\": a topic has no wildcards.", spec: ["TOPIC-1"], hex: pub("a.*"), error: "bad_frame" },
    { id: "publish-gt", description: "publish to \"a.>\".", spec: ["TOPIC-1"], hex: pub("a.>"), error: "bad_frame" },
    { id: "publish-space", description: "publish to \"a b\": white space is not allowed in a token.", spec: ["TOPIC-1"], hex: pub("a b"), error: "bad_frame" },
    { id: "publish-257-bytes", description: "publish to a topic of 257 bytes.", spec: ["TOPIC-1", "ENC-9"], hex: pub("a".repeat(257)), error: "bad_frame" },
    { id: "publish-unicode-257-bytes", description: "publish to a topic of 129 'é': 129 code points but 258 UTF-8 bytes, over the limit of 256 bytes.", spec: ["TOPIC-1", "ENC-9"], hex: pub("é".repeat(129)), error: "bad_frame" },
    { id: "message-bad-topic", description: "message whose topic holds an empty token.", spec: ["TOPIC-1"], hex: frameOf("message", [["from", mp.str("a")], ["payload", doc(1)], ["topic", mp.str(".a")]]), error: "bad_frame" },
    // -- trace context (v1.2)
    { id: "traceparent-uppercase", description: "submit.traceparent in uppercase hex: lowercase only.", spec: ["TRACE-1"], hex: submitBase({ traceparent: mp.str("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01") }), error: "bad_frame" },
    { id: "traceparent-zero-trace-id", description: "submit.traceparent whose trace id is all zeros.", spec: ["TRACE-1"], hex: submitBase({ traceparent: mp.str("00-00000000000000000000000000000000-00f067aa0ba902b7-01") }), error: "bad_frame" },
    { id: "traceparent-zero-parent-id", description: "submit.traceparent whose parent id is all zeros.", spec: ["TRACE-1"], hex: submitBase({ traceparent: mp.str("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01") }), error: "bad_frame" },
    { id: "traceparent-version-ff", description: "submit.traceparent of version ff, which W3C forbids.", spec: ["TRACE-1"], hex: submitBase({ traceparent: mp.str("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") }), error: "bad_frame" },
    { id: "traceparent-short-trace-id", description: "submit.traceparent whose trace id has 31 hex digits.", spec: ["TRACE-1"], hex: submitBase({ traceparent: mp.str("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01") }), error: "bad_frame" },
    { id: "traceparent-not-str", description: "request.traceparent is a bin instead of a str.", spec: ["TRACE-1"], hex: frameOf("request", [["id", mp.str("q1")], ["to", mp.str("a")], ["payload", doc(1)], ["traceparent", mp.bin("00")]]), error: "bad_frame" },
    { id: "tracestate-33-members", description: "submit.tracestate of 33 list members, one over the limit of 32.", spec: ["TRACE-2"], hex: submitBase({ traceparent: mp.str("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), tracestate: mp.str(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",")) }), error: "bad_frame" },
    { id: "tracestate-513-chars", description: "publish.tracestate of 513 characters, one over the limit of 512.", spec: ["TRACE-2"], hex: frameOf("publish", [["topic", mp.str("a")], ["payload", doc(1)], ["traceparent", mp.str("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")], ["tracestate", mp.str(`k=${"v".repeat(255)},j=${"v".repeat(253)}`)]]), error: "bad_frame" },
    { id: "tracestate-bad-key", description: "send.tracestate whose key \"Vendor\" starts with an uppercase letter.", spec: ["TRACE-2"], hex: frameOf("send", [["to", mp.str("a")], ["payload", doc(1)], ["traceparent", mp.str("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")], ["tracestate", mp.str("Vendor=x")]]), error: "bad_frame" },
    // -- workflows (v1.2)
    { id: "run-workflow-not-map", description: "run whose workflow is a str instead of a map.", spec: ["WF-17"], hex: frameOf("run", [["ref", mp.str("w1")], ["workflow", mp.str("trade")], ["input", doc(1)]]), error: "bad_frame" },
    { id: "run-input-not-bin", description: "run whose input is a map instead of a bin holding it.", spec: ["WF-17", "ENC-7"], hex: frameOf("run", [["ref", mp.str("w1")], ["workflow", mp.map([["name", mp.str("trade")]])], ["input", mp.map([["a", mp.int(1)]])]]), error: "bad_frame" },
    { id: "run-event-unknown-event", description: "run_event whose event names no workflow event.", spec: ["WF-22"], hex: frameOf("run_event", [["run_id", mp.str("r-1")], ["event", mp.str("workflow.paused")], ["at", mp.int(1)]]), error: "bad_frame" },
    { id: "run-result-failed-no-error", description: "run_result with ok=false and no error.", spec: ["WF-19"], hex: frameOf("run_result", [["run_id", mp.str("r-1")], ["ok", mp.false]]), error: "bad_frame" },
    { id: "run-watch-no-ref", description: "run_watch without its required ref.", spec: ["WF-21"], hex: frameOf("run_watch", [["run_id", mp.str("r-1")]]), error: "bad_frame" },
    { id: "run-cancel-no-run-id", description: "run_cancel without run_id.", spec: ["WF-20"], hex: frameOf("run_cancel", [["ref", mp.str("c1")]]), error: "bad_frame" },
    // -- capabilities and versions    // -- capabilities and versions
    { id: "capability-leading-dot", description: "submit.capability \".quote\" does not start with a letter or digit.", spec: ["CAP-1"], hex: submitBase({ capability: mp.str(".quote") }), error: "bad_frame" },
    { id: "capability-space", description: "submit.capability \"price quote\" holds a space.", spec: ["CAP-1"], hex: submitBase({ capability: mp.str("price quote") }), error: "bad_frame" },
    { id: "capability-129", description: "submit.capability of 129 characters, one over the limit.", spec: ["CAP-1"], hex: submitBase({ capability: mp.str("c".repeat(129)) }), error: "bad_frame" },
    { id: "version-range-x", description: "submit.version \"1.x\" is not a range.", spec: ["CAP-3"], hex: submitBase({ version: mp.str("1.x") }), error: "bad_frame" },
    { id: "version-range-empty", description: "submit.version is the empty str.", spec: ["CAP-3"], hex: submitBase({ version: mp.str("") }), error: "bad_frame" },
    { id: "version-range-leading-zero", description: "submit.version \">=01.0\" has a leading zero.", spec: ["CAP-3"], hex: submitBase({ version: mp.str(">=01.0") }), error: "bad_frame" },
    {
      id: "capability-version-not-semver",
      description: "register with a capability whose version \"1.0\" is not MAJOR.MINOR.PATCH.",
      spec: ["CAP-2"],
      hex: frameOf("register", [["capabilities", mp.array([mp.map([["name", mp.str("c")], ["version", mp.str("1.0")]])])]]),
      error: "bad_frame",
    },
    {
      id: "register-duplicate-capability",
      description: "register naming the capability \"c\" twice (with different versions).",
      spec: ["REG-8"],
      hex: frameOf("register", [["capabilities", mp.array([mp.map([["name", mp.str("c")]]), mp.map([["name", mp.str("c")], ["version", mp.str("2.0.0")]])])]]),
      error: "bad_frame",
    },
    {
      id: "error-message-utf16",
      description: "error whose message is 2049 U+1F600: 2049 code points but 4098 UTF-16 units, over the limit of 4096.",
      spec: ["ENC-18"],
      hex: frameOf("error", [["code", mp.str("x")], ["message", mp.str("\u{1F600}".repeat(2049))]]),
      error: "bad_frame",
    },
    { id: "nil-in-nested-type", description: "result whose error.retryable is nil: nil is no value inside nested types.", spec: ["ENC-12"], hex: frameOf("result", [["task_id", mp.str("t")], ["ok", mp.false], ["error", mp.map([["code", mp.str("x")], ["message", mp.str("m")], ["retryable", mp.nil]])]]), error: "bad_frame" },
    { id: "capability-missing-name", description: "register with a capability without a name.", spec: ["CAP-1"], hex: frameOf("register", [["capabilities", mp.array([mp.map([["version", mp.str("1.0.0")]])])]]), error: "bad_frame" },
    // -- cross-field rules
    { id: "result-failed-without-error", description: "result with ok false and no error.", spec: ["TASK-10"], hex: frameOf("result", [["task_id", mp.str("t")], ["ok", mp.false]]), error: "bad_frame" },
    { id: "response-failed-without-error", description: "response with ok false and no error.", spec: ["REQ-4"], hex: frameOf("response", [["id", mp.str("q1")], ["ok", mp.false]]), error: "bad_frame" },
    { id: "result-error-without-message", description: "result whose error has a code but no message.", spec: ["ERR-1"], hex: frameOf("result", [["task_id", mp.str("t")], ["ok", mp.false], ["error", mp.map([["code", mp.str("x")]])]]), error: "bad_frame" },
    { id: "request-to-and-capability", description: "request with both to and capability.", spec: ["REQ-1"], hex: frameOf("request", [["id", mp.str("q1")], ["to", mp.str("a")], ["capability", mp.str("c")], ["payload", doc(1)]]), error: "bad_frame" },
    { id: "request-no-target", description: "request with neither to nor capability.", spec: ["REQ-1"], hex: frameOf("request", [["id", mp.str("q1")], ["payload", doc(1)]]), error: "bad_frame" },
    { id: "error-code-empty", description: "error frame with an empty code.", spec: ["ERR-1"], hex: frameOf("error", [["code", mp.str("")], ["message", mp.str("m")]]), error: "bad_frame" },
    // -- pools (v1.2)
    { id: "pool-min-above-max", description: "pool whose min 5 is greater than its max 3.", spec: ["POOL-3"], hex: pool([["min", mp.int(5)], ["max", mp.int(3)]]), error: "bad_frame" },
    { id: "pool-no-capabilities", description: "pool with an empty capabilities array: at least one.", spec: ["POOL-3"], hex: pool([["capabilities", mp.array([])]]), error: "bad_frame" },
    { id: "pool-max-zero", description: "pool with max 0 (at least 1).", spec: ["POOL-3"], hex: pool([["min", mp.int(0)], ["max", mp.int(0)]]), error: "bad_frame" },
    { id: "pool-without-ref", description: "pool without its required ref.", spec: ["POOL-3"], hex: frameOf("pool", [["name", mp.str("p")], ["capabilities", mp.array([mp.str("c")])], ["min", mp.int(1)], ["max", mp.int(2)]]), error: "bad_frame" },
    { id: "pool-negative-threshold", description: "pool whose autoscale.down_threshold is -0.5.", spec: ["POOL-6"], hex: pool([["autoscale", mp.map([["down_threshold", mp.float64(-0.5)]])]]), error: "bad_frame" },
    { id: "pool-step-float", description: "pool whose autoscale.step is the float64 1.5.", spec: ["POOL-6", "ENC-3"], hex: pool([["autoscale", mp.map([["step", mp.float64(1.5)]])]]), error: "bad_frame" },
    { id: "register-pool-space", description: "register whose pool name \"my pool\" holds a space (an id, ENC-6).", spec: ["POOL-1", "ENC-6"], hex: frameOf("register", [["pool", mp.str("my pool")]]), error: "bad_frame" },
    {
      id: "scale-reason-not-in-enum",
      description: "scale whose reason \"manual\" is not one of the five reasons.",
      spec: ["POOL-9"],
      hex: frameOf("scale", [["pool", mp.str("p")], ["from", mp.int(1)], ["to", mp.int(2)], ["reason", mp.str("manual")], ["utilization", mp.float64(0.9)], ["in_flight", mp.int(1)], ["capacity", mp.int(1)], ["queued", mp.int(0)]]),
      error: "bad_frame",
    },
  ];
  return defs;
}

/** Hex of `levels` nested one-entry maps under key "k", the innermost holding the item `inner`. */
function nestedHex(levels: number, inner: string): string {
  return `${mp.mapHeader(1)}${mp.str("k")}`.repeat(levels) + inner;
}

function buildInvalid(): InvalidVector[] {
  return invalidDefs().map((d) => {
    const v: InvalidVector = { id: `invalid/${d.id}`, description: d.description, spec: d.spec, hex: d.hex, error: d.error };
    if (d.max_frame_bytes !== undefined) v.max_frame_bytes = d.max_frame_bytes;
    return v;
  });
}

// ---- files ---------------------------------------------------------------------------------------

export interface VectorFile<V> {
  version: number;
  vectors: V[];
}

/** The text of every protocol/vectors/*.json file, by file name. */
export function vectorFiles(): Map<string, string> {
  const text = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;
  return new Map([
    ["valid.json", text({ version: VECTOR_FORMAT_VERSION, vectors: buildValid() } satisfies VectorFile<ValidVector>)],
    ["invalid.json", text({ version: VECTOR_FORMAT_VERSION, vectors: buildInvalid() } satisfies VectorFile<InvalidVector>)],
  ]);
}

export const vectorsDir = join(protocolDir, "vectors");

/** Writes protocol/vectors/*.json (README.md is written by hand) and removes stale .json files. */
export function writeVectors(): number {
  mkdirSync(vectorsDir, { recursive: true });
  const files = vectorFiles();
  for (const name of readdirSync(vectorsDir)) if (name.endsWith(".json") && !files.has(name)) rmSync(join(vectorsDir, name));
  for (const [name, text] of files) writeFileSync(join(vectorsDir, name), text);
  return files.size;
}
