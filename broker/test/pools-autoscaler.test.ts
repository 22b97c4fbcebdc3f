/**
 * The autoscaler's rules [POOL-9..POOL-11] and the settings it runs with [POOL-6], driven with
 * explicit clocks and figures (the class is pure), so each rule is checked on its own.
 */
import { describe, expect, it } from "vitest";
import { Autoscaler, type Figures } from "../src/pools/autoscaler.js";
import { DEFAULT_SETTINGS, resolveSettings, type Settings } from "../src/pools/settings.js";
import { ConfigError, parseConfig } from "../src/config.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const S: Settings = { ...DEFAULT_SETTINGS, intervalMs: 100, windowMs: 300, stabilizationMs: 1_000, cooldownMs: 200 };
const fig = (size: number, inFlight: number, queued = 0, perMember = 2): Figures => ({ size, inFlight, capacity: size * perMember, queued });

/** Feeds `f` every interval from `from` for `ms`; the decisions made. */
function run(a: Autoscaler, from: number, ms: number, f: () => Figures, min = 2, max = 10, s = S) {
  const out = [];
  for (let t = from; t < from + ms; t += s.intervalMs) {
    const d = a.evaluate(t, f(), min, max, s);
    if (d !== undefined) out.push({ at: t, ...d });
  }
  return out;
}

describe("autoscaler", () => {
  it("raises a pool below min to min at once, and lowers one above max to max [POOL-9]", () => {
    expect(new Autoscaler().evaluate(0, fig(0, 0), 2, 10, S)).toMatchObject({ from: 0, to: 2, reason: "below_min" });
    expect(new Autoscaler().evaluate(0, fig(12, 0), 2, 10, S)).toMatchObject({ from: 12, to: 10, reason: "above_max" });
  });

  it("scales up by ceil(size × utilization ÷ target), at most step members a decision, within max [POOL-9]", () => {
    const a = new Autoscaler();
    // 2 members of capacity 2, 4 in flight and 2 queued: utilization 1.5, target 0.5: desired 6, step 2 -> 4.
    expect(a.evaluate(0, fig(2, 4, 2), 2, 10, S)).toMatchObject({ from: 2, to: 4, reason: "utilization_high", utilization: 1.5, in_flight: 4, queued: 2, capacity: 4 });
    // Within the band (0.2..0.8) nothing happens.
    expect(run(new Autoscaler(), 0, 2_000, () => fig(4, 4))).toEqual([]);
    // Near max the step is cut to max.
    expect(new Autoscaler().evaluate(0, fig(9, 18, 10), 2, 10, S)).toMatchObject({ to: 10 });
  });

  it("waits for the members of a scale-up to register and for the cooldown before the next decision [POOL-11]", () => {
    const a = new Autoscaler();
    expect(a.evaluate(0, fig(2, 4, 4), 2, 10, S)?.to).toBe(4);
    // Still 2 members (the supervisor is starting 2 more): no new decision, however high the load.
    expect(run(a, 100, 250, () => fig(2, 4, 4))).toEqual([]);
    // They registered: the load is high still, so the next step comes once the cooldown is over.
    const next = run(a, 400, 500, () => fig(4, 8, 4));
    expect(next[0]).toMatchObject({ from: 4, to: 6, reason: "utilization_high" });
  });

  it("scales down only after the stabilization window, to the highest size recommended in it [POOL-10]", () => {
    const a = new Autoscaler();
    // Idle for a while, with one burst of recommendations at 8 - 2 = 6 (step) first.
    const decisions = run(a, 0, 1_050, () => fig(8, 0));
    expect(decisions).toHaveLength(1);
    expect(decisions[0]!.at).toBeGreaterThanOrEqual(S.stabilizationMs);
    expect(decisions[0]).toMatchObject({ from: 8, to: 6, reason: "utilization_low" });
  });

  it("does not scale down when the utilization went back into the band within the window (no up-down-up)", () => {
    const a = new Autoscaler();
    let t = 0;
    const low = () => fig(6, 1); // 1/12 < 0.2
    const mid = () => fig(6, 6); // 0.5
    expect(run(a, t, 800, low)).toEqual([]);
    t += 800;
    expect(run(a, t, 100, mid)).toEqual([]);
    t += 100;
    // The window starts again: 800 ms more below the band are not enough.
    expect(run(a, t, 800, low)).toEqual([]);
  });

  it("scales to zero only with min 0 and no task queued for the whole window [POOL-10]", () => {
    const s = { ...S, step: 10 };
    const a = new Autoscaler();
    // Idle and empty: down to 0, the last step once the queue was empty for the window.
    let size = 2;
    const d = run(a, 0, 3_000, () => fig(size, 0), 0, 10, s).map((x) => ((size = x.to), x));
    expect(d.at(-1)).toMatchObject({ to: 0, reason: "queue_empty" });
    expect(d.map((x) => x.to)).toEqual([...d.map((x) => x.to)].sort((x, y) => y - x));
    // With min 1 it stops at 1.
    expect(run(new Autoscaler(), 0, 1_200, () => fig(2, 0), 1, 10, s)[0]).toMatchObject({ to: 1, reason: "utilization_low" });
    // A queue that was not empty long enough: not below 1 (utilization (0 + 1) / 20 is below the band).
    let n = 0;
    const b = new Autoscaler();
    const queuedLately = run(b, 0, 1_200, () => (n++ > 9 ? fig(10, 0, 0) : fig(10, 0, 1)), 0, 10, s);
    expect(queuedLately.every((x) => x.to >= 1)).toBe(true);
    // From zero, a queued task asks for one member (or min).
    expect(new Autoscaler().evaluate(0, fig(0, 0, 3), 0, 10, s)).toMatchObject({ from: 0, to: 1, reason: "utilization_high" });
  });
});

