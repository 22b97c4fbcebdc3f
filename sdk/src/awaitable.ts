/**
 * A handle that is awaited for its outcome: `await handle` is `await handle.result`, and
 * then/catch/finally delegate to that promise (TaskHandle, RunHandle).
 */
export abstract class Awaitable<O> implements Promise<O> {
  abstract readonly [Symbol.toStringTag]: string;
  /** The outcome; rejects with the error class of the outcome's code. */
  abstract readonly result: Promise<O>;

  then<A = O, B = never>(onResult?: ((value: O) => A | PromiseLike<A>) | null, onError?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(onResult, onError);
  }

  catch<B = never>(onError?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<O | B> {
    return this.result.catch(onError);
  }

  finally(onFinally?: (() => void) | null): Promise<O> {
    return this.result.finally(onFinally);
  }
}
