// An agent whose tasks each run with a Solana signer (SignerContext), signing a transfer offline.
//   node examples/signer/index.mjs
import { Keypair, PublicKey, SystemProgram, Transaction } from "@solana/web3.js";
import { SignerContext, connect, createAgent, z } from "@agentwire/sdk";
import { SolanaSigner } from "@agentwire/sdk/solana";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";
// Offline: a fixed, made-up blockhash. A real wallet agent would fetch a recent one over RPC.
const BLOCKHASH = new PublicKey(new Uint8Array(32).fill(7)).toBase58();
const wallet = SolanaSigner.generate(); // or new SolanaSigner(secretKeyBytes)

const agent = createAgent({ url, name: "wallet", signer: wallet }).capability(
  "sol.transfer.sign",
  { input: z.object({ to: z.string(), lamports: z.number().int().positive() }), output: z.object({ tx: z.string(), from: z.string() }) },
  ({ to, lamports }) => {
    const signer = SignerContext.currentAs(SolanaSigner); // the task's signer, never another task's
    const tx = new Transaction({ feePayer: signer.publicKey, recentBlockhash: BLOCKHASH }).add(
      SystemProgram.transfer({ fromPubkey: signer.publicKey, toPubkey: new PublicKey(to), lamports }),
    );
    return { tx: signer.signTransaction(tx).serialize().toString("base64"), from: signer.address };
  },
);
await agent.start();

const client = await connect({ url });
const out = await client.submit("sol.transfer.sign", { to: Keypair.generate().publicKey.toBase58(), lamports: 5_000 });
const tx = Transaction.from(Buffer.from(out.tx, "base64"));
console.log(`signed by ${out.from}; signatures valid: ${tx.verifySignatures()}`);
await client.drain();
await agent.drain();
