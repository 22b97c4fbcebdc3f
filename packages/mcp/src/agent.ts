/**
 * Any MCP server as an agentwire agent: `mcpAgent({ command } | { url })` starts (or reaches) the
 * server with the MCP SDK's client, lists its tools, and offers each as a capability with the tool's
 * JSON Schemas; a task calls the tool. Task progress comes from the tool's progress notifications,
 * and a cancelled task cancels the call (`notifications/cancelled`). It lives here, not in
 * `@agentwire/sdk`, so that a plain agent or client never loads the MCP SDK.
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { AgentwireError, createAgent, z, type Agent, type AgentOptions } from "@agentwire/sdk";

/** An application error code [ERR-4]: the tool answered with `isError`. */
export const TOOL_ERROR = "mcp.tool_error";

export type McpServerSource =
  /** A local MCP server started as a child process, speaking MCP over its stdin and stdout. */
  | {
      command: string;
      args?: string[];
      env?: Record<string, string>;
      cwd?: string;
      /** The child's stderr: inherited (default), piped (read it from `McpAgent.stderr`), or ignored. */
      stderr?: "inherit" | "pipe" | "ignore";
    }
  /** A remote MCP server over Streamable HTTP. */
  | { url: string; headers?: Record<string, string> };

export type McpAgentOptions = McpServerSource &
  Omit<AgentOptions, "url" | "name"> & {
    /** The broker's WebSocket URL. */
    broker: string;
    /** The agent's name (default: the MCP server's own name). */
    name?: string;
    /** Put before every tool name to make its capability name, e.g. "files." (default none). */
    prefix?: string;
    /** Only these tools (by MCP name) become capabilities (default all). */
    tools?: string[];
  };

export interface McpAgent extends AsyncDisposable {
  readonly agent: Agent;
  readonly mcp: McpClient;
  /** The capability names offered, one per tool. */
  readonly capabilities: string[];
  /** The child server's stderr when it was started with `stderr: "pipe"`, else null. */
  readonly stderr: NodeJS.ReadableStream | null;
  /** Drains the agent, then closes the MCP connection (and ends a child server). */
  close(): Promise<void>;
}

const CAPABILITY = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;

/**
 * A zod schema that accepts anything and whose JSON Schema is `schema`: the capability is registered
 * with the tool's schemas as they are, and the MCP server checks arguments itself.
 */
function declared(schema: Record<string, unknown>): z.ZodType {
  const { $schema: _ignored, id: _id, ...rest } = schema;
  return z.unknown().meta(rest);
}

export async function mcpAgent(options: McpAgentOptions): Promise<McpAgent> {
  const mcp = new McpClient({ name: "agentwire-mcp-agent", version: "0.1.0" });
  const transport =
    "command" in options
      ? new StdioClientTransport({ command: options.command, args: options.args, env: options.env, cwd: options.cwd, stderr: options.stderr ?? "inherit" })
      : new StreamableHTTPClientTransport(new URL(options.url), { requestInit: { headers: options.headers } });
  await mcp.connect(transport);
  let agent: Agent | undefined;
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await mcp.listTools(cursor === undefined ? {} : { cursor });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const { broker, prefix = "", tools: only, name, ...agentOptions } = options as McpAgentOptions & Record<string, unknown>;
    for (const key of ["command", "args", "env", "cwd", "stderr", "url", "headers"]) delete (agentOptions as Record<string, unknown>)[key];
    agent = createAgent({ ...(agentOptions as Omit<AgentOptions, "url" | "name">), url: broker, name: name ?? mcp.getServerVersion()?.name ?? "mcp-server" });
    const capabilities: string[] = [];
    for (const tool of tools) {
      if (only !== undefined && !only.includes(tool.name)) continue;
      const capability = `${prefix}${tool.name}`;
      if (!CAPABILITY.test(capability)) {
        agent.logger.warn({ tool: tool.name }, "tool name is not a valid capability name; not offered");
        continue;
      }
      capabilities.push(capability);
      agent.capability(
        capability,
        { input: declared(tool.inputSchema), output: tool.outputSchema && declared(tool.outputSchema), description: tool.description },
        async (input, ctx) => {
          const result = await mcp.callTool({ name: tool.name, arguments: (input ?? {}) as Record<string, unknown> }, undefined, {
            signal: ctx.signal,
            onprogress: (p) => ctx.progress(p),
            timeout: Math.max(1, ctx.deadline - Date.now()),
          });
          const text = Array.isArray(result.content) ? result.content.flatMap((c: { type: string; text?: string }) => (c.type === "text" && c.text !== undefined ? [c.text] : [])).join("\n") : "";
          if (result.isError === true) throw new AgentwireError(TOOL_ERROR, text || `tool ${tool.name} failed`, { retryable: false });
          return result.structuredContent ?? (Array.isArray(result.content) && result.content.every((c: { type: string }) => c.type === "text") ? text : result.content);
        },
      );
    }
    await agent.start();
    const started = agent;
    const close = async (): Promise<void> => {
      await started.drain();
      await mcp.close();
    };
    const stderr = transport instanceof StdioClientTransport ? (transport.stderr as NodeJS.ReadableStream | null) : null;
    return { agent: started, mcp, capabilities, stderr, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await agent?.close().catch(() => undefined);
    await mcp.close().catch(() => undefined);
    throw err;
  }
}
