import { Keypair, SystemProgram, Transaction } from "@solana/web3.js";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../src/connection.js";
import { toolName } from "../src/llm.js";
import { NoSignerError, SignerContext } from "../src/signer.js";
import { SolanaSigner } from "../src/solana.js";
import { TaskHandle } from "../src/handle.js";
import { FAKE_BLOCKHASH } from "./helpers.js";


describe("backoff [HB-8]", () => {
  it("grows exponentially with jitter, bounded by min/max", () => {
    for (let n = 0; n < 20; n++) {
      const ceiling = Math.min(1_000, 10 * 2 ** n);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(n, { minMs: 10, maxMs: 1_000 });
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});

describe("SignerContext", () => {
  it("throws a clear error outside a scope", () => {
    expect(() => SignerContext.current()).toThrow(NoSignerError);
    expect(() => SignerContext.current()).toThrow(/outside a signer scope/);
    expect(SignerContext.tryCurrent()).toBeUndefined();
  });

  it("keeps concurrent scopes apart across awaits", async () => {
    const signers = Array.from({ length: 20 }, () => SolanaSigner.generate());
    const seen = await Promise.all(
      signers.map((s, i) =>
        SignerContext.run(s, async () => {
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          return SignerContext.current().address;
        }),
      ),
    );
    expect(seen).toEqual(signers.map((s) => s.address));
    expect(SignerContext.currentAs.bind(null, SolanaSigner)).toThrow(NoSignerError);
  });
});

describe("SolanaSigner", () => {
  it("signs messages (ed25519) that verify only against its own key", async () => {
    const signer = new SolanaSigner(Keypair.generate().secretKey);
    const msg = new TextEncoder().encode("agentwire");
    const sig = await signer.signMessage(msg);
    expect(sig).toHaveLength(64);
    expect(SolanaSigner.verify(msg, sig, signer.address)).toBe(true);
    expect(SolanaSigner.verify(msg, sig, SolanaSigner.generate().publicKey)).toBe(false);
    expect(SolanaSigner.verify(new TextEncoder().encode("other"), sig, signer.publicKey)).toBe(false);
  });

  it("signs a transfer transaction offline", () => {
    const signer = SolanaSigner.generate();
    const tx = new Transaction({ feePayer: signer.publicKey, recentBlockhash: FAKE_BLOCKHASH }).add(
      SystemProgram.transfer({ fromPubkey: signer.publicKey, toPubkey: Keypair.generate().publicKey, lamports: 1_000 }),
    );
    signer.signTransaction(tx);
    expect(tx.verifySignatures()).toBe(true);
    expect(tx.signatures[0]?.publicKey.equals(signer.publicKey)).toBe(true);
  });
});

describe("llm tool names", () => {
  it("replace characters OpenAI rejects", () => {
    expect(toolName("price.quote")).toBe("price_quote");
    expect(toolName("a:b/c-d_e")).toBe("a_b_c-d_e");
  });
});

describe("TaskHandle", () => {
  it("yields progress in order, then the result, to every iteration; resolves result and id; awaits as its output", async () => {
    const h = new TaskHandle<string, number>({ cancel: async () => undefined });
    h.accept("t1", false);
    h.push(1);
    h.push(2);
    h.finish("done");
    const events = [];
    for await (const e of h) events.push(e);
    expect(events).toEqual([
      { type: "progress", data: 1 },
      { type: "progress", data: 2 },
      { type: "result", output: "done" },
    ]);
    const progress = [];
    for await (const p of h.progress()) progress.push(p);
    expect(progress).toEqual([1, 2]);
    await expect(h.result).resolves.toBe("done");
    await expect(h.id).resolves.toBe("t1");
    expect(await h).toBe("done");
  });

  it("a failed task rejects result and iteration with its error; a refused submit rejects id too", async () => {
    const h = new TaskHandle<string, number>({ cancel: async () => undefined });
    const err = new Error("refused");
    h.fail(err);
    await expect(h.result).rejects.toBe(err);
    await expect(h.id).rejects.toBe(err);
    await expect((async () => { for await (const _ of h) void _; })()).rejects.toBe(err);
  });
});
