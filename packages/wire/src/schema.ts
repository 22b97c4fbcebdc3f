/**
 * JSON Schema of every frame, generated from the zod definitions with zod's own `z.toJSONSchema`
 * (see docs/decisions/001-dependencies.md for why not zod-to-json-schema). protocol/schema/ holds
 * the output; a test fails when regenerating would change it.
 */
import { z } from "zod";
import { FRAME_SCHEMAS, FRAME_TYPES, type FrameType } from "./frames.js";
import { WorkflowSchema } from "./workflow.js";

export const SCHEMA_ID_BASE = "urn:agentwire:v1:schema:";

export type JsonSchema = Record<string, unknown>;

/**
 * The rules of SPEC.md that protocol/schema/ cannot carry, with why [SCHEMA-2]. SPEC.md's list is
 * generated from this one constant, and packages/wire/test/schema-validator.test.ts excuses an invalid
 * vector that a validator built from the schemas alone accepts only when it cites one of these rules.
 */
export const SCHEMA_LIMITS: ReadonlyArray<{ rule: string; what: string }> = [
  { rule: "ENC-1", what: "that the message is exactly one MessagePack item, complete, with no bytes after it: a schema sees a decoded value, not bytes" },
  { rule: "ENC-2", what: "extension types and 0xc1: a schema sees a decoded value, and JSON's data model has neither" },
  { rule: "ENC-3", what: "that an integer field is a MessagePack int, not a float: JSON Schema's `integer` accepts `1.0` (the schemas mark each such field `x-msgpack: int`); and the range ±(2^53−1) inside free-form maps (`details`, `input_schema`, `output_schema`), where JSON cannot tell an int from a float" },
  { rule: "ENC-4", what: "str map keys and valid UTF-8: JSON's data model has only string keys and only valid strings" },
  { rule: "ENC-5", what: "the nesting depth of 16 inside free-form maps: JSON Schema has no depth bound" },
  { rule: "ENC-7", what: "str versus bin: JSON's data model has no bin; the schemas mark payload fields `x-msgpack: bin` and leave their type open" },
  { rule: "ENC-8", what: "the message's length in bytes (`max_frame_bytes`)" },
  { rule: "ENC-12", what: "nil means absent at the top level: a schema sees nil as a value (drop top-level nils before validating); nil inside nested types is rejected by the schemas" },
  { rule: "ENC-18", what: "lengths in UTF-16 code units: JSON Schema's `maxLength` counts code points, so a str within it can still be too long (each character beyond U+FFFF is two UTF-16 units)" },
  { rule: "ENC-20", what: "duplicate map keys: a decoded value has already merged them" },
  { rule: "REG-8", what: "a capability name twice in `register.capabilities`: `uniqueItems` compares whole items, not one property" },
  { rule: "POOL-3", what: "`pool.min` at most `pool.max`: JSON Schema cannot compare two fields" },
  { rule: "WF-3", what: "a workflow's graph rules (unique step ids, `after` naming existing steps, no cycles, compensation steps outside the DAG, quorum within `after`): JSON Schema cannot relate one item to another" },
  { rule: "TOPIC-1", what: "a topic's limit of 256 UTF-8 bytes: the `pattern` carries the grammar and the 32 tokens, and `maxLength` 256 code points lets through a topic of fewer characters but more bytes" },
  { rule: "TOPIC-2", what: "a pattern's limit of 256 UTF-8 bytes, as for TOPIC-1" },
  { rule: "TRACE-1", what: "a `traceparent` whose version is ff or whose trace id or parent id is all zeros: the `pattern` carries the grammar only" },
  { rule: "TRACE-2", what: "the list-member grammar of `tracestate` and its limit of 32 members: the schema carries `maxLength` 512 only" },
];

/** The JSON Schema of one frame type, with a stable `$id`. */
export function frameJsonSchema(type: FrameType): JsonSchema {
  const generated = z.toJSONSchema(FRAME_SCHEMAS[type], {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  const { $schema, direction, ...rest } = generated;
  return {
    $schema,
    $id: `${SCHEMA_ID_BASE}${type}`,
    "x-direction": direction,
    ...rest,
  };
}

/** The JSON Schema of the workflow definition document [WF-1]; the graph rules of WF-3 are in SCHEMA_LIMITS. */
export function workflowJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(WorkflowSchema, { target: "draft-2020-12", io: "input", unrepresentable: "any" }) as JsonSchema;
  const { $schema, ...rest } = generated;
  return { $schema, $id: `${SCHEMA_ID_BASE}workflow`, ...rest };
}

/** One schema that accepts any frame, by reference to the per-frame schemas. */
export function anyFrameJsonSchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `${SCHEMA_ID_BASE}frame`,
    title: "frame",
    description: "Any agentwire v1 frame: a map whose `type` selects the frame schema.",
    oneOf: FRAME_TYPES.map((t) => ({ $ref: `${SCHEMA_ID_BASE}${t}` })),
  };
}

/** Every file of protocol/schema/, by file name, as the generator writes it. */
export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const type of FRAME_TYPES) files.set(`${type}.json`, `${JSON.stringify(frameJsonSchema(type), null, 2)}\n`);
  files.set("frame.json", `${JSON.stringify(anyFrameJsonSchema(), null, 2)}\n`);
  files.set("workflow.schema.json", `${JSON.stringify(workflowJsonSchema(), null, 2)}\n`);
  return files;
}
