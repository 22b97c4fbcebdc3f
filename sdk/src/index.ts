/**
 * @agentwire/sdk: agents and clients for the agentwire broker, on Node and in browsers. The core loads
 * no Solana, OpenAI or OpenTelemetry code: those live at `@agentwire/sdk/solana`, `@agentwire/sdk/llm`
 * and `@agentwire/sdk/otel`.
 */
export { Agent, createAgent, type AgentDrainReport, type AgentOptions, type CapabilitySpec, type GoawayHandler, type Health, type RequestHandler, type TaskHandler } from "./agent.js";
export { Client, connect, type AgentQuery, type ConnectOptions, type DrainReport, type IncomingMessage, type RequestOptions, type RequestTarget, type SubmitOptions } from "./client.js";
export { Connection, backoffDelay, type BackoffOptions } from "./connection.js";
export type { RequestContext, TaskContext, TaskInfo } from "./context.js";
export { defineCapability, defineRequest, type CapabilityContract, type CapabilityDefinition, type InputOf, type OutputOf, type ProgressOf, type RequestContract } from "./contract.js";
export { ClosedError, ConnectError, ConnectionLostError, InvalidUrlError } from "./errors.js";
export type { EventQuery, EventReadOptions } from "./events.js";
export { TaskHandle, type StreamEvent } from "./handle.js";
export { consoleLogger, type LogFn, type Logger, type LogLevel } from "./log.js";
export { DEFAULT_CONNECT_TIMEOUT_MS, Session, type Load, type StartOptions, type Status } from "./session.js";
export { NoSignerError, SignerContext, type Signer } from "./signer.js";
export { AgentPool, InvalidPoolOptionsError, createPool, type MemberExit, type PoolEvent, type PoolInstance, type PoolMember, type PoolMemberInfo, type PoolOptions, type ProcessPoolOptions, type RestartOptions, type TemplatePoolOptions } from "./pool.js";
export { checkedWorkflow, ParallelBuilder, ref, retry, tpl, workflow, WorkflowBuilder, type RetryOptions, type StepOptions, type TypedWorkflow, type WorkflowOptions, type WorkflowOutput } from "./workflow.js";
export { RunHandle, type RunOptions, type RunTarget, type WorkflowEvent } from "./workflow-run.js";
export { currentTrace, withTrace, type ConsumerOperation, type ProducerOperation, type TraceSpan, type Tracing } from "./trace.js";
export type { DialOptions, Transport, TransportEvents, TransportSocket } from "./transport.js";
/** zod, re-exported so agents written without their own package.json can declare schemas. */
export { z } from "zod";
// Typed errors are the wire's: one class per code, shared by broker, SDK and conformance.
export * from "@agentwire/wire";
