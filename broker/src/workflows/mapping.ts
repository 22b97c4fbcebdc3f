/**
 * The mapping language of workflows [WF-7, WF-8]: a JSON value in which `{ "$ref": pointer }` is the
 * value the JSON Pointer (RFC 6901) points to in the run's context, and `{ "$tpl": "text ${pointer}" }`
 * the text with each part substituted. Nothing else is evaluated.
 */
import { MappingFailedError, type AgentwireError, type RunContext } from "@agentwire/wire";

const PART = /\$\{([^}]*)\}/g;

/** The mapping's value in `context`; throws mapping_failed naming the first missing pointer. */
export function evaluate(mapping: unknown, context: RunContext): unknown {
  if (Array.isArray(mapping)) return mapping.map((m) => evaluate(m, context));
  if (mapping === null || typeof mapping !== "object" || mapping instanceof Uint8Array) return mapping;
  const keys = Object.keys(mapping);
  const only = keys.length === 1 ? keys[0] : undefined;
  const value = only === undefined ? undefined : (mapping as Record<string, unknown>)[only];
  if (only === "$ref" && typeof value === "string") return resolve(context, value);
  if (only === "$tpl" && typeof value === "string") {
    return value.replace(PART, (_m, pointer: string) => {
      const v = resolve(context, pointer);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = evaluate((mapping as Record<string, unknown>)[k], context);
  return out;
}

/** The value `pointer` names in `root` [RFC 6901]; mapping_failed when it names nothing. */
export function resolve(root: unknown, pointer: string): unknown {
  if (pointer === "") return root;
  if (!pointer.startsWith("/")) throw missing(pointer, "a JSON Pointer starts with /");
  let at: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) {
      if (!/^(0|[1-9]\d*)$/.test(token) || Number(token) >= at.length) throw missing(pointer);
      at = at[Number(token)];
    } else if (at !== null && typeof at === "object" && !(at instanceof Uint8Array) && Object.hasOwn(at, token)) {
      at = (at as Record<string, unknown>)[token];
    } else {
      throw missing(pointer);
    }
    if (at === undefined) throw missing(pointer);
  }
  return at;
}

function missing(pointer: string, why = "it points to no value"): AgentwireError {
  return new MappingFailedError(`mapping pointer ${JSON.stringify(pointer)}: ${why}`, { details: { pointer } });
}
