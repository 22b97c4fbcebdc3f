import { PRIORITY_RANK } from "@agentwire/wire";
import { rotate, type Strategy } from "./strategy.js";

/**
 * high/critical tasks go to the highest tier with free capacity; low/normal ones to the lowest tier,
 * so tiered agents stay free for urgent work; round robin within a tier [PRIO-2][PRIO-3].
 */
export const priorityTiers: Strategy = {
  pick(candidates, task, pool) {
    const urgent = PRIORITY_RANK[task.priority] >= PRIORITY_RANK.high;
    let tier = urgent ? -1 : Infinity;
    for (const s of candidates) tier = urgent ? Math.max(tier, s.tier) : Math.min(tier, s.tier);
    return rotate(candidates, pool, (s) => s.tier === tier);
  },
};
