import semver from "semver";
import type { Session } from "../session.js";
import { rotate, type Strategy } from "./strategy.js";

/**
 * Highest capability version satisfying the range; ties: most of the task's tags on the capability
 * itself, then fewest in flight, then round robin [ROUTE-7].
 */
export const capabilityMatch: Strategy = {
  pick(candidates, task, pool) {
    const version = (s: Session): string => s.caps.get(task.capability)?.version ?? "0.0.0";
    const tagScore = (s: Session): number => {
      const own = s.caps.get(task.capability)?.tags ?? [];
      return task.tags === undefined ? 0 : task.tags.filter((t) => own.includes(t)).length;
    };
    let best: Session[] = [];
    for (const s of candidates) {
      const b = best[0];
      if (b === undefined) {
        best = [s];
        continue;
      }
      const cmp =
        semver.compare(version(s), version(b)) || tagScore(s) - tagScore(b) || b.tasks.size - s.tasks.size;
      if (cmp > 0) best = [s];
      else if (cmp === 0) best.push(s);
    }
    return rotate(best, pool);
  },
};