describe("pool settings", () => {
  it("take the supervisor's values, else the config file's pool, else its defaults, clamped to the limits [POOL-6]", () => {
    const config = {
      limits: { interval_ms: { min: 500 }, step: { max: 3 } },
      autoscale: { window_ms: 4_000 },
      pools: { quoters: { cooldown_ms: 1_234, window_ms: 6_000 } },
    };
    const s = resolveSettings("quoters", { interval_ms: 10, step: 9, up_threshold: 0.9 }, config);
    expect(s).toEqual({ ...DEFAULT_SETTINGS, intervalMs: 500, step: 3, upThreshold: 0.9, windowMs: 6_000, cooldownMs: 1_234 });
    expect(resolveSettings("other", undefined, config).windowMs).toBe(4_000);
  });

  it("refuse crossed thresholds with bad_frame naming autoscale", () => {
    expect(() => resolveSettings("p", { down_threshold: 0.9 }, undefined)).toThrowError(expect.objectContaining({ code: "bad_frame", details: { type: "pool", path: "autoscale" } }));
  });

  it("are validated in the config file with one clear line", () => {
    const dir = mkdtempSync(join(tmpdir(), "aw-pools-"));
    const file = (json: unknown): string => {
      const p = join(dir, `c${Math.random()}.json`);
      writeFileSync(p, JSON.stringify(json));
      return p;
    };
    expect(parseConfig(["--config", file({ pools: { limits: { max_size: 5 }, pools: { q: { step: 1 } } } })]).config.pools).toEqual({ limits: { max_size: 5 }, pools: { q: { step: 1 } } });
    expect(() => parseConfig(["--config", file({ pools: { autoscale: { step: 0 } } })])).toThrow(ConfigError);
    expect(() => parseConfig(["--config", file({ pools: { autoscale: { stepp: 1 } } })])).toThrow(/pools\.autoscale/);
    expect(() => parseConfig(["--config", file({ pools: { pools: { "bad name": {} } } })])).toThrow(/pools\.pools/);
  });
});
