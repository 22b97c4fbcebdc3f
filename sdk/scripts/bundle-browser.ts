/**
 * Bundles @agentwire/sdk for browsers with esbuild (platform browser, ESM, minified, the `browser`
 * condition) and no Node shims. The build fails when anything bundled needs Node: esbuild refuses
 * Node built-ins (`node:*`, `fs`, ...) for the browser, and the `nodeFree` plugin refuses Node globals
 * and `.unref(` in every file it loads.
 *
 *   node sdk/dist/scripts/bundle-browser.js [outfile]   (default sdk/dist/browser/agentwire.js)
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

/** Globals that exist on Node and not in browsers. */
export const NODE_GLOBALS = ["Buffer", "process", "setImmediate", "clearImmediate", "global", "__dirname", "__filename"] as const;

/**
 * Node globals a dependency may name because it feature-detects them. msgpackr checks
 * `typeof Buffer !== "undefined"` and falls back to Uint8Array. Our own code gets no allowance.
 */
const ALLOWED: Record<string, readonly string[]> = { msgpackr: ["Buffer"] };

/** Packages that only work on Node: reaching one means a condition picked the Node build. */
const NODE_ONLY_PACKAGES = /^(ws|msgpackr-extract|bufferutil|utf-8-validate)(\/|$)/;

/**
 * The size bound the browser test asserts, in bytes: measured at 585,691 minified / 137,738 gzip
 * (zod 4.6.7, msgpackr 2.1.4, esbuild 0.28.2; protocol revision 1.2: pools with createPool, trace
 * context, workflows — the wire's definition schema and run frames, about 9 KB, and the builder and
 * RunHandle, about 6 KB), plus about 2% for growth. Before workflows 567,092 / 132,299; first
 * measured at 547,781 / 125,879 (revision 1.1).
 */
export const BUNDLE_LIMITS = { minified: 597_000, gzip: 140_500 } as const;

export interface BrowserBundle {
  file: string;
  bytes: number;
  /** gzip at zlib's default level (6), as a web server compresses it. */
  gzipBytes: number;
  /** Each npm package with code in the bundle, and those of its files that kept code after tree shaking. */
  packages: Record<string, string[]>;
}

/** The npm package a file belongs to (the innermost node_modules/<name>), or undefined for ours. */
function packageOf(path: string): { name: string; file: string } | undefined {
  const m = /^.*node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path.replaceAll("\\", "/"));
  return m === null ? undefined : { name: m[1]!, file: m[2]! };
}

/** Fails the build on Node globals (free references only: not comments, strings or properties) and `.unref(`. */
export function nodeFree(): esbuild.Plugin {
  const marker = "__agentwireNodeGlobal_";
  const define = Object.fromEntries(NODE_GLOBALS.map((g) => [g, marker + g]));
  const unrefMarker = "__agentwireUnrefCall";
  return {
    name: "node-free",
    setup(build) {
      build.onResolve({ filter: NODE_ONLY_PACKAGES }, (args) => ({
        errors: [{ text: `${args.importer} imports ${args.path}, which only runs on Node` }],
      }));
      build.onLoad({ filter: /\.[cm]?js$/ }, async (args) => {
        // esbuild's parse drops comments, renames only free identifiers (define) and `.unref` property
        // accesses (mangleProps), so words in strings and comments do not count.
        const { code } = await esbuild.transform(await readFile(args.path, "utf8"), {
          define,
          mangleProps: /^unref$/,
          mangleCache: { unref: unrefMarker },
          loader: "js",
          format: "esm",
        });
        const pkg = packageOf(args.path);
        const allowed = new Set(pkg === undefined ? [] : (ALLOWED[pkg.name] ?? []));
        const used = [...new Set(Array.from(code.matchAll(new RegExp(`${marker}(\\w+)`, "g")), (m) => m[1]!))].filter((g) => !allowed.has(g));
        const errors: esbuild.PartialMessage[] = [];
        if (used.length > 0) errors.push({ text: `${args.path} uses ${used.join(", ")}: Node globals, absent in browsers` });
        // Browser timers are numbers; log.ts's unref() calls `unref?.()`, which is fine there.
        if (code.includes(`.${unrefMarker}(`)) errors.push({ text: `${args.path} calls .unref(), which browser timers lack` });
        return errors.length > 0 ? { errors } : undefined;
      });
    },
  };
}

/** The folder of @agentwire/sdk's package.json, from this file in scripts/ or dist/scripts/. */
export function sdkRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

/** Bundles `entry` (default: all of @agentwire/sdk) into `outfile`; rejects when the build fails. */
export async function bundleBrowser(outfile: string, entry = `export * from "@agentwire/sdk";`): Promise<BrowserBundle> {
  const root = sdkRoot();
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: root, sourcefile: "browser-entry.js", loader: "js" },
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    conditions: ["browser"],
    metafile: true,
    logLevel: "silent",
    plugins: [nodeFree()],
  });
  const bytes = result.outputFiles[0]!.contents;
  await mkdir(dirname(outfile), { recursive: true });
  await writeFile(outfile, bytes);
  const packages: Record<string, string[]> = {};
  for (const [input, { bytesInOutput }] of Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)) {
    const pkg = packageOf(input);
    if (pkg !== undefined && bytesInOutput > 0) (packages[pkg.name] ??= []).push(pkg.file);
  }
  for (const files of Object.values(packages)) files.sort();
  return { file: outfile, bytes: bytes.byteLength, gzipBytes: gzipSync(bytes).byteLength, packages };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outfile = resolve(process.argv[2] ?? join(sdkRoot(), "dist", "browser", "agentwire.js"));
  const { name, version } = JSON.parse(readFileSync(join(sdkRoot(), "package.json"), "utf8")) as { name: string; version: string };
  const bundle = await bundleBrowser(outfile);
  process.stderr.write(`${name}@${version} → ${relative(process.cwd(), outfile)}\n`);
  process.stdout.write(`${JSON.stringify({ file: outfile, bytes: bundle.bytes, gzipBytes: bundle.gzipBytes, limits: BUNDLE_LIMITS })}\n`);
}
