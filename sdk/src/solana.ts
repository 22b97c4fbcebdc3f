/**
 * A Solana signer on @solana/web3.js: ed25519 message signatures and offline transaction signing
 * (no RPC: the caller supplies the recent blockhash). Message signatures use node:crypto's ed25519,
 * so no extra dependency is needed to sign or verify.
 */
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { Keypair, PublicKey, type Transaction } from "@solana/web3.js";
import type { Signer } from "./signer.js";

// DER prefixes that wrap a raw 32-byte ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
}

export class SolanaSigner implements Signer {
  readonly kind = "solana";
  readonly keypair: Keypair;
  private readonly privateKey: KeyObject;

  /** From a Keypair, or a 64-byte secret key (seed ‖ public key, as `solana-keygen` writes it). */
  constructor(key: Keypair | Uint8Array) {
    this.keypair = key instanceof Keypair ? key : Keypair.fromSecretKey(key);
    const seed = this.keypair.secretKey.subarray(0, 32);
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  }

  static generate(): SolanaSigner {
    return new SolanaSigner(Keypair.generate());
  }

  get publicKey(): PublicKey {
    return this.keypair.publicKey;
  }

  /** Base58 public key. */
  get address(): string {
    return this.keypair.publicKey.toBase58();
  }

  async signMessage(message: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(edSign(null, message, this.privateKey));
  }

  /** Adds this signer's signature to a transaction offline; it must already carry a recent blockhash and fee payer. */
  signTransaction<T extends Transaction>(tx: T): T {
    tx.partialSign(this.keypair);
    return tx;
  }

  /** Verifies an ed25519 signature against a public key (PublicKey, base58 string or raw bytes). */
  static verify(message: Uint8Array, signature: Uint8Array, publicKey: PublicKey | string | Uint8Array): boolean {
    const raw = publicKey instanceof Uint8Array ? publicKey : new PublicKey(publicKey).toBytes();
    return edVerify(null, message, publicKeyObject(raw), signature);
  }
}
