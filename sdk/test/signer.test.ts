import { Keypair, SystemProgram, Transaction } from "@solana/web3.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SignerContext, connect, createAgent, type Agent, type Client } from "../src/index.js";
import { SolanaSigner } from "../src/solana.js";
import { FAKE_BLOCKHASH, HAVE_BROKER, backoff, logger, sdkBroker, type TestBroker } from "./helpers.js";

const Signed = z.object({ taskId: z.string(), address: z.string(), message: z.string(), signature: z.string(), tx: z.string() });

describe.skipIf(!HAVE_BROKER)("SignerContext in real tasks", () => {
  let broker: TestBroker;
  let agent: Agent;
  let fixedAgent: Agent;
  let client: Client;
  const signerOf = new Map<string, SolanaSigner>();
  const fixed = SolanaSigner.generate();

  const handler = async ({ n }: { n: number }, ctx: { task: { id: string } }) => {
    const message = `task ${ctx.task.id} n ${n}`;
    // Yield between reads so concurrent tasks interleave inside their scopes.
    await new Promise((r) => setTimeout(r, n % 7));
    const signer = SignerContext.currentAs(SolanaSigner);
    const signature = await signer.signMessage(new TextEncoder().encode(message));
    await new Promise((r) => setImmediate(r));
    const tx = new Transaction({ feePayer: signer.publicKey, recentBlockhash: FAKE_BLOCKHASH }).add(
      SystemProgram.transfer({ fromPubkey: signer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: n + 1 }),
    );
    SignerContext.currentAs(SolanaSigner).signTransaction(tx);
    return {
      taskId: ctx.task.id,
      address: SignerContext.current().address,
      message,
      signature: Buffer.from(signature).toString("base64"),
      tx: tx.serialize().toString("base64"),
    };
  };

  beforeAll(async () => {
    broker = await sdkBroker();
    agent = await createAgent({
      url: broker.url,
      name: "signer",
      logger,
      backoff,
      capacity: 64,
      signerFor: (task) => {
        const s = SolanaSigner.generate();
        signerOf.set(task.id, s);
        return s;
      },
    })
      .capability("sign.per-task", { input: z.object({ n: z.number() }), output: Signed }, handler)
      .start();
    fixedAgent = await createAgent({ url: broker.url, name: "fixed", logger, backoff, signer: fixed })
      .capability("sign.per-agent", { input: z.object({ n: z.number() }), output: Signed }, handler)
      .start();
    client = await connect({ url: broker.url, logger, backoff });
  });

  afterAll(async () => {
    await client?.close();
    await agent?.close();
    await fixedAgent?.close();
    await broker?.stop();
  });

  const verify = (out: z.infer<typeof Signed>, expected: SolanaSigner): void => {
    expect(out.address).toBe(expected.address);
    const sig = Buffer.from(out.signature, "base64");
    expect(SolanaSigner.verify(new TextEncoder().encode(out.message), sig, expected.publicKey)).toBe(true);
    const tx = Transaction.from(Buffer.from(out.tx, "base64"));
    expect(tx.feePayer?.equals(expected.publicKey)).toBe(true);
    expect(tx.verifySignatures()).toBe(true);
  };

  it("50 concurrent tasks each sign with their own key", async () => {
    const outs = (await Promise.all(Array.from({ length: 50 }, (_, n) => client.submit("sign.per-task", { n })))) as z.infer<typeof Signed>[];
    expect(new Set(outs.map((o) => o.taskId)).size).toBe(50);
    expect(new Set(outs.map((o) => o.address)).size).toBe(50);
    for (const out of outs) verify(out, signerOf.get(out.taskId)!);
  });

  it("a per-agent signer serves every task of that agent", async () => {
    const outs = (await Promise.all(Array.from({ length: 5 }, (_, n) => client.submit("sign.per-agent", { n })))) as z.infer<typeof Signed>[];
    for (const out of outs) verify(out, fixed);
  });
});
