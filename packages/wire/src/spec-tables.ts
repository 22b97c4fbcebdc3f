/**
 * SPEC.md's field tables and error registry are generated from the zod frames and ERROR_CODES, so
 * the spec cannot drift from the code. Generated blocks sit between markers:
 *   <!-- generated:frame NAME -->  ...  <!-- /generated -->
 *   <!-- generated:type NAME -->   ...  <!-- /generated -->   (ErrorInfo, Capability, AgentInfo, Autoscale)
 *   <!-- generated:errors -->      ...  <!-- /generated -->
 *   <!-- generated:schema-limits --> ... <!-- /generated -->  (SCHEMA_LIMITS)
 */
import { ERROR_CODES, ERROR_CODE_LIST } from "./errors.js";
import { FRAME_TYPES, frameMeta, type FrameType } from "./frames.js";
import { frameJsonSchema, SCHEMA_LIMITS, type JsonSchema } from "./schema.js";
import { z } from "zod";
import { AgentInfoSchema, AutoscaleSchema, CapabilitySchema, ErrorInfoSchema } from "./frames.js";

const NESTED: Record<string, z.ZodType> = {
  ErrorInfo: ErrorInfoSchema,
  Capability: CapabilitySchema,
  AgentInfo: AgentInfoSchema,
  Autoscale: AutoscaleSchema,
};

/** Names a nested object by the properties it has, for the MessagePack type column. */
function nestedName(schema: JsonSchema): string | undefined {
  const keys = Object.keys((schema.properties as object | undefined) ?? {}).join(",");
  for (const [name, zs] of Object.entries(NESTED)) {
    const ks = Object.keys((zs as z.ZodObject).shape).join(",");
    if (ks === keys) return name;
  }
  return undefined;
}

function msgpackType(s: JsonSchema): string {
  if (s["x-msgpack"] === "bin") return "bin";
  if ("const" in s) return "str";
  if (Array.isArray(s.enum)) return `str: ${(s.enum as string[]).map((v) => `\`${v}\``).join(" \\| ")}`;
  switch (s.type) {
    case "string": return "str";
    case "integer": return s.minimum === 0 || (typeof s.minimum === "number" && s.minimum > 0) ? "uint" : "int";
    case "number": return "float64";
    case "boolean": return "bool";
    case "array": return `array of ${msgpackType(s.items as JsonSchema)}`;
    case "object": {
      const nested = nestedName(s);
      if (nested !== undefined) return `map (${nested})`;
      return "map";
    }
    default: return "any";
  }
}

function constraints(s: JsonSchema): string {
  const out: string[] = [];
  if (typeof s.minimum === "number" && typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER) out.push(`${s.minimum}..${s.maximum}`);
  if (typeof s.minLength === "number" && typeof s.maxLength === "number") out.push(`${s.minLength}..${s.maxLength} chars`);
  else if (typeof s.maxLength === "number") out.push(`≤ ${s.maxLength} chars`);
  if (typeof s.maxItems === "number") out.push(`≤ ${s.maxItems} items`);
  return out.length === 0 ? "" : ` (${out.join(", ")})`;
}

function table(schema: JsonSchema): string {
  const props = schema.properties as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(props).map(([name, s]) => {
    const meaning = ((s.description as string | undefined) ?? "").replace(/\|/g, "\\|");
    return `| \`${name}\` | ${msgpackType(s)}${constraints(s)} | ${required.has(name) ? "yes" : "no"} | ${meaning} |`;
  });
  return ["| field | MessagePack type | required | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

export function renderFrameTable(type: FrameType): string {
  const meta = frameMeta(type);
  return `Direction: ${meta.direction}. ${meta.description}\n\n${table(frameJsonSchema(type))}`;
}

export function renderTypeTable(name: string): string {
  const zs = NESTED[name];
  if (zs === undefined) throw new Error(`no nested type ${name}`);
  return table(z.toJSONSchema(zs, { io: "input", unrepresentable: "any" }) as JsonSchema);
}

export function renderErrorTable(): string {
  const rows = ERROR_CODE_LIST.map((code) => {
    const e = ERROR_CODES[code];
    return `| \`${code}\` | ${e.when} | ${e.survives ? "yes" : "no (closed)"} | ${e.retryable ? "yes" : "no"} | ${e.http} | ${e.close} |`;
  });
  return ["| code | sent when | connection survives | retryable | HTTP status | close code when fatal |", "|---|---|---|---|---|---|", ...rows].join("\n");
}

export function renderSchemaLimits(): string {
  return SCHEMA_LIMITS.map((l) => `- ${l.rule}: ${l.what}.`).join("\n");
}

const BLOCK = /<!-- generated:(frame|type|errors|schema-limits)(?: ([A-Za-z_]+))? -->\n[\s\S]*?<!-- \/generated -->/g;

/** SPEC.md with every generated block rendered afresh. */
export function syncSpec(spec: string): string {
  return spec.replace(BLOCK, (_m, kind: string, name: string | undefined) => {
    const body =
      kind === "frame" ? renderFrameTable(name as FrameType)
      : kind === "type" ? renderTypeTable(name ?? "")
      : kind === "schema-limits" ? renderSchemaLimits()
      : renderErrorTable();
    return `<!-- generated:${kind}${name === undefined ? "" : ` ${name}`} -->\n${body}\n<!-- /generated -->`;
  });
}

/** Frame types that have no generated table in the given SPEC.md text. */
export function framesWithoutTable(spec: string): FrameType[] {
  return FRAME_TYPES.filter((t) => !spec.includes(`<!-- generated:frame ${t} -->`));
}
