/**
 * The mesh's capabilities as MCP tools: one tool per capability name in the registry, with the JSON
 * Schemas the capability declares. The catalog learns registry changes with a bounded periodic `query`
 * (one frame per `pollMs`): it works for any token on one broker or a whole mesh, where the event
 * stream (`/v1/events?follow`) needs an admin token and an event store, and shows one broker's agents.
 */
import type { AgentInfo, Capability, Client } from "@agentwire/sdk";

/** A JSON Schema with `type: "object"` at its root, as MCP requires of a tool's schemas. */
export type ObjectSchema = { type: "object"; [key: string]: unknown };

export interface MeshTool {
  /** The tool's name: the capability's, with characters MCP tool names do not allow replaced by `_`. */
  name: string;
  capability: string;
  description: string | undefined;
  inputSchema: ObjectSchema;
  outputSchema: ObjectSchema | undefined;
  /** The capability's input is not an object: the tool takes it as its `input` argument. */
  wrapsInput: boolean;
  /** The capability's output is not an object: the tool returns it as `output` in its structured content. */
  wrapsOutput: boolean;
}

const TOOL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export function toolName(capability: string): string {
  return TOOL_NAME.test(capability) ? capability : capability.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 128);
}

function isObjectSchema(schema: Record<string, unknown> | undefined): schema is ObjectSchema {
  return schema !== undefined && schema.type === "object";
}

/** The tool a capability makes; the first agent's declaration of a name wins (agents of one name should agree). */
export function toolOf(cap: Capability): MeshTool {
  const input = cap.input_schema;
  const output = cap.output_schema;
  const wrapsInput = input !== undefined && !isObjectSchema(input);
  const wrapsOutput = output !== undefined && !isObjectSchema(output);
  return {
    name: toolName(cap.name),
    capability: cap.name,
    description: cap.description,
    inputSchema: input === undefined ? { type: "object" } : wrapsInput ? { type: "object", properties: { input }, required: ["input"] } : (input as ObjectSchema),
    outputSchema: output === undefined ? undefined : wrapsOutput ? { type: "object", properties: { output }, required: ["output"] } : (output as ObjectSchema),
    wrapsInput,
    wrapsOutput,
  };
}

export interface CatalogOptions {
  /** Only these capabilities become tools (default: every capability in the registry). */
  capabilities?: readonly string[];
  /** How often the registry is queried for changes, ms (default 1000). */
  pollMs?: number;
}

/** The tools of the mesh a client sees, kept current; listeners hear of each change. */
export class ToolCatalog {
  private tools = new Map<string, MeshTool>();
  private signature = "";
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly options: CatalogOptions = {},
  ) {}

  /** Starts polling the registry; resolves once the first answer is in. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.options.pollMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Calls `listener` after every change of the tool list; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  list(): MeshTool[] {
    return [...this.tools.values()];
  }

  get(name: string): MeshTool | undefined {
    return this.tools.get(name);
  }

  /** Asks the registry now (one query at a time; callers share an answer in flight). */
  refresh(): Promise<void> {
    return (this.polling ??= this.client
      .agents()
      .then((agents) => this.update(agents))
      .finally(() => (this.polling = undefined)));
  }

  private update(agents: AgentInfo[]): void {
    const wanted = this.options.capabilities === undefined ? undefined : new Set(this.options.capabilities);
    const next = new Map<string, MeshTool>();
    for (const agent of agents) {
      for (const cap of agent.capabilities) {
        if (wanted !== undefined && !wanted.has(cap.name)) continue;
        const tool = toolOf(cap);
        if (!next.has(tool.name)) next.set(tool.name, tool);
      }
    }
    const sorted = new Map([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const signature = JSON.stringify([...sorted.values()]);
    if (signature === this.signature) return;
    const first = this.signature === "";
    this.tools = sorted;
    this.signature = signature;
    if (!first) for (const l of this.listeners) l();
  }
}
