// An LLM planner: every capability on the mesh becomes a tool; the model's tool calls run as tasks.
//   OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_API_KEY=x MODEL=llama3.1 node examples/llm/index.mjs "what is 17 + 25, in capitals?"
import { connect, createAgent, z } from "@agentwire/sdk";
import { LlmInput, LlmOutput, llmAgent } from "@agentwire/sdk/llm";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";
const model = process.env.MODEL ?? "gpt-4o-mini";

const tools = createAgent({ url, name: "tools" })
  .capability("math.add", { input: z.object({ a: z.number(), b: z.number() }), description: "Add two numbers" }, ({ a, b }) => ({ sum: a + b }))
  .capability("text.upper", { input: z.object({ text: z.string() }), description: "Upper-case a text" }, ({ text }) => ({ text: text.toUpperCase() }));

const planner = createAgent({ url, name: "planner" }).capability(
  "llm.plan",
  { input: LlmInput, output: LlmOutput, description: "Answer a question using the mesh's capabilities" },
  llmAgent({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY, model, system: "Use the tools when they help." }),
);

await tools.start();
await planner.start();
const client = await connect({ url });
try {
  const prompt = process.argv[2] ?? "What is 17 + 25? Then write the number in words, in capitals.";
  const out = await client.submit("llm.plan", { prompt }, { timeoutMs: 120_000 });
  console.log(out.answer);
  console.log("steps:", out.steps);
} finally {
  await client.drain();
  await planner.drain();
  await tools.drain();
}
