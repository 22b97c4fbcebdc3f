/**
 * Typed contracts, task handles and error fidelity against a real broker: a contract shared by agent
 * and client, a handle's id, progress and cancel, re-attaching by id from another client, each error
 * code arriving as its class with the `retryable` the agent sent, and unexpected handler exceptions
 * not retried unless the agent says so.
 */
import {
  AgentwireError,
  CancelledError,
  InternalError,
  InvalidInputError,
  InvalidOutputError,
  UnknownTaskError,
} from "@agentwire/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect, createAgent, defineCapability, defineRequest, type Agent, type Client, type Logger } from "../src/index.js";
import { HAVE_BROKER, backoff, deferred, logger, sdkBroker, within, type TestBroker } from "./helpers.js";

const Greet = defineCapability({
  name: "c.greet",
  input: z.object({ name: z.string() }),
  output: z.object({ text: z.string(), length: z.number() }),
  progress: z.object({ step: z.string() }),
});
const Wrong = defineCapability({ name: "c.wrong", input: z.object({}), output: z.object({ n: z.number() }) });
const Held = defineCapability({ name: "c.held", input: z.object({ key: z.string() }), progress: z.number() });
const Quote = defineRequest({ name: "c.quote", input: z.object({ symbol: z.string() }), output: z.object({ price: z.number() }) });

