/**
 * The HTTP routes of workflows [WF-23, WF-24]: register and list definitions, start runs (by name or
 * inline), read, cancel and list runs. Inputs and outputs are JSON values; the broker encodes them
 * as the run's MessagePack documents.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { encodePayload, errorFromCode, RUN_STATES, type RunState } from "@agentwire/wire";
import type { TokenAcl } from "../config.js";
import type { WorkflowEngine } from "./engine.js";

export interface WorkflowHttp {
  engine: WorkflowEngine;
  readJson(req: IncomingMessage): Promise<unknown>;
  json(res: ServerResponse, status: number, body: unknown): void;
}

/** Most runs one `GET /v1/runs` lists. */
const MAX_LIST = 1_000;

/** Answers a request under /v1/workflows or /v1/runs; throws not_found for any other path or method there. */
export async function workflowRoute(h: WorkflowHttp, method: string, path: string, url: URL, req: IncomingMessage, res: ServerResponse, acl: TokenAcl | undefined): Promise<void> {
  const { engine, json } = h;
  if (path === "/v1/workflows" && method === "GET") return json(res, 200, { workflows: await engine.store.definitions() });
  const named = /^\/v1\/workflows\/([^/]+)$/.exec(path);
  if (named !== null && method === "PUT") {
    const body = await h.readJson(req);
    const name = decodeURIComponent(named[1]!);
    if (body === null || typeof body !== "object" || (body as { name?: unknown }).name !== name) {
      throw errorFromCode("bad_workflow", `the definition's name must be ${JSON.stringify(name)}, the path's`, { details: { path: "name" } });
    }
    const outcome = await engine.register(acl, body);
    const { version } = body as { version: string };
    return json(res, outcome === "created" ? 201 : 200, { name, version });
  }
  const runsOf = /^\/v1\/workflows\/([^/]+)\/runs$/.exec(path);
  if (runsOf !== null && method === "POST") {
    const body = object(await h.readJson(req));
    if (body.version !== undefined && typeof body.version !== "string") throw errorFromCode("bad_workflow", "version must be a string", { details: { path: "version" } });
    const workflow = { name: decodeURIComponent(runsOf[1]!), ...(body.version === undefined ? {} : { version: body.version }) };
    return started(h, res, await engine.startRun(acl, workflow, encodePayload(body.input ?? null), undefined, () => undefined));
  }
  if (path === "/v1/runs" && method === "POST") {
    const body = object(await h.readJson(req));
    if (body.workflow === null || typeof body.workflow !== "object") throw errorFromCode("bad_workflow", "workflow must be a definition", { details: { path: "" } });
    return started(h, res, await engine.startRun(acl, body.workflow, encodePayload(body.input ?? null), undefined, () => undefined));
  }
  if (path === "/v1/runs" && method === "GET") {
    const state = url.searchParams.get("state") ?? undefined;
    if (state !== undefined && !(RUN_STATES as readonly string[]).includes(state)) throw errorFromCode("bad_frame", `state must be one of ${RUN_STATES.join(", ")}`);
    const limitText = url.searchParams.get("limit");
    const limit = limitText === null ? 100 : /^\d{1,4}$/.test(limitText) ? Math.min(MAX_LIST, Math.max(1, Number(limitText))) : NaN;
    if (Number.isNaN(limit)) throw errorFromCode("bad_frame", `limit must be an integer 1..${MAX_LIST}`);
    const runs = await engine.list(acl, { state: state as RunState | undefined, name: url.searchParams.get("name") ?? undefined, limit });
    return json(res, 200, { runs });
  }
  const one = /^\/v1\/runs\/([^/]+)$/.exec(path);
  if (one !== null && (method === "GET" || method === "DELETE")) {
    const id = decodeURIComponent(one[1]!);
    if (method === "DELETE") await engine.cancel(acl, id, "cancelled over HTTP");
    return json(res, method === "DELETE" ? 202 : 200, await engine.view(acl, id));
  }
  throw errorFromCode("not_found", `no route ${method} ${path}`);
}

function started(h: WorkflowHttp, res: ServerResponse, runId: string): void {
  h.json(res, 202, { run_id: runId });
}

function object(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw errorFromCode("bad_frame", "the body must be a JSON object");
  return body as Record<string, unknown>;
}
