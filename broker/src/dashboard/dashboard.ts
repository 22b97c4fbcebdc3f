/**
 * The live dashboard on the broker's HTTP port (docs/decisions/008-dashboard.md): its files at
 * `/dashboard/` (assets.ts), and the routes it needs beside the HTTP API's — `GET /v1/stats`,
 * `GET /v1/dashboard/session`, `GET /v1/dashboard/live` and `POST /v1/agents/{id}/drain`
 * [HTTP-19..22]. http.ts dispatches here; every route but the files is behind the bearer token.
 */
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import { errorFromCode } from "@agentwire/wire";
import { Auth } from "../auth.js";
import type { TokenAcl } from "../config.js";
import { json } from "../http.js";
import { serveAsset } from "./assets.js";
import { LIVE_RATE, live } from "./live.js";
import { readStats, type StatsSources } from "./stats.js";

/** Views that appear only when their route answers (not 404), e.g. while the pools or workflow API is not there. */
const OPTIONAL_VIEWS: readonly (readonly [string, string])[] = [
  ["pools", "/v1/pools"],
  ["runs", "/v1/runs"],
];

/**
 * Whether `GET route` answers on this broker, asked over loopback with the caller's token: the page
 * learns it here rather than from a 404 of its own, which a browser reports as a console error.
 */
function answers(req: IncomingMessage, route: string): Promise<boolean> {
  const { localAddress, localPort } = req.socket;
  return new Promise((resolve) => {
    const probe = request({ host: localAddress, port: localPort, path: route, method: "GET", headers: req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode !== 404);
    });
    probe.on("timeout", () => probe.destroy());
    probe.on("error", () => resolve(false));
    probe.end();
  });
}

export class Dashboard {
  constructor(
    private readonly src: StatsSources,
    private readonly auth: Auth,
  ) {}

  /**
   * Serves a dashboard file (no token needed: files hold no data), and `GET /dashboard/auth`, which
   * tells the page whether to ask for a token before its first API call; false for any other path.
   */
  serveAsset(method: string, path: string, res: ServerResponse): boolean {
    if (method === "GET" && path === "/dashboard/auth") {
      json(res, 200, { auth: this.auth.enabled });
      return true;
    }
    return serveAsset(method, path, res);
  }

  /** Answers a dashboard route once the token was checked; false when `path` is none of them. */
  async route(method: string, path: string, url: URL, req: IncomingMessage, res: ServerResponse, acl: TokenAcl | undefined): Promise<boolean> {
    if (method === "GET" && path === "/v1/stats") {
      json(res, 200, await readStats(this.src));
      return true;
    }
    if (method === "GET" && path === "/v1/dashboard/session") {
      json(res, 200, {
        broker_id: this.src.core.state.brokerId,
        auth: acl !== undefined,
        admin: acl?.admin === true,
        read_only: acl?.read_only === true,
        // What the page may show: every task and event, and the action buttons.
        reads_all: Auth.readsAll(acl),
        can_act: Auth.isOperator(acl),
        events: this.src.eventStore !== undefined,
        // Views whose API another part of the broker serves, shown only once it answers.
        views: Object.fromEntries(await Promise.all(OPTIONAL_VIEWS.map(async ([view, route]) => [view, await answers(req, route)] as const))),
      });
      return true;
    }
    if (method === "GET" && path === "/v1/dashboard/live") {
      // It carries every token's task events, as a replay does [HTTP-15].
      if (!Auth.readsAll(acl)) throw errorFromCode("forbidden", "the live stream needs an admin or a read-only token");
      const rate = url.searchParams.get("rate");
      const n = rate === null ? LIVE_RATE.default : /^\d{1,6}$/.test(rate) ? Number(rate) : NaN;
      if (!(n >= 1 && n <= LIVE_RATE.max)) throw errorFromCode("bad_frame", `rate must be an integer 1..${LIVE_RATE.max} (events per second)`);
      const last = req.headers["last-event-id"];
      const after = typeof last === "string" && /^\d{1,16}$/.test(last) ? Number(last) : undefined;
      await live(this.src, this.src.eventStore, req, res, { rate: n, after });
      return true;
    }
    const drain = /^\/v1\/agents\/([^/]+)\/drain$/.exec(path);
    if (drain !== null && method === "POST") {
      if (!Auth.isOperator(acl)) throw errorFromCode("forbidden", acl?.read_only === true ? "a read-only token may not drain agents" : "draining an agent needs an admin token");
      const agentId = decodeURIComponent(drain[1]!);
      // The broker operation a pool's scale-down uses too: DRAINING, and the broker→peer `drain` frame [DRAIN-7].
      if (!this.src.core.drainAgent(agentId, "drained over HTTP")) throw errorFromCode("not_found", `no live agent ${agentId}`);
      json(res, 202, { agent_id: agentId, status: "draining" });
      return true;
    }
    return false;
  }
}
