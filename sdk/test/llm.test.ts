import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, type Agent, type Client } from "../src/index.js";
import { LlmInput, LlmOutput, llmAgent } from "../src/llm.js";
import { HAVE_BROKER, backoff, logger, sdkBroker, type TestBroker } from "./helpers.js";

type ChatRequest = { model: string; messages: { role: string; content?: string | null; tool_call_id?: string }[]; tools?: { function: { name: string; parameters: unknown } }[] };

const toolCall = (id: string, name: string, args: unknown) => ({
  role: "assistant",
  content: null,
  tool_calls: [{ id, type: "function", function: { name, arguments: JSON.stringify(args) } }],
});
/** The scripted plan: add, then upper-case, then answer. */
const SCRIPT = [
  toolCall("call_1", "math_add", { a: 2, b: 3 }),
  toolCall("call_2", "text_upper", { text: "five" }),
  { role: "assistant", content: "2 + 3 = 5, shouted: FIVE" },
];

async function body(req: IncomingMessage): Promise<string> {
  let s = "";
  for await (const chunk of req) s += String(chunk);
  return s;
}

/** A minimal OpenAI-compatible chat completions endpoint that plays SCRIPT in order. */
function scriptedServer(received: ChatRequest[]): Server {
  return createServer((req, res) => {
    void body(req).then((raw) => {
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
        res.writeHead(404).end();
        return;
      }
      const parsed = JSON.parse(raw) as ChatRequest;
      const message = SCRIPT[received.length] ?? { role: "assistant", content: "script exhausted" };
      received.push(parsed);
      const finish = "tool_calls" in message ? "tool_calls" : "stop";
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({ id: `cmpl-${received.length}`, object: "chat.completion", created: 0, model: parsed.model, choices: [{ index: 0, message, finish_reason: finish }] }),
      );
    });
  });
}

describe.skipIf(!HAVE_BROKER)("llmAgent", () => {
  let broker: TestBroker;
  let server: Server;
  const received: ChatRequest[] = [];
  const agents: Agent[] = [];
  let client: Client;

  beforeAll(async () => {
    broker = await sdkBroker();
    server = scriptedServer(received);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    agents.push(
      await createAgent({ url: broker.url, name: "math", logger, backoff })
        .capability("math.add", { input: z.object({ a: z.number(), b: z.number() }), description: "Add two numbers" }, ({ a, b }) => ({ sum: a + b }))
        .start(),
      await createAgent({ url: broker.url, name: "text", logger, backoff })
        .capability("text.upper", { input: z.object({ text: z.string() }) }, ({ text }) => ({ text: text.toUpperCase() }))
        .start(),
      await createAgent({ url: broker.url, name: "planner", logger, backoff })
        .capability(
          "llm.plan",
          { input: LlmInput, output: LlmOutput },
          llmAgent({ client: new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "test", maxRetries: 0 }), model: "scripted", system: "Use the tools." }),
        )
        .start(),
    );
    client = await connect({ url: broker.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    for (const a of agents) await a.close();
    server?.close();
    await broker?.stop();
  });

  it("runs a scripted two-tool plan through real agents and returns the answer", async () => {
    const out = await client.submit("llm.plan", { prompt: "add 2 and 3, then shout it" }, { timeoutMs: 20_000 });
    expect(out).toEqual({
      answer: "2 + 3 = 5, shouted: FIVE",
      steps: [
        { tool: "math_add", capability: "math.add", ok: true },
        { tool: "text_upper", capability: "text.upper", ok: true },
      ],
    });
    expect(received).toHaveLength(3);
    const tools = received[0]!.tools!.map((t) => t.function.name).sort();
    expect(tools).toEqual(["math_add", "text_upper"]);
    expect(received[0]!.tools!.find((t) => t.function.name === "math_add")!.function.parameters).toMatchObject({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
    });
    expect(received[0]!.messages.map((m) => m.role)).toEqual(["system", "user"]);
    const toolMsg = (req: ChatRequest, id: string) => req.messages.find((m) => m.role === "tool" && m.tool_call_id === id);
    expect(JSON.parse(toolMsg(received[1]!, "call_1")!.content!)).toEqual({ sum: 5 });
    expect(JSON.parse(toolMsg(received[2]!, "call_2")!.content!)).toEqual({ text: "FIVE" });
    expect(toolMsg(received[2]!, "call_1")).toBeDefined();
  });
});
