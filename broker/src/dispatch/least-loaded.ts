import type { Session } from "../session.js";
import { rotate, type Strategy } from "./strategy.js";

/** Lowest in_flight / capacity, in_flight = max(reported, broker-counted); ties round robin [ROUTE-8]. */
export const leastLoaded: Strategy = {
  pick(candidates, _task, pool) {
    let best = Infinity;
    for (const s of candidates) best = Math.min(best, s.load);
    return rotate(candidates, pool, (s: Session) => s.load === best);
  },
};
