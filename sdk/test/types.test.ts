/**
 * Type tests: `tsc -b` (run by `pnpm test` before vitest) fails if a `@ts-expect-error` line below
 * compiles, i.e. if a contract stopped catching a misspelled input key; the expectTypeOf checks pin
 * the inferred output, progress and handler types. The functions are never called: only their types count.
 */
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { defineCapability, defineRequest, type Agent, type Client, type TaskHandle } from "../src/index.js";

const Fetch = defineCapability({
  name: "web.fetch",
  input: z.object({ url: z.string(), retries: z.number().optional() }),
  output: z.object({ status: z.number(), body: z.string() }),
  progress: z.object({ bytes: z.number() }),
});
const Lookup = defineRequest({ name: "dns.lookup", input: z.object({ host: z.string() }), output: z.array(z.string()) });

function clientSide(client: Client): void {
  const handle = client.submit(Fetch, { url: "https://example.org" });
  expectTypeOf(handle).toEqualTypeOf<TaskHandle<{ status: number; body: string }, { bytes: number }>>();
  expectTypeOf(handle.result).resolves.toEqualTypeOf<{ status: number; body: string }>();
  expectTypeOf(handle.id).resolves.toBeString();

  // @ts-expect-error a misspelled input key ("ulr") does not compile
  client.submit(Fetch, { ulr: "https://example.org" });
  // @ts-expect-error a wrong type for a known key does not compile
  client.submit(Fetch, { url: 42 });
  // @ts-expect-error a missing required key does not compile
  client.submit(Fetch, {});

  // Strings stay open for dynamic use: unknown unless typed by hand.
  expectTypeOf(client.submit("web.fetch", { anything: true }).result).resolves.toBeUnknown();
  expectTypeOf(client.submit<number>("count", {}).result).resolves.toBeNumber();

  expectTypeOf(client.request(Lookup, { host: "example.org" })).resolves.toEqualTypeOf<string[]>();
  // @ts-expect-error a request contract checks its payload too
  void client.request(Lookup, { hots: "example.org" });

  expectTypeOf(client.task("t-1", Fetch).result).resolves.toEqualTypeOf<{ status: number; body: string }>();
}

function agentSide(agent: Agent): void {
  agent.capability(Fetch, async (input, ctx) => {
    expectTypeOf(input).toEqualTypeOf<{ url: string; retries?: number | undefined }>();
    ctx.progress({ bytes: 10 });
    // @ts-expect-error progress is typed by the contract
    ctx.progress({ byts: 10 });
    const nested = await ctx.submit(Fetch, { url: input.url });
    expectTypeOf(nested).toEqualTypeOf<{ status: number; body: string }>();
    return { status: 200, body: "" };
  });
  // @ts-expect-error the handler's output must satisfy the contract's output
  agent.capability(Fetch, async () => ({ status: "200", body: "" }));
  agent.respond(Lookup, ({ host }) => [host]);
}

describe("types", () => {
  it("compile-time checks live in tsc -b; these functions exist", () => {
    expectTypeOf(clientSide).toBeFunction();
    expectTypeOf(agentSide).toBeFunction();
  });
});
