/**
 * @agentwire/mcp: the Model Context Protocol and agentwire. `agentwire-mcp` (and `createMcpServer`,
 * `mcpHttpHandler`, `mcpMount`) serve the mesh's capabilities as MCP tools; `mcpAgent` brings an MCP
 * server's tools onto the mesh as capabilities.
 */
export { mcpAgent, TOOL_ERROR, type McpAgent, type McpAgentOptions, type McpServerSource } from "./agent.js";
export { openBridge, type Bridge, type BridgeOptions } from "./bridge.js";
export { mcpHttpHandler, type McpHttpHandler } from "./http.js";
export { mcpMount, type McpMount, type McpMountOptions } from "./mount.js";
export { createMcpServer, progressOf, SERVER_INFO } from "./server.js";
export { ToolCatalog, toolOf, toolName, type CatalogOptions, type MeshTool, type ObjectSchema } from "./tools.js";
