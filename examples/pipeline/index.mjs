// Two agents and a client: "docs.fetch" serves documents, "docs.summarize" fetches one through the
// mesh (a nested task, its deadline capped by its own) and reports progress; the client streams it.
//   pnpm build && node broker/dist/src/bin.js &   then   node examples/pipeline/index.mjs
import { connect, createAgent, z } from "@agentwire/sdk";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";
const DOCS = { intro: "agentwire lets agents in any language coordinate through a broker. It routes, retries and enforces deadlines." };

const fetcher = createAgent({ url, name: "fetcher" }).capability(
  "docs.fetch",
  { input: z.object({ id: z.string() }), output: z.object({ text: z.string() }), description: "Fetch a document by id" },
  ({ id }) => {
    const text = DOCS[id];
    if (text === undefined) throw new Error(`no document ${id}`);
    return { text };
  },
);

const summarizer = createAgent({ url, name: "summarizer" }).capability(
  "docs.summarize",
  { input: z.object({ id: z.string() }), output: z.object({ summary: z.string(), words: z.number() }) },
  async ({ id }, ctx) => {
    ctx.progress({ step: "fetching", id });
    const { text } = await ctx.submit("docs.fetch", { id });
    ctx.progress({ step: "summarizing" });
    return { summary: text.split(". ")[0] + ".", words: text.split(/\s+/).length };
  },
);

await fetcher.start();
await summarizer.start();
const client = await connect({ url });
for await (const event of client.stream("docs.summarize", { id: "intro" }, { timeoutMs: 5_000 })) {
  console.log(event.type, JSON.stringify(event.type === "progress" ? event.data : event.output));
}
await client.drain();
await summarizer.drain();
await fetcher.drain();
