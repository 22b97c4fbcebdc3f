/** The broker's HTTP API as the page calls it: same origin, the bearer token from sessionStorage. */
const TOKEN_KEY = "agentwire.dashboard.token";

export function token(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setToken(value: string | undefined): void {
  if (value === undefined || value === "") sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

export function authHeaders(): Record<string, string> {
  const t = token();
  return t === undefined ? {} : { authorization: `Bearer ${t}` };
}

/** An error answer of the API: its registry code and message [HTTP-2]. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  let code = "internal";
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** NDJSON lines of a replay (`GET /v1/events?...`). */
export async function ndjson<T>(path: string): Promise<T[]> {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as T);
}

export interface Session {
  broker_id: string;
  auth: boolean;
  admin: boolean;
  read_only: boolean;
  reads_all: boolean;
  can_act: boolean;
  events: boolean;
  /** Optional views whose API answers on this broker (pools, runs). */
  views: Record<string, boolean>;
}
