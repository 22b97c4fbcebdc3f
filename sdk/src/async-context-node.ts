/** Per-task context on Node: AsyncLocalStorage follows the handler through every await. */
export { AsyncLocalStorage } from "node:async_hooks";
