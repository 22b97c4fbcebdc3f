/**
 * The A2A agent executor over the mesh: a message runs one agentwire task. The capability is the
 * message's `metadata.skill` (or the only one exposed); the input is the message's first data part (or
 * its text). Progress becomes `working` status updates carrying the progress value, the output an
 * artifact and `completed`; an agentwire error `failed` (a cancel `canceled`), with `code: message`.
 */
import { TaskState, type Task } from "@a2a-js/sdk";
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from "@a2a-js/sdk/server";
import { AgentwireError, type Client, type TaskHandle } from "@agentwire/sdk";
import { agentMessage, dataPart, valueOf } from "./parts.js";

/** How the executor reaches the mesh for a request (its caller's token) and which capabilities it may run. */
export interface MeshAccess {
  clientFor(context: RequestContext): Promise<Client>;
  /** Whether `capability` is exposed; undefined: every capability is. */
  exposed: readonly string[] | undefined;
}

export class MeshExecutor implements AgentExecutor {
  private readonly running = new Map<string, TaskHandle>();

  constructor(private readonly access: MeshAccess) {}

  execute = async (ctx: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = ctx;
    const message = ctx.userMessage;
    const status = (state: TaskState, text?: string, metadata?: Record<string, unknown>, value?: unknown): void =>
      bus.publish(
        AgentEvent.statusUpdate({
          taskId,
          contextId,
          status: { state, timestamp: new Date().toISOString(), message: text === undefined && value === undefined ? undefined : agentMessage(taskId, contextId, [dataPart(value ?? text)]) },
          metadata,
        }),
      );
    if (ctx.task === undefined) {
      const task: Task = { id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: new Date().toISOString(), message: undefined }, artifacts: [], history: [message], metadata: message.metadata };
      bus.publish(AgentEvent.task(task));
    }
    const exposed = this.access.exposed;
    const skill = message.metadata?.skill ?? (exposed?.length === 1 ? exposed[0] : undefined);
    if (typeof skill !== "string" || (exposed !== undefined && !exposed.includes(skill))) {
      status(TaskState.TASK_STATE_REJECTED, `invalid_input: name the skill to run in the message's metadata.skill${exposed === undefined ? "" : ` (one of ${exposed.join(", ")})`}`);
      return;
    }
    let client: Client;
    try {
      client = await this.access.clientFor(ctx);
    } catch (err) {
      status(TaskState.TASK_STATE_FAILED, errorText(err));
      return;
    }
    const handle = client.submit(skill, valueOf(message.parts) ?? null);
    this.running.set(taskId, handle);
    try {
      const agentwireId = await handle.id;
      status(TaskState.TASK_STATE_WORKING, undefined, { agentwire_task_id: agentwireId });
      for await (const event of handle) {
        if (event.type === "progress") status(TaskState.TASK_STATE_WORKING, undefined, { agentwire_task_id: agentwireId, progress: true }, event.data);
        else {
          bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: { artifactId: `${taskId}-output`, name: "output", description: `the output of ${skill}`, parts: [dataPart(event.output)], metadata: undefined, extensions: [] }, append: false, lastChunk: true, metadata: undefined }));
          status(TaskState.TASK_STATE_COMPLETED, undefined, { agentwire_task_id: agentwireId });
        }
      }
    } catch (err) {
      const cancelled = err instanceof AgentwireError && err.code === "cancelled";
      status(cancelled ? TaskState.TASK_STATE_CANCELED : TaskState.TASK_STATE_FAILED, errorText(err), { agentwire_task_id: handle.taskId, code: err instanceof AgentwireError ? err.code : "internal" });
    } finally {
      this.running.delete(taskId);
    }
  };

  /** tasks/cancel: cancels the agentwire task; its `cancelled` result ends the execution as `canceled`. */
  cancelTask = async (taskId: string): Promise<void> => {
    await this.running.get(taskId)?.cancel("cancelled over A2A");
  };
}

function errorText(err: unknown): string {
  return err instanceof AgentwireError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}
