/**
 * An MCP server over the mesh: `tools/list` is the catalog, `tools/call` submits a task and returns
 * its output. Progress goes out as `notifications/progress` when the call carries a progressToken; a
 * `notifications/cancelled` cancels the task, and a task cancelled on the mesh ends the call with an
 * error result.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { AgentwireError, type Client } from "@agentwire/sdk";
import type { MeshTool, ToolCatalog } from "./tools.js";

export const SERVER_INFO = { name: "agentwire-mcp", version: "0.1.0" } as const;

/** One MCP server (one per MCP session: a Server serves one transport) over a shared client and catalog. */
export function createMcpServer(client: Client, catalog: ToolCatalog): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: { tools: { listChanged: true } },
    instructions: "Each tool is a capability of an agentwire mesh; calling it runs one task on an agent that offers it.",
  });
  const off = catalog.onChange(() => void server.sendToolListChanged().catch(() => undefined));
  server.onclose = off;

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    await catalog.refresh();
    return { tools: catalog.list().map(toolView) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const { name } = request.params;
    let tool = catalog.get(name);
    if (tool === undefined) {
      await catalog.refresh();
      tool = catalog.get(name);
    }
    if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${name}: no agent of the mesh offers it`);
    const args = request.params.arguments ?? {};
    const handle = client.submit(tool.capability, tool.wrapsInput ? args.input : args, { signal: extra.signal });
    const token = extra._meta?.progressToken;
    // Every notification is sent before the result: a client stops listening for a call's progress once it answered.
    const progressSent =
      token === undefined
        ? undefined
        : (async () => {
            let last = 0;
            for await (const p of handle.progress()) {
              const update = progressOf(p, last);
              last = update.progress;
              await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, ...update } });
            }
          })().catch(() => undefined); // the task's own end is reported by the call's result
    try {
      const output = await handle;
      await progressSent;
      return resultOf(tool, output);
    } catch (err) {
      const e = err instanceof AgentwireError ? err : undefined;
      return { isError: true, content: [{ type: "text", text: e === undefined ? String(err) : `${e.code}: ${e.message}` }], _meta: { "agentwire/error": { code: e?.code ?? "internal", message: e?.message ?? String(err) } } };
    }
  });
  return server;
}

function toolView(t: MeshTool): Tool {
  return { name: t.name, description: t.description, inputSchema: t.inputSchema, ...(t.outputSchema === undefined ? {} : { outputSchema: t.outputSchema }), _meta: { "agentwire/capability": t.capability } };
}

function resultOf(tool: MeshTool, output: unknown): CallToolResult {
  const text = output === undefined ? "" : JSON.stringify(output);
  const content: CallToolResult["content"] = [{ type: "text", text }];
  if (tool.outputSchema === undefined) return { content };
  return { content, structuredContent: tool.wrapsOutput ? { output } : (output as Record<string, unknown>) };
}

/**
 * An MCP progress update from a task's: `{ progress, total?, message? }` numbers are taken as they are
 * when they advance; anything else counts one step, with its JSON as the message. MCP wants `progress`
 * to increase with every notification.
 */
export function progressOf(data: unknown, last: number): { progress: number; total?: number; message?: string } {
  if (typeof data === "object" && data !== null) {
    const d = data as { progress?: unknown; total?: unknown; message?: unknown };
    if (typeof d.progress === "number" && d.progress > last) {
      return {
        progress: d.progress,
        ...(typeof d.total === "number" ? { total: d.total } : {}),
        ...(typeof d.message === "string" ? { message: d.message } : {}),
      };
    }
  }
  return { progress: last + 1, message: typeof data === "string" ? data : JSON.stringify(data) };
}
