/**
 * A pool's autoscaler settings [POOL-6, POOL-9]: what its supervisor asks for, else the config file's
 * value for that pool, else the file's value for every pool, else the defaults; each clamped to the
 * operator's limits (`pools.limits` in the config file). The config keys are validated here too.
 */
import { z } from "zod";
import { AutoscaleSchema, errorFromCode, isId, type Autoscale } from "@agentwire/wire";

/** Every setting, resolved. */
export interface Settings {
  upThreshold: number;
  downThreshold: number;
  step: number;
  intervalMs: number;
  windowMs: number;
  stabilizationMs: number;
  cooldownMs: number;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = {
  upThreshold: 0.8,
  downThreshold: 0.2,
  step: 2,
  intervalMs: 1_000,
  windowMs: 10_000,
  stabilizationMs: 30_000,
  cooldownMs: 5_000,
};

/** Wire name of each setting (the `autoscale` map and the config file use these). */
const KEYS = {
  upThreshold: "up_threshold",
  downThreshold: "down_threshold",
  step: "step",
  intervalMs: "interval_ms",
  windowMs: "window_ms",
  stabilizationMs: "stabilization_ms",
  cooldownMs: "cooldown_ms",
} as const satisfies Record<keyof Settings, keyof Autoscale>;

const Bound = z.object({ min: z.number().min(0).optional(), max: z.number().min(0).optional() }).strict();

/** `pools` in the broker's config file. */
export const PoolsConfigSchema = z
  .object({
    /** The operator's bounds on each setting a supervisor (or this file) asks for, and on a pool's max. */
    limits: z
      .object({
        up_threshold: Bound.optional(),
        down_threshold: Bound.optional(),
        step: Bound.optional(),
        interval_ms: Bound.optional(),
        window_ms: Bound.optional(),
        stabilization_ms: Bound.optional(),
        cooldown_ms: Bound.optional(),
        max_size: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Settings of every pool whose supervisor does not ask otherwise. */
    autoscale: AutoscaleSchema.strict().optional(),
    /** Settings per pool name, over `autoscale`. */
    pools: z
      .record(z.string().refine(isId, "a pool name is an id (ENC-6)"), AutoscaleSchema.strict())
      .optional(),
  })
  .strict();
export type PoolsConfig = z.infer<typeof PoolsConfigSchema>;


/** The settings of pool `name` when its supervisor asks for `asked`; throws bad_frame when the thresholds cross [POOL-6]. */
export function resolveSettings(name: string, asked: Autoscale | undefined, config: PoolsConfig | undefined): Settings {
  const limits = config?.limits ?? {};
  const layers = [asked, config?.pools?.[name], config?.autoscale];
  const out = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(KEYS) as (keyof Settings)[]) {
    const wire = KEYS[key];
    const value = layers.map((l) => l?.[wire]).find((v) => v !== undefined) ?? DEFAULT_SETTINGS[key];
    const bound = limits[wire];
    out[key] = Math.min(bound?.max ?? Infinity, Math.max(bound?.min ?? -Infinity, value));
  }
  if (out.downThreshold >= out.upThreshold) {
    throw errorFromCode("bad_frame", `down_threshold ${out.downThreshold} is not below up_threshold ${out.upThreshold} (POOL-6)`, {
      details: { type: "pool", path: "autoscale" },
    });
  }
  return out;
}

/** The operator's bound on a pool's `max` (a supervisor asking for more gets this many). */
export function maxSize(config: PoolsConfig | undefined): number {
  return config?.limits?.max_size ?? Infinity;
}

/** The same settings as the wire names them (GET /v1/pools). */
export function wireSettings(s: Settings): Required<Autoscale> {
  return {
    up_threshold: s.upThreshold,
    down_threshold: s.downThreshold,
    step: s.step,
    interval_ms: s.intervalMs,
    window_ms: s.windowMs,
    stabilization_ms: s.stabilizationMs,
    cooldown_ms: s.cooldownMs,
  };
}
