import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_LIMITS, bundleBrowser, type BrowserBundle } from "../scripts/bundle-browser.js";

describe("the browser bundle", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentwire-bundle-"));
  let bundle: BrowserBundle;

  beforeAll(async () => {
    bundle = await bundleBrowser(join(dir, "agentwire.js"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("stays within its size bound (minified and gzip)", () => {
    expect(bundle.bytes).toBeLessThanOrEqual(BUNDLE_LIMITS.minified);
    expect(bundle.gzipBytes).toBeLessThanOrEqual(BUNDLE_LIMITS.gzip);
  });

  it("holds zod and msgpackr's browser build, nothing of ws or msgpackr-extract", () => {
    expect(Object.keys(bundle.packages).sort()).toEqual(["msgpackr", "zod"]);
    // index.js is the `browser` export; node-index.js and dist/node.cjs (which load msgpackr-extract) are Node's.
    expect(bundle.packages.msgpackr).toEqual(["pack.js", "unpack.js"]);
  });

  /** Bundles one file of ours with `source`; resolves with the build's error text, or "" when it built. */
  async function buildError(name: string, source: string): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, source);
    return bundleBrowser(join(dir, "out", name), `export * from ${JSON.stringify(file)};`).then(
      () => "",
      (err: Error) => err.message,
    );
  }

  it("fails on a Node built-in, a Node global or .unref( in code of ours", async () => {
    expect(await buildError("fs.js", `import { readFileSync } from "node:fs"; export const read = readFileSync;`)).toMatch(/Could not resolve "node:fs"/);
    expect(await buildError("buffer.js", `export const b = () => Buffer.from("x");`)).toMatch(/uses Buffer: Node globals/);
    const timers = await buildError("timers.js", `export function later(f) { setImmediate(f); setTimeout(f, 1).unref(); }`);
    expect(timers).toMatch(/uses setImmediate: Node globals/);
    expect(timers).toMatch(/calls \.unref\(\)/);
    expect(await buildError("env.js", `export const env = () => process.env.X;`)).toMatch(/uses process/);
    expect(await buildError("ws.js", `export { WebSocket } from "ws";`)).toMatch(/imports ws, which only runs on Node/);
  });

  it("passes the feature-detected forms the core uses, and words in comments and strings", async () => {
    const source = [
      "// Buffer, process.env and setImmediate( in a comment",
      `export const words = "Buffer.from process.env setImmediate( .unref(";`,
      "export const level = () => globalThis.process?.env?.LEVEL;",
      "export function unref(t) { t.unref?.(); return t; }",
      "export function shadow(process) { return process.x; }",
    ].join("\n");
    expect(await buildError("clean.js", source)).toBe("");
  });
});
