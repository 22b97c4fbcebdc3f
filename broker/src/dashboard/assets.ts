/**
 * The dashboard's static files, served at `/dashboard/` without a token (they hold no data; the page
 * asks for one): the page and its style from `broker/dashboard/`, its modules as `tsc -b` compiled
 * them into `broker/dist/dashboard/`, and uPlot from its package. Read once, on the first request,
 * and kept in memory (some tens of kilobytes).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";

interface Asset {
  type: string;
  body: Buffer;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".png": "image/png",
};

/** The folder of @agentwire/broker's package.json, from this file in src/ or dist/src/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

let loaded: { assets: Map<string, Asset>; csp: string } | undefined;

function load(): { assets: Map<string, Asset>; csp: string } {
  if (loaded !== undefined) return loaded;
  const root = packageRoot();
  const assets = new Map<string, Asset>();
  const add = (path: string, file: string): void => {
    if (!existsSync(file)) return;
    assets.set(path, { type: TYPES[/\.[a-z]+$/.exec(file)?.[0] ?? ""] ?? "application/octet-stream", body: readFileSync(file) });
  };
  add("/dashboard/", join(root, "dashboard", "index.html"));
  add("/dashboard/style.css", join(root, "dashboard", "style.css"));
  const compiled = join(root, "dist", "dashboard");
  if (existsSync(compiled)) {
    for (const name of readdirSync(compiled)) if (name.endsWith(".js")) add(`/dashboard/app/${name}`, join(compiled, name));
  }
  const uplot = createRequire(import.meta.url);
  add("/dashboard/vendor/uplot.js", uplot.resolve("uplot/dist/uPlot.esm.js"));
  add("/dashboard/vendor/uplot.css", uplot.resolve("uplot/dist/uPlot.min.css"));
  // The page's one inline script is its import map: allowed by its hash, nothing else inline.
  const page = assets.get("/dashboard/")?.body.toString("utf8") ?? "";
  const inline = [...page.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`);
  const csp = `default-src 'self'; script-src 'self' ${inline.join(" ")}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'`;
  loaded = { assets, csp };
  return loaded;
}

/** Answers a GET for a dashboard file; false when `path` is not under `/dashboard`. */
export function serveAsset(method: string, path: string, res: ServerResponse): boolean {
  if (path !== "/dashboard" && !path.startsWith("/dashboard/")) return false;
  if (method !== "GET" && method !== "HEAD") return false;
  if (path === "/dashboard") {
    res.writeHead(308, { location: "/dashboard/" }).end();
    return true;
  }
  const { assets, csp } = load();
  const asset = assets.get(path);
  if (asset === undefined) {
    const built = assets.has("/dashboard/app/main.js");
    const text = built ? `no dashboard file ${path}` : "the dashboard is not built: run pnpm build";
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(text);
    return true;
  }
  res.writeHead(200, {
    "content-type": asset.type,
    "content-length": asset.body.byteLength,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    ...(asset.type.startsWith("text/html") ? { "content-security-policy": csp, "referrer-policy": "no-referrer" } : {}),
  });
  res.end(method === "HEAD" ? undefined : asset.body);
  return true;
}
