/**
 * @agentwire/a2a: the Agent2Agent protocol (A2A 1.0, with the official `@a2a-js/sdk`) and agentwire.
 * `a2aServer` / `a2aMount` expose mesh capabilities as an A2A agent; `a2aAgent` brings a remote A2A
 * agent onto the mesh as a capability.
 */
export { MeshExecutor, type MeshAccess } from "./executor.js";
export { a2aAgent, A2A_FAILED, A2A_REJECTED, type A2aAgent, type A2aAgentOptions } from "./remote.js";
export { a2aHandler, a2aMount, type A2aHandler, type A2aHandlerOptions } from "./server.js";
export { a2aServer, type A2aServer, type A2aServerOptions } from "./standalone.js";
export { agentMessage, dataPart, userMessage, valueOf } from "./parts.js";
