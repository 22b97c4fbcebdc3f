export { Agent, createAgent, type AgentOptions, type CapabilitySpec, type GoawayHandler, type Health, type RequestHandler, type TaskHandler } from "./agent.js";
export { Client, connect, type AgentQuery, type ConnectOptions, type IncomingMessage, type RequestOptions, type RequestTarget, type SubmitOptions } from "./client.js";
export { Connection, backoffDelay, type BackoffOptions } from "./connection.js";
export type { RequestContext, TaskContext, TaskInfo } from "./context.js";
export { ClosedError, ConnectionLostError, InvalidOutputError } from "./errors.js";
export type { EventQuery, EventReadOptions } from "./events.js";
export { llmAgent, LlmInput, LlmOutput, toolName, type LlmAgentOptions } from "./llm.js";
export { Session, type Load } from "./session.js";
export { NoSignerError, SignerContext, type Signer } from "./signer.js";
export { SolanaSigner } from "./solana.js";
export type { StreamEvent } from "./stream.js";
/** zod, re-exported so agents written without their own package.json can declare schemas. */
export { z } from "zod";
// Typed errors are the wire's: one class per code, shared by broker, SDK and conformance.
export * from "@agentwire/wire";
