import { rotate, type Strategy } from "./strategy.js";

const URGENT = 2; // PRIORITY_RANK.high

/**
 * high/critical tasks go to the highest tier with free capacity; low/normal ones to the lowest tier,
 * so tiered agents stay free for urgent work; round robin within a tier [ROUTE-6].
 */
export const priorityTiers: Strategy = {
  pick(candidates, task, pool) {
    const urgent = task.rank >= URGENT;
    let tier = urgent ? -1 : Infinity;
    for (const s of candidates) tier = urgent ? Math.max(tier, s.tier) : Math.min(tier, s.tier);
    return rotate(candidates, pool, (s) => s.tier === tier);
  },
};
