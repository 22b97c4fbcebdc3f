export * from "./constants.js";
export * from "./errors.js";
export * from "./frames.js";
export * from "./topic.js";
export * from "./trace.js";
export type { RecordedEvent } from "./recorded-event.js";
export { decode, encode, encodePayload, decodePayload, scanEnvelope, type DecodeOptions } from "./codec.js";
export { frameJsonSchema, anyFrameJsonSchema, schemaFiles, SCHEMA_ID_BASE, SCHEMA_LIMITS, type JsonSchema } from "./schema.js";
export { syncSpec, framesWithoutTable, renderFrameTable, renderErrorTable, renderSchemaLimits } from "./spec-tables.js";
