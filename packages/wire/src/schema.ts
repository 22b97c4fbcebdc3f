/**
 * JSON Schema of every frame, generated from the zod definitions with zod's own `z.toJSONSchema`
 * (see docs/decisions/001-dependencies.md for why not zod-to-json-schema). protocol/schema/ holds
 * the output; a test fails when regenerating would change it.
 */
import { z } from "zod";
import { FRAME_SCHEMAS, FRAME_TYPES, type FrameType } from "./frames.js";

export const SCHEMA_ID_BASE = "urn:agentwire:v1:schema:";

export type JsonSchema = Record<string, unknown>;

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
  return files;
}