describe.skipIf(!HAVE_BROKER)("typed contracts, task handles, error fidelity", () => {
  let broker: TestBroker;
  let agent: Agent;
  let client: Client;
  const attempts = new Map<string, number>();
  const held = new Map<string, { release: (v: unknown) => void }>();
  /** What the agent logged at warn: an unexpected handler exception must be visible at the default level. */
  const warnings: { obj: unknown; msg: string | undefined }[] = [];
  const recording = (bindings: Record<string, unknown> = {}): Logger => ({
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (obj: object | string, msg?: string) => void warnings.push({ obj: { ...bindings, ...(typeof obj === "string" ? {} : obj) }, msg: typeof obj === "string" ? obj : msg }),
    error: () => undefined,
    child: (more) => recording({ ...bindings, ...more }),
  });

  beforeAll(async () => {
    broker = await sdkBroker();
    agent = createAgent({ url: broker.url, name: "contracts", logger: recording(), backoff, capacity: 32 })
      .capability(Greet, async ({ name }, ctx) => {
        ctx.progress({ step: "one" });
        ctx.progress({ step: "two" });
        return { text: `hello ${name}`, length: name.length };
      })
      // The contract says { n: number }; the handler returns a string on purpose (as JS would).
      .capability(Wrong, () => ({ n: "not a number" }) as unknown as { n: number })
      .capability(Held, async ({ key }, ctx) => {
        ctx.progress(1);
        const d = deferred<unknown>();
        held.set(key, { release: d.resolve });
        ctx.signal.addEventListener("abort", () => d.resolve("aborted"));
        return d.promise;
      })
      .capability("c.count", { input: z.object({ mode: z.string(), key: z.string() }) }, ({ mode, key }) => {
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (mode === "plain") throw new Error("a bug in the handler");
        if (mode === "transient") throw new AgentwireError("x-upstream-busy", "try again", { retryable: true });
        if (mode === "final") throw new AgentwireError("x-bad-account", "no such account", { retryable: false });
        return attempts.get(key);
      })
      .respond(Quote, ({ symbol }) => ({ price: symbol.length * 10 }));
    await agent.start();
    client = await connect({ url: broker.url, logger, backoff });
  });
  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await broker?.stop();
  });

  it("a contract types and carries input, progress and output end to end; the handle gives id, progress and result", async () => {
    const handle = client.submit(Greet, { name: "ada" });
    const id = await handle.id;
    expect(id).toMatch(/./);
    expect(handle.taskId).toBe(id);
    const steps: string[] = [];
    for await (const p of handle.progress()) steps.push(p.step);
    expect(steps).toEqual(["one", "two"]);
    const out = await handle;
    expect(out).toEqual({ text: "hello ada", length: 3 });
    expect((await handle.result).text.toUpperCase()).toBe("HELLO ADA");
  });

  it("input that fails the contract's schema comes back as InvalidInputError", async () => {
    await expect(client.submit("c.greet", { nam: "ada" })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("output that fails the agent's output schema arrives as InvalidOutputError (instanceof), not retryable", async () => {
    const err = await client.submit(Wrong, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOutputError);
    expect((err as AgentwireError).retryable).toBe(false);
  });

  it("the client can check the output against the contract too (validate)", async () => {
    // An agent written without schemas answers; the client's contract expects another shape.
    const Strict = defineCapability({ name: "c.count", input: z.object({ mode: z.string(), key: z.string() }), output: z.string() });
    const err = await client.submit(Strict, { mode: "ok", key: "validate" }, { validate: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOutputError);
    expect((err as Error).message).toContain("does not match its schema");
  });

  it("a plain exception in a handler reaches the client as a non-retryable InternalError and runs once", async () => {
    const err = await client.submit("c.count", { mode: "plain", key: "plain" }, { maxAttempts: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as AgentwireError).retryable).toBe(false);
    expect((err as Error).message).toBe("a bug in the handler");
    expect(attempts.get("plain")).toBe(1);
    const warned = warnings.find((w) => w.msg === "handler threw");
    expect(warned?.obj).toMatchObject({ capability: "c.count", err: { message: "a bug in the handler" } });
  });

  it("retryUnexpectedErrors: an agent whose failures are transient has plain exceptions retried", async () => {
    let runs = 0;
    const flaky = await createAgent({ url: broker.url, name: "flaky", logger, backoff, retryUnexpectedErrors: true })
      .capability("c.flaky", { input: z.object({}) }, () => {
        if (++runs === 1) throw new Error("connection reset by upstream");
        return runs;
      })
      .start();
    try {
      await expect(client.submit("c.flaky", {}, { maxAttempts: 2 })).resolves.toBe(2);
    } finally {
      await flaky.close();
    }
  });

  it("the retryable flag an agent sends is honoured: retried when true (up to max attempts), final when false", async () => {
    const transient = await client.submit("c.count", { mode: "transient", key: "transient" }, { maxAttempts: 3 }).catch((e: unknown) => e);
    expect((transient as AgentwireError).code).toBe("x-upstream-busy");
    expect((transient as AgentwireError).retryable).toBe(true);
    expect(attempts.get("transient")).toBe(3);
    const final = await client.submit("c.count", { mode: "final", key: "final" }, { maxAttempts: 3 }).catch((e: unknown) => e);
    expect((final as AgentwireError).code).toBe("x-bad-account");
    expect((final as AgentwireError).retryable).toBe(false);
    expect(attempts.get("final")).toBe(1);
  });

  it("cancel() on the handle ends the task with CancelledError", async () => {
    const handle = client.submit(Held, { key: "cancel-me" });
    for await (const _ of handle.progress()) break; // the handler runs
    await handle.cancel("changed my mind");
    await expect(handle.result).rejects.toBeInstanceOf(CancelledError);
  });

  it("client.task(id) follows a task submitted by another client, and answers at once for one that ended", async () => {
    const handle = client.submit(Held, { key: "follow-me" });
    const id = await handle.id;
    const other = await connect({ url: broker.url, logger, backoff });
    try {
      const followed = other.task(id, Held);
      await within(
        (async () => {
          while (!held.has("follow-me")) await new Promise((r) => setImmediate(r));
        })(),
        10_000,
        "handler running",
      );
      await expect(followed.id).resolves.toBe(id);
      held.get("follow-me")!.release("done");
      await expect(followed.result).resolves.toBe("done");
      await expect(handle.result).resolves.toBe("done");
      // Ended already: the broker keeps the record and answers with the result right away.
      await expect(other.task(id).result).resolves.toBe("done");
      const unknown = other.task("no-such-task");
      await expect(unknown.result).rejects.toBeInstanceOf(UnknownTaskError);
    } finally {
      await other.close();
    }
  });

  it("a request contract types payload and answer; the payload is validated by the responder", async () => {
    const answer = await client.request(Quote, { symbol: "ABC" });
    expect(answer.price).toBe(30);
    await expect(client.request({ capability: "c.quote" }, { sym: 1 })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("a request-only name is not a task capability: a submit to it fails with unknown_capability", async () => {
    const err = await client.submit("c.quote", { symbol: "ABC" }).catch((e: unknown) => e);
    expect((err as AgentwireError).code).toBe("unknown_capability");
  });

  it("subscribe with a schema hands typed payloads and drops those that do not match", async () => {
    const got = deferred<number>();
    const off = await client.subscribe("c.prices", z.object({ price: z.number() }), (msg) => got.resolve(msg.payload.price));
    await client.publish("c.prices", { price: "free" });
    await client.publish("c.prices", { price: 42 });
    expect(await within(got.promise, 10_000, "typed message")).toBe(42);
    await off();
  });
});
