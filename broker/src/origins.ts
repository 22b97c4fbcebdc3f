/**
 * Which browser pages may use the broker [TRANS-11, HTTP-18]. A request without `Origin` does not
 * come from a page and is always let through; one with `Origin` when that is the broker's own origin,
 * one of `--allowed-origins`, or the list is `*`. Other pages are refused with 403 `forbidden`: at
 * the WebSocket upgrade, and on the HTTP API too, so that a page cannot cause effects it may not read.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorFromCode, type AgentwireError } from "@agentwire/wire";

/** `text` as browsers send it in `Origin` (lower case, no default port), or undefined when it is not `scheme://host[:port]`. */
export function originOf(text: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return url.host === "" ? undefined : `${url.protocol}//${url.host}`;
}

/** The origin of the page that sent a request, and whether it may use the broker. */
export interface PageOrigin {
  origin: string;
  allowed: boolean;
}

export class OriginPolicy {
  private readonly any: boolean;
  private readonly listed: ReadonlySet<string>;

  /** `allowed`: `--allowed-origins` as the config holds it: "" (same origin only), "*", or origins (as `originOf` gives them) joined by commas. */
  constructor(allowed: string) {
    this.any = allowed === "*";
    this.listed = new Set(allowed === "" || this.any ? [] : allowed.split(","));
  }

  /** Undefined for a request without `Origin` (not sent by a page). */
  of(req: IncomingMessage): PageOrigin | undefined {
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    return { origin, allowed: this.any || this.listed.has(origin) || sameOrigin(origin, req.headers.host) };
  }

  static refusal(origin: string): AgentwireError {
    return errorFromCode("forbidden", `origin ${origin} may not use this broker (list it in --allowed-origins)`);
  }
}

/** Whether a page's origin is http(s) on the host and port the request was sent to (its `Host`). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  const scheme = /^(https?):\/\//.exec(origin)?.[1];
  return scheme !== undefined && host !== undefined && originOf(`${scheme}://${host}`) === origin;
}

/**
 * CORS for the HTTP API [HTTP-18]: an allowed page's request gets its origin echoed, and its
 * preflight (`OPTIONS`) is answered here with 204 — true then. A page not allowed gets no CORS
 * header: this throws `forbidden`. Only non-safelisted response headers would need
 * `Access-Control-Expose-Headers`, and the API sends none.
 */
export function crossOrigin(policy: OriginPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  const page = policy.of(req);
  if (page === undefined) return false;
  res.setHeader("vary", "Origin");
  if (!page.allowed) throw OriginPolicy.refusal(page.origin);
  res.setHeader("access-control-allow-origin", page.origin);
  if (req.method !== "OPTIONS") return false;
  res.writeHead(204, {
    "access-control-allow-methods": "GET, POST, DELETE",
    "access-control-allow-headers": "authorization, content-type, last-event-id",
    "access-control-max-age": "600",
  });
  res.end();
  return true;
}
