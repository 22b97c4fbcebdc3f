/**
 * Checking workflow definitions [WF-2..WF-4]: the document's schema and graph (WorkflowSchema, from
 * @agentwire/wire) and its size, each refusal a `bad_workflow` whose `details.path` names the field.
 */
import { isDeepStrictEqual } from "node:util";
import {
  BadWorkflowError,
  type AgentwireError,
  encodePayload,
  WORKFLOW_LIMITS,
  WorkflowRefSchema,
  WorkflowSchema,
  type WorkflowDefinition,
  type WorkflowRef,
} from "@agentwire/wire";
import type { z } from "zod";

/** A definition sent inline, checked; throws bad_workflow. */
export function parseDefinition(doc: unknown): WorkflowDefinition {
  const parsed = WorkflowSchema.safeParse(doc);
  if (!parsed.success) throw refusal(parsed.error.issues);
  let bytes: number;
  try {
    bytes = encodePayload(parsed.data).byteLength;
  } catch {
    throw new BadWorkflowError("the definition holds a value MessagePack cannot carry", { details: { path: "" } });
  }
  if (bytes > WORKFLOW_LIMITS.maxDefinitionBytes) {
    throw new BadWorkflowError(`the definition is ${bytes} bytes, more than ${WORKFLOW_LIMITS.maxDefinitionBytes} (WF-4)`, { details: { path: "", limit: "max_definition_bytes", max: WORKFLOW_LIMITS.maxDefinitionBytes, size: bytes } });
  }
  return parsed.data;
}

/** `run.workflow`: a definition (it has `steps` or `workflow`) or a registered one's `{ name, version? }` [WF-2]. */
export function parseWorkflowField(doc: unknown): { definition: WorkflowDefinition } | { ref: WorkflowRef } {
  if (doc !== null && typeof doc === "object" && ("steps" in doc || "workflow" in doc)) return { definition: parseDefinition(doc) };
  const parsed = WorkflowRefSchema.safeParse(doc);
  if (!parsed.success) throw refusal(parsed.error.issues);
  return { ref: parsed.data };
}

/** Whether two definitions are the same document (WF-5: a version means one document). */
export function sameDefinition(a: WorkflowDefinition, b: WorkflowDefinition): boolean {
  return isDeepStrictEqual(a, b);
}

function refusal(issues: readonly z.core.$ZodIssue[]): AgentwireError {
  const issue = issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  return new BadWorkflowError(`workflow${path === "" ? "" : ` ${path}`}: ${issue?.message ?? "invalid"}`, { details: { path } });
}

/** Orders semantic versions MAJOR.MINOR.PATCH numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}
