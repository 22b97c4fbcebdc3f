/** agentwire values in A2A messages and back: JSON values travel as data parts, strings as text parts. */
import { randomUUID } from "node:crypto";
import { Role, type Message, type Part } from "@a2a-js/sdk";

export function dataPart(value: unknown): Part {
  if (typeof value === "string") return { content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" };
  return { content: { $case: "data", value: value ?? null }, metadata: undefined, filename: "", mediaType: "application/json" };
}

export function agentMessage(taskId: string, contextId: string, parts: Part[], metadata?: Record<string, unknown>): Message {
  return { messageId: randomUUID(), role: Role.ROLE_AGENT, parts, taskId, contextId, metadata, extensions: [], referenceTaskIds: [] };
}

export function userMessage(parts: Part[], metadata?: Record<string, unknown>): Message {
  return { messageId: randomUUID(), role: Role.ROLE_USER, parts, taskId: "", contextId: "", metadata, extensions: [], referenceTaskIds: [] };
}

/**
 * The value parts carry: the first data part's value; else the text parts joined (parsed when they are
 * one JSON document, as a model tends to write them); undefined when there is neither.
 */
export function valueOf(parts: readonly Part[]): unknown {
  for (const p of parts) if (p.content?.$case === "data") return p.content.value;
  const texts = parts.flatMap((p) => (p.content?.$case === "text" ? [p.content.value] : []));
  if (texts.length === 0) return undefined;
  const text = texts.join("\n");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
