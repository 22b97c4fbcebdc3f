/**
 * An LLM planner as a capability handler: the model sees every capability of the mesh as a tool
 * (parameters = its input JSON Schema), and each tool call it makes runs as an agentwire task
 * through the agent's own connection. The loop ends when the model answers without tool calls.
 */
import { AgentwireError, errorInfo, type AgentInfo } from "@agentwire/wire";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { z } from "zod";
import type { TaskContext } from "./context.js";

export const LlmInput = z.union([z.string(), z.object({ prompt: z.string() })]);
export const LlmOutput = z.object({
  answer: z.string(),
  steps: z.array(z.object({ tool: z.string(), capability: z.string(), ok: z.boolean() })),
});
export type LlmOutputT = z.infer<typeof LlmOutput>;

export interface LlmAgentOptions {
  /** An OpenAI SDK client; when absent one is made from `baseURL` and `apiKey`. */
  client?: OpenAI;
  baseURL?: string;
  apiKey?: string;
  model: string;
  system?: string;
  /** Most model turns before giving up (default 8). */
  maxSteps?: number;
  /** Capabilities the model may call; default every capability in the registry except the planner's own. */
  allow?: (capability: string) => boolean;
  temperature?: number;
}

/** A function name OpenAI accepts (^[a-zA-Z0-9_-]{1,64}$) for a capability name. */
export function toolName(capability: string): string {
  return capability.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
}

function toolsOf(agents: AgentInfo[], allow: (c: string) => boolean): Map<string, { capability: string; tool: ChatCompletionTool }> {
  const tools = new Map<string, { capability: string; tool: ChatCompletionTool }>();
  for (const agent of agents) {
    for (const cap of agent.capabilities) {
      const name = toolName(cap.name);
      if (!allow(cap.name) || tools.has(name)) continue;
      const parameters = { ...(cap.input_schema ?? { type: "object" }) };
      delete parameters.$schema;
      tools.set(name, {
        capability: cap.name,
        tool: { type: "function", function: { name, description: cap.description ?? `agentwire capability ${cap.name}`, parameters } },
      });
    }
  }
  return tools;
}

/** A capability handler: `agent.capability("plan", { input: LlmInput, output: LlmOutput }, llmAgent({...}))`. */
export function llmAgent(options: LlmAgentOptions) {
  const maxSteps = options.maxSteps ?? 8;
  const openai = options.client ?? new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey ?? "none" });
  return async (input: z.output<typeof LlmInput>, ctx: TaskContext): Promise<LlmOutputT> => {
    const prompt = typeof input === "string" ? input : input.prompt;
    const own = ctx.task.capability;
    const allow = options.allow ?? ((c: string) => c !== own);
    const tools = toolsOf(await ctx.agents({ status: "ready" }).then(async (ready) => [...ready, ...(await ctx.agents({ status: "busy" }))]), allow);
    const messages: ChatCompletionMessageParam[] = [];
    if (options.system !== undefined) messages.push({ role: "system", content: options.system });
    messages.push({ role: "user", content: prompt });
    const steps: LlmOutputT["steps"] = [];
    for (let turn = 0; turn < maxSteps; turn++) {
      ctx.signal.throwIfAborted();
      const completion = await openai.chat.completions.create(
        {
          model: options.model,
          messages,
          ...(tools.size > 0 ? { tools: [...tools.values()].map((t) => t.tool) } : {}),
          ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        },
        { signal: ctx.signal },
      );
      const message = completion.choices[0]?.message;
      if (message === undefined) throw new AgentwireError("llm_error", "the model returned no choice");
      const calls = (message.tool_calls ?? []).filter((c) => c.type === "function");
      if (calls.length === 0) return { answer: message.content ?? "", steps };
      messages.push({ role: "assistant", content: message.content ?? null, tool_calls: calls });
      ctx.progress({ turn, tools: calls.map((c) => c.function.name) });
      const results = await Promise.all(
        calls.map(async (call) => {
          const entry = tools.get(call.function.name);
          let content: string;
          let ok = false;
          try {
            if (entry === undefined) throw new AgentwireError("unknown_tool", `no capability behind tool ${call.function.name}`);
            const args: unknown = call.function.arguments.trim() === "" ? {} : JSON.parse(call.function.arguments);
            const output = await ctx.submit(entry.capability, args);
            content = JSON.stringify(output ?? null);
            ok = true;
          } catch (err) {
            content = JSON.stringify({ error: errorInfo(err) });
          }
          steps.push({ tool: call.function.name, capability: entry?.capability ?? "", ok });
          return { role: "tool" as const, tool_call_id: call.id, content };
        }),
      );
      messages.push(...results);
    }
    throw new AgentwireError("llm_max_steps", `the model did not answer within ${maxSteps} steps`);
  };
}
