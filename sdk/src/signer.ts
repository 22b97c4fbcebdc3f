/**
 * SignerContext: the signer of the task being run, carried by AsyncLocalStorage so a handler (and
 * anything it awaits) calls `SignerContext.current()` without threading it through arguments.
 * Each task runs in its own scope: concurrent tasks never see each other's signer.
 */
import { AsyncLocalStorage } from "#async-context";

/** Anything that signs on behalf of an agent. Chain-specific signers add their own methods. */
export interface Signer {
  /** Which chain or scheme, e.g. "solana". */
  readonly kind: string;
  /** The public address or key the signatures verify against. */
  readonly address: string;
  /** Signs arbitrary bytes; returns the raw signature. */
  signMessage(message: Uint8Array): Promise<Uint8Array>;
}

export class NoSignerError extends Error {
  override readonly name = "NoSignerError";
  constructor() {
    super(
      "SignerContext.current() was called outside a signer scope: give createAgent a `signer` or `signerFor`, or wrap the call in SignerContext.run(signer, fn)",
    );
  }
}

const storage = new AsyncLocalStorage<Signer>();

export const SignerContext = {
  /** Runs `fn` with `signer` as the current signer (nested scopes shadow outer ones). */
  run<T>(signer: Signer, fn: () => T): T {
    return storage.run(signer, fn);
  },
  /** The signer of the current scope; throws NoSignerError outside one. */
  current(): Signer {
    const signer = storage.getStore();
    if (signer === undefined) throw new NoSignerError();
    return signer;
  },
  /** The current signer, or undefined outside a scope. */
  tryCurrent(): Signer | undefined {
    return storage.getStore();
  },
  /** The current signer, which must be of a given class (e.g. SolanaSigner). */
  currentAs<S extends Signer>(cls: abstract new (...args: never[]) => S): S {
    const signer = SignerContext.current();
    if (!(signer instanceof cls)) throw new TypeError(`the current signer is a ${signer.kind} signer, not a ${cls.name}`);
    return signer;
  },
} as const;
