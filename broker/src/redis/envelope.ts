/** Wire formats of values the mesh stores in Redis: task entries, responses, publish messages. */
import type { RemoteOutcome, RemoteTask } from "../backend.js";
import type { ErrorInfo, Priority, Strategy } from "@agentwire/wire";

/** Stream entry fields (flat string pairs, as XADD takes them). */
export function taskFields(t: RemoteTask): string[] {
  return [
    "id", t.task_id,
    "cap", t.capability,
    "in", Buffer.from(t.input).toString("base64"),
    "origin", t.origin_broker,
    "target", t.target_broker,
    "timeout", String(t.timeout_ms),
    "attempt", String(t.attempt),
    ...(t.max_attempts === undefined ? [] : ["max", String(t.max_attempts)]),
    ...(t.version === undefined ? [] : ["ver", t.version]),
    ...(t.tags === undefined ? [] : ["tags", JSON.stringify(t.tags)]),
    ...(t.priority === undefined ? [] : ["prio", t.priority]),
    ...(t.strategy === undefined ? [] : ["strat", t.strategy]),
  ];
}

export function parseTaskFields(fields: readonly string[]): RemoteTask | undefined {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i]!, fields[i + 1]!);
  const id = m.get("id");
  const cap = m.get("cap");
  const origin = m.get("origin");
  if (id === undefined || cap === undefined || origin === undefined) return undefined;
  return {
    task_id: id,
    capability: cap,
    input: Buffer.from(m.get("in") ?? "", "base64"),
    origin_broker: origin,
    target_broker: m.get("target") ?? "",
    timeout_ms: Number(m.get("timeout") ?? 30_000),
    attempt: Number(m.get("attempt") ?? 1),
    max_attempts: m.has("max") ? Number(m.get("max")) : undefined,
    version: m.get("ver"),
    tags: m.has("tags") ? (JSON.parse(m.get("tags")!) as string[]) : undefined,
    priority: m.get("prio") as Priority | undefined,
    strategy: m.get("strat") as Strategy | undefined,
  };
}

export function encodeOutcome(o: RemoteOutcome): string {
  return JSON.stringify({ ok: o.ok, output: o.output === undefined ? undefined : Buffer.from(o.output).toString("base64"), error: o.error, attempt: o.attempt });
}

export function decodeOutcome(text: string): RemoteOutcome {
  const v = JSON.parse(text) as { ok: boolean; output?: string; error?: ErrorInfo; attempt?: number };
  return { ok: v.ok, output: v.output === undefined ? undefined : Buffer.from(v.output, "base64"), error: v.error, attempt: v.attempt };
}

/** Publish message: u32 header length, header JSON {topic, from, origin}, then the payload bytes. */
export function encodePublish(origin: string, topic: string, from: string, payload: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify({ topic, from, origin }));
  const out = Buffer.allocUnsafe(4 + header.length + payload.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  out.set(payload, 4 + header.length);
  return out;
}

export function decodePublish(buf: Buffer): { origin: string; topic: string; from: string; payload: Uint8Array } {
  const n = buf.readUInt32BE(0);
  const header = JSON.parse(buf.subarray(4, 4 + n).toString()) as { topic: string; from: string; origin: string };
  return { ...header, payload: buf.subarray(4 + n) };
}
