/**
 * One pool's autoscaler [POOL-9..POOL-11]: fed the pool's figures every interval, it answers with a
 * decision or nothing. Pure (no timers, no I/O: the caller passes `now`), so its rules are tested
 * directly. The formula is Kubernetes HPA's: desired = ceil(size × utilization ÷ target), applied
 * only outside the band, a step at a time, scale-down only after the stabilization window and then to
 * the highest size recommended during it.
 */
import type { ScaleReason } from "@agentwire/wire";
import type { Settings } from "./settings.js";

/** A pool's figures at one moment [POOL-8]. */
export interface Figures {
  /** Live members not draining. */
  size: number;
  inFlight: number;
  capacity: number;
  queued: number;
}

/** One decision and the figures behind it (also the fields of `scale` and of the pool.scaled event). */
export interface Decision {
  /** Live members counted, and the size asked for. */
  from: number;
  to: number;
  reason: ScaleReason;
  /** The average over the look-back window. */
  utilization: number;
  in_flight: number;
  capacity: number;
  queued: number;
}

/** (in_flight + queued) ÷ capacity; with no capacity the demand itself [POOL-8]. */
export function utilizationOf(f: Figures): number {
  const demand = f.inFlight + f.queued;
  return f.capacity > 0 ? demand / f.capacity : demand;
}

export class Autoscaler {
  /** Utilization samples since the last decision, within the window. */
  private samples: { at: number; u: number }[] = [];
  /** Sizes recommended while below the band, within the stabilization window. */
  private recommended: { at: number; size: number }[] = [];
  private belowSince: number | undefined;
  /** Since when no task was queued (undefined: one is queued now). */
  private queueEmptySince: number | undefined;
  private lastDecisionAt = -Infinity;
  /** A scale-up whose members have not all registered yet, and when it was asked. */
  private pending: { to: number; at: number } | undefined;

  /** The pool's figures now; a decision when one is due. */
  evaluate(now: number, f: Figures, min: number, max: number, s: Settings): Decision | undefined {
    this.samples.push({ at: now, u: utilizationOf(f) });
    this.samples = this.samples.filter((x) => x.at > now - s.windowMs);
    if (f.queued > 0) this.queueEmptySince = undefined;
    else this.queueEmptySince ??= now;
    const average = this.samples.reduce((sum, x) => sum + x.u, 0) / this.samples.length;
    const decide = (to: number, reason: ScaleReason): Decision | undefined => {
      if (to === f.size) return undefined;
      this.lastDecisionAt = now;
      this.samples = [];
      this.pending = to > f.size ? { to, at: now } : undefined;
      if (to > f.size) this.resetBelow();
      return { from: f.size, to, reason, utilization: average, in_flight: f.inFlight, capacity: f.capacity, queued: f.queued };
    };

    if (this.pending !== undefined && (f.size >= this.pending.to || now - this.pending.at > s.windowMs)) this.pending = undefined;
    const waiting = this.pending !== undefined || now - this.lastDecisionAt < s.cooldownMs;

    if (f.size < min) return waiting ? undefined : decide(min, "below_min");
    if (f.size > max) return waiting ? undefined : decide(max, "above_max");
    if (f.size === 0) {
      this.resetBelow();
      return f.queued + f.inFlight > 0 && !waiting ? decide(Math.min(max, Math.max(1, min)), "utilization_high") : undefined;
    }
    const target = (s.upThreshold + s.downThreshold) / 2;
    const desired = Math.ceil((f.size * average) / target);
    if (average > s.upThreshold) {
      this.resetBelow();
      return waiting ? undefined : decide(Math.min(max, f.size + s.step, Math.max(desired, f.size)), "utilization_high");
    }
    if (average >= s.downThreshold) {
      this.resetBelow();
      return undefined;
    }
    // Below the band: recommend, and scale down once it has lasted the stabilization window [POOL-10].
    this.belowSince ??= now;
    let size = Math.max(min, f.size - s.step, desired);
    const emptyForWindow = this.queueEmptySince !== undefined && now - this.queueEmptySince >= s.windowMs;
    if (size === 0 && !emptyForWindow) size = 1;
    this.recommended.push({ at: now, size });
    this.recommended = this.recommended.filter((x) => x.at > now - s.stabilizationMs);
    if (waiting || now - this.belowSince < s.stabilizationMs) return undefined;
    const to = Math.max(...this.recommended.map((x) => x.size));
    return to < f.size ? decide(to, to === 0 ? "queue_empty" : "utilization_low") : undefined;
  }

  private resetBelow(): void {
    this.belowSince = undefined;
    this.recommended = [];
  }
}
