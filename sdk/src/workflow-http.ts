/**
 * The broker's workflow registry over its HTTP API, on the same port as the WebSocket [WF-5, WF-23]:
 * a definition registered once is started by name (`client.run({ name, version? }, input)`) from any
 * client, any language, or `POST /v1/workflows/{name}/runs`.
 */
import { errorFromCode, type WorkflowDefinition } from "@agentwire/wire";

/**
 * Registers `definition` under its name and version: true when it was stored now, false when the same
 * document was already; WorkflowExistsError when another document holds that name and version,
 * BadWorkflowError when the broker refuses the document.
 */
export async function registerWorkflow(base: string, token: string | undefined, definition: WorkflowDefinition): Promise<boolean> {
  const res = await fetch(`${base}/v1/workflows/${encodeURIComponent(definition.name)}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(definition),
  });
  if (res.ok) return res.status === 201;
  const body = (await res.json().catch(() => undefined)) as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined;
  throw errorFromCode(body?.error?.code ?? "internal", body?.error?.message ?? `HTTP ${res.status} from PUT /v1/workflows/${definition.name}`, { details: body?.error?.details });
}
