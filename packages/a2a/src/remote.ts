/**
 * A remote A2A agent as an agentwire capability: `a2aAgent({ card, broker, capability })` reads the
 * agent's card with the A2A SDK's client and registers one capability; a task sends its input as a
 * streaming message (a data part, or a text part for a string), each `working` status update with a
 * message becomes task progress, and the output is the last artifact's (or the final message's) value.
 * A cancelled task cancels the A2A task.
 */
import { TaskState, type Task } from "@a2a-js/sdk";
import { ClientFactory, type Client as A2aClient } from "@a2a-js/sdk/client";
import { AgentwireError, createAgent, z, type Agent, type AgentOptions } from "@agentwire/sdk";
import { dataPart, userMessage, valueOf } from "./parts.js";

/** Application error codes [ERR-4]: the remote task failed, or refused the message. */
export const A2A_FAILED = "a2a.failed";
export const A2A_REJECTED = "a2a.rejected";

export type A2aAgentOptions = Omit<AgentOptions, "url" | "name"> & {
  /** The remote agent's base URL (its card is at `<card>/.well-known/agent-card.json`). */
  card: string;
  /** The broker's WebSocket URL. */
  broker: string;
  /** The capability name it is offered as (default: the card's name, lowercased, spaces as dashes). */
  capability?: string;
  /** The agent's name on the mesh (default: the card's name). */
  name?: string;
  /** Metadata sent with every message, e.g. `{ skill: "..." }`. */
  metadata?: Record<string, unknown>;
  /** Headers sent with every A2A call, e.g. `{ authorization: "Bearer ..." }`. */
  headers?: Record<string, string>;
};

export interface A2aAgent extends AsyncDisposable {
  readonly agent: Agent;
  readonly a2a: A2aClient;
  readonly capability: string;
  close(): Promise<void>;
}

export async function a2aAgent(options: A2aAgentOptions): Promise<A2aAgent> {
  const { card: base, broker, capability: wanted, name, metadata, headers, ...agentOptions } = options;
  const factory = new ClientFactory();
  const a2a = await factory.createFromUrl(base);
  const card = await a2a.getAgentCard();
  const capability = wanted ?? card.name.toLowerCase().replace(/[^a-z0-9_.:/-]+/g, "-").replace(/^-+|-+$/g, "");
  const callOptions = headers === undefined ? undefined : { serviceParameters: headers };
  const agent = createAgent({ ...agentOptions, url: broker, name: name ?? card.name });
  agent.capability(capability, { input: z.unknown(), description: card.description }, async (input, ctx) => {
    let taskId: string | undefined;
    let output: unknown;
    const onAbort = (): void => {
      if (taskId !== undefined) void a2a.cancelTask({ tenant: "", id: taskId, metadata: {} }, callOptions).catch(() => undefined);
    };
    // Registered before the stream's own listener: the cancel is sent, then the stream is dropped, so the
    // handler ends even when the remote agent never reports `canceled`.
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = a2a.sendMessageStream({ tenant: "", message: userMessage([dataPart(input)], metadata), configuration: undefined, metadata: {} }, { ...callOptions, signal: ctx.signal });
      for await (const event of stream) {
        const p = event.payload;
        if (p === undefined) continue;
        if (p.$case === "task") {
          taskId = p.value.id;
          if (ctx.signal.aborted) onAbort();
          const ended = ending(p.value);
          if (ended !== undefined) return ended;
        } else if (p.$case === "statusUpdate") {
          const status = p.value.status;
          taskId ??= p.value.taskId;
          const value = status?.message === undefined ? undefined : valueOf(status.message.parts);
          switch (status?.state) {
            case TaskState.TASK_STATE_WORKING:
              if (value !== undefined) ctx.progress(value);
              break;
            case TaskState.TASK_STATE_COMPLETED:
              return output ?? value;
            case TaskState.TASK_STATE_CANCELED:
              throw new AgentwireError("cancelled", typeof value === "string" ? value : "the A2A task was canceled");
            case TaskState.TASK_STATE_FAILED:
              throw new AgentwireError(A2A_FAILED, typeof value === "string" ? value : "the A2A task failed", { retryable: false });
            case TaskState.TASK_STATE_REJECTED:
              throw new AgentwireError(A2A_REJECTED, typeof value === "string" ? value : "the A2A agent rejected the task", { retryable: false });
          }
        } else if (p.$case === "artifactUpdate") {
          if (p.value.artifact !== undefined) output = valueOf(p.value.artifact.parts);
        } else if (p.$case === "message") {
          return valueOf(p.value.parts);
        }
      }
      ctx.signal.throwIfAborted();
      return output;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  });
  await agent.start();
  const close = async (): Promise<void> => void (await agent.drain());
  return { agent, a2a, capability, close, [Symbol.asyncDispose]: close };
}

/** The output of a task that came back already ended (a non-streaming agent), else undefined. */
function ending(task: Task): unknown {
  const state = task.status?.state;
  if (state !== TaskState.TASK_STATE_COMPLETED) return undefined;
  const last = task.artifacts.at(-1);
  return last === undefined ? (task.status?.message === undefined ? null : valueOf(task.status.message.parts)) : valueOf(last.parts);
}
