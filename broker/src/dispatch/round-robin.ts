import { rotate, type Strategy } from "./strategy.js";

/** Rotate over candidates in registration order, one cursor per capability [ROUTE-6]. */
export const roundRobin: Strategy = {
  pick: (candidates, _task, pool) => rotate(candidates, pool),
};
