/**
 * Per-task context where AsyncLocalStorage does not exist (browsers): the store is visible during the
 * synchronous part of `run` only, so `SignerContext.current()` must be called before the handler's
 * first await there.
 */
export class AsyncLocalStorage<T> {
  private current: T | undefined;
  run<R>(store: T, fn: () => R): R {
    const previous = this.current;
    this.current = store;
    try {
      return fn();
    } finally {
      this.current = previous;
    }
  }
  getStore(): T | undefined {
    return this.current;
  }
}
