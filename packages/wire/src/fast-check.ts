/**
 * A validator compiled from the zod definitions themselves (frames.ts stays the one definition), for
 * the frames every task crosses. It answers one question without allocating: is this decoded value
 * certainly valid, with nothing zod would strip or change? `true` lets `decode` return the value as it
 * is; `false` means "ask zod", which then gives the same answer it always gave, with its error
 * message. So a kind of schema or check this compiler does not know only costs speed: it compiles to
 * `false` and zod decides.
 *
 * Types: string, number, boolean, literal, enum, unknown, custom (z.custom), optional, array and
 * object (strict: an unknown key, which zod strips, means "ask zod"). Checks run through zod's own
 * `_zod.check` on one reused payload, so their meaning (regex, lengths, bounds, int, refinements) is
 * zod's, and a check's `when` guard too; only checks of the kinds listed in CHECKS are run, any other
 * makes the schema "ask zod".
 * packages/wire/test/fast-check.test.ts proves the contract against zod on every vector and on
 * mutations of them.
 */
import type { z } from "zod";

type Check = (v: unknown) => boolean;

interface ZodInternals {
  def: {
    type: string;
    checks?: readonly ZodCheckLike[];
    innerType?: ZodLike;
    element?: ZodLike;
    shape?: Record<string, ZodLike>;
    catchall?: unknown;
    coerce?: boolean;
    fn?: (v: unknown) => unknown;
  };
  values?: ReadonlySet<unknown>;
  traits?: ReadonlySet<string>;
}
interface ZodLike {
  _zod: ZodInternals;
}
interface ZodCheckLike {
  _zod: { def: { check: string; when?: (payload: Payload) => boolean }; check(payload: Payload): unknown };
}
interface Payload {
  value: unknown;
  issues: unknown[];
}

/** Check kinds that only read the value (none rewrites it). */
const CHECKS = new Set(["string_format", "max_length", "min_length", "length_equals", "less_than", "greater_than", "number_format", "custom"]);
const NEVER: Check = () => false;
const payload: Payload = { value: undefined, issues: [] };

/** zod's own checks of a schema, run on `v`; undefined when one of them is of a kind not in CHECKS. */
function compileChecks(s: ZodLike): Check | undefined {
  // A ZodCustom is its own first check (zod's $ZodType.init puts it ahead of the others).
  const own = s._zod.traits?.has("$ZodCheck") === true ? [s as unknown as ZodCheckLike] : [];
  const checks = [...own, ...(s._zod.def.checks ?? [])];
  for (const c of checks) if (!CHECKS.has(c._zod.def.check)) return undefined;
  if (checks.length === 0) return () => true;
  return (v) => {
    payload.value = v;
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!._zod;
      // A check with a `when` applies only where it says (zod's runChecks skips it otherwise; with no
      // issue so far nothing is aborted, so every other check runs, as here).
      if (c.def.when !== undefined && !c.def.when(payload)) continue;
      const r = c.check(payload);
      if (r !== undefined || payload.issues.length > 0) {
        payload.issues.length = 0;
        return false;
      }
    }
    return true;
  };
}

function compile(s: ZodLike): Check {
  const def = s._zod.def;
  if (def.coerce === true) return NEVER;
  const checks = compileChecks(s);
  if (checks === undefined) return NEVER;
  switch (def.type) {
    case "string":
      return (v) => typeof v === "string" && checks(v);
    case "number":
      return (v) => typeof v === "number" && Number.isFinite(v) && checks(v);
    case "boolean":
      return (v) => typeof v === "boolean" && checks(v);
    case "literal":
    case "enum": {
      const values = s._zod.values;
      if (values === undefined) return NEVER;
      return (v) => values.has(v) && checks(v);
    }
    case "unknown":
    case "custom": // z.custom: its `fn` is its own first check
      return checks;
    case "optional": {
      // An absent field never reaches here (the object decides); a present one is the inner type's.
      const inner = compile(def.innerType!);
      return (v) => v !== undefined && inner(v) && checks(v);
    }
    case "array": {
      const element = compile(def.element!);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
        return checks(v);
      };
    }
    case "object":
      return compileObject(s, checks);
    default:
      return NEVER;
  }
}

function compileObject(s: ZodLike, checks: Check): Check {
  const def = s._zod.def;
  if (def.catchall !== undefined || def.shape === undefined) return NEVER;
  const keys = Object.keys(def.shape);
  const fields = keys.map((k) => compile(def.shape![k]!));
  const optional = keys.map((k) => def.shape![k]!._zod.def.type === "optional");
  const known = new Set(keys);
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Uint8Array) return false;
    const o = v as Record<string, unknown>;
    // Every key known (zod would strip an unknown one), and no inherited enumerable key.
    for (const k in o) if (!known.has(k) || !Object.hasOwn(o, k)) return false;
    for (let i = 0; i < keys.length; i++) {
      const x = o[keys[i]!];
      if (x === undefined) {
        if (!optional[i]) return false;
      } else if (!fields[i]!(x)) return false;
    }
    return checks(v);
  };
}

const compiled = new WeakMap<object, Check>();

/** Whether zod would accept `value` for `schema` and return it unchanged; false also when unsure. */
export function certainlyValid(schema: z.ZodType, value: unknown): boolean {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = compile(schema as unknown as ZodLike);
    compiled.set(schema, check);
  }
  return check(value);
}
