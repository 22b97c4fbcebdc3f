/**
 * The packages as a user gets them: `pnpm pack` of @agentwire/wire and @agentwire/sdk, `npm install` of
 * both tarballs (with typescript and @types/node from the registry) in a project under os.tmpdir(),
 * outside any workspace, then programs run there against a real broker: an ESM agent and client, a
 * strict NodeNext TypeScript program (type-checked, compiled, run), a misspelled contract key that
 * must fail tsc, and a plain client that must load no Solana or OpenAI module. The bridges
 * (@agentwire/mcp, @agentwire/a2a) are installed beside them: agentwire-mcp runs from node_modules/.bin,
 * and a plain client loads none of the MCP or A2A SDKs' modules even with them installed.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { repoRoot } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, exec, show } from "./exec.js";
import { HAVE_BROKER, sdkBroker, type TestBroker } from "./helpers.js";

const ROOT = repoRoot();
const PACKAGES = { wire: join(ROOT, "packages", "wire"), sdk: join(ROOT, "sdk"), mcp: join(ROOT, "packages", "mcp"), a2a: join(ROOT, "packages", "a2a") } as const;
// The versions the workspace builds with (root package.json).
const TYPESCRIPT = "typescript@5.9.3";
const TYPES_NODE = "@types/node@^20.19.0";

const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
const tarball = (name: string, dir: string): string => `agentwire-${name}-${version(dir)}.tgz`;

/** What a tarball must hold: per source file its source, JS, declarations and both maps; README, LICENSE, package.json. */
function intended(dir: string): string[] {
  const stems = readdirSync(join(dir, "src")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3));
  const perFile = stems.flatMap((s) => [`src/${s}.ts`, ...[".js", ".js.map", ".d.ts", ".d.ts.map"].map((ext) => `dist/src/${s}${ext}`)]);
  return ["LICENSE", "README.md", "package.json", ...perFile].map((f) => `package/${f}`).sort();
}

let work = "";
let project = "";
let broker: TestBroker | undefined;
const listing: Record<string, string[]> = {};

async function node(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000) {
  return exec(process.execPath, args, { cwd: project, env: cleanEnv({ AGENTWIRE_URL: broker!.url, ...env }), timeoutMs });
}
const tsc = (args: readonly string[]) => node([join(project, "node_modules", "typescript", "bin", "tsc"), ...args], {}, 90_000);
const write = (file: string, text: string): string => {
  const path = join(project, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
};

describe.runIf(HAVE_BROKER)("the packed packages, installed with npm outside the workspace", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "agentwire-pack-"));
    const packs = join(work, "packs");
    for (const [name, dir] of Object.entries(PACKAGES)) {
      const r = await exec("pnpm", ["pack", "--pack-destination", packs], { cwd: dir, timeoutMs: 60_000 });
      expect(r.code, show(r)).toBe(0);
      const tar = await exec("tar", ["tzf", join(packs, tarball(name, dir))], { cwd: work, timeoutMs: 10_000 });
      listing[name] = tar.stdout.split("\n").filter(Boolean).sort();
    }
    project = join(work, "project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "agentwire-pack-test", private: true, type: "module" }, null, 2));
    const install = await exec(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--save-exact",
        join(packs, tarball("wire", PACKAGES.wire)),
        join(packs, tarball("sdk", PACKAGES.sdk)),
        join(packs, tarball("mcp", PACKAGES.mcp)),
        join(packs, tarball("a2a", PACKAGES.a2a)),
        TYPESCRIPT,
        TYPES_NODE,
      ],
      { cwd: project, timeoutMs: 150_000 },
    );
    expect(install.code, show(install)).toBe(0);
    broker = await sdkBroker();
  }, 180_000);

  afterAll(async () => {
    await broker?.stop();
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("each tarball holds exactly the built sources with their sources, declarations and maps, README, LICENSE and package.json", () => {
    for (const [name, dir] of Object.entries(PACKAGES)) {
      expect(listing[name], name).toEqual(intended(dir));
      const installed = join(project, "node_modules", "@agentwire", name);
      expect(readFileSync(join(installed, "LICENSE"), "utf8")).toBe(readFileSync(join(ROOT, "LICENSE"), "utf8"));
      // Every source map points at a file the package ships (go-to-definition lands in src/).
      for (const map of readdirSync(join(installed, "dist", "src")).filter((f) => f.endsWith(".map"))) {
        const { sources } = JSON.parse(readFileSync(join(installed, "dist", "src", map), "utf8")) as { sources: string[] };
        for (const source of sources) expect(existsSync(resolve(installed, "dist", "src", source)), `${name}/dist/src/${map} -> ${source}`).toBe(true);
      }
    }
    const sdk = JSON.parse(readFileSync(join(project, "node_modules", "@agentwire", "sdk", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    // pnpm pack turned workspace:* into the version npm resolved to the wire tarball (deduped, not fetched).
    expect(sdk.dependencies["@agentwire/wire"]).toBe(version(PACKAGES.wire));
    expect(existsSync(join(project, "node_modules", "@agentwire", "sdk", "node_modules"))).toBe(false);
    // The bridges' SDKs are theirs alone: the SDK names none of them, in any kind of dependency.
    const own = JSON.parse(readFileSync(join(PACKAGES.sdk, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    for (const kind of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
      expect(Object.keys(own[kind] ?? {}).filter((d) => /^@modelcontextprotocol\/|^@a2a-js\/|^@agentwire\/(mcp|a2a)$/.test(d)), kind).toEqual([]);
    }
  });

  it("agentwire-mcp runs from node_modules/.bin: --help prints its usage, bad usage exits 2 with one line", async () => {
    const bin = join(project, "node_modules", ".bin", "agentwire-mcp");
    const help = await exec(bin, ["--help"], { cwd: project, env: cleanEnv({}), timeoutMs: 30_000 });
    expect(help.code, show(help)).toBe(0);
    expect(help.stdout).toMatch(/^usage: agentwire-mcp \[options\]/);
    expect(help.stdout).toContain("--http");
    const bad = await exec(bin, ["--no-such-flag"], { cwd: project, env: cleanEnv({}), timeoutMs: 30_000 });
    expect(bad.code, show(bad)).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^agentwire-mcp: .*no-such-flag/);
  });

  it("an ESM program (.mjs, plain node) serves a contract and a client submits to it: id, progress, result", async () => {
    write(
      "greet.mjs",
      `import { connect, createAgent, defineCapability, z } from "@agentwire/sdk";
const url = process.env.AGENTWIRE_URL;
const Greet = defineCapability({
  name: "pack.greet",
  input: z.object({ name: z.string() }),
  output: z.object({ text: z.string() }),
  progress: z.object({ step: z.string() }),
});
const agent = createAgent({ url, name: "greeter" }).capability(Greet, async ({ name }, ctx) => {
  ctx.progress({ step: "thinking" });
  return { text: "hello " + name };
});
await agent.start();
const client = await connect({ url });
const task = client.submit(Greet, { name: "ada" }, { timeoutMs: 5000 });
const progress = [];
for await (const p of task.progress()) progress.push(p);
console.log(JSON.stringify({ id: await task.id, progress, output: await task, result: await task.result }));
await client.drain();
await agent.drain();
`,
    );
    const r = await node(["greet.mjs"]);
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; progress: unknown[]; output: unknown; result: unknown };
    expect(out.id).toMatch(/\S/);
    expect(out.progress).toEqual([{ step: "thinking" }]);
    expect(out.output).toEqual({ text: "hello ada" });
    expect(out.result).toEqual({ text: "hello ada" });
    expect(r.stderr).toBe("");
  });

  // A user's strict ESM project. skipLibCheck false checks our declarations as a consumer's tsc sees them;
  // noEmitOnError makes one tsc run both the type check and the build (tsc is ~5-13 s a run here).
  const tsconfig = (files: string[], skipLibCheck: boolean) =>
    JSON.stringify({
      compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", skipLibCheck, noEmitOnError: true, types: ["node"], outDir: "out" },
      files,
    });
  const contract = `import { connect, createAgent, defineCapability, z } from "@agentwire/sdk";
export const Add = defineCapability({
  name: "pack.add",
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  progress: z.object({ done: z.number() }),
});
`;

  it("TypeScript (strict, NodeNext): the contract's output type is inferred; the compiled program runs", async () => {
    write("ts/tsconfig.json", tsconfig(["main.ts"], false));
    write(
      "ts/main.ts",
      `${contract}
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

const url = process.env.AGENTWIRE_URL ?? "";
const agent = createAgent({ url, name: "adder" }).capability(Add, ({ a, b }, ctx) => {
  ctx.progress({ done: 1 });
  return { sum: a + b };
});
await agent.start();
const client = await connect({ url });
const handle = client.submit(Add, { a: 2, b: 3 });
const done: number[] = [];
for await (const p of handle.progress()) done.push(p.done);
const output = await handle;
const inferred: Equal<typeof output, { sum: number }> = true;
const id: string = await handle.id;
console.log(JSON.stringify({ sum: output.sum, done, inferred, id: id.length > 0 }));
await client.drain();
await agent.drain();
`,
    );
    const build = await tsc(["-p", "ts/tsconfig.json"]);
    expect(build.code, show(build)).toBe(0);
    expect(build.stdout).toBe("");
    const r = await node(["ts/out/main.js"]);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ sum: 5, done: [1], inferred: true, id: true });
  });

  it("TypeScript: a misspelled input key of a contract fails tsc, and the error names the key", async () => {
    write("bad/tsconfig.json", tsconfig(["bad.ts"], true));
    write(
      "bad/bad.ts",
      `${contract}
const client = await connect({ url: "ws://127.0.0.1:7420" });
await client.submit(Add, { a: 2, bee: 3 });
`,
    );
    const r = await tsc(["-p", "bad/tsconfig.json", "--noEmit"]);
    expect(r.code, show(r)).toBe(2); // tsc's exit code for type errors
    // One error, on the submit line: no overload takes the contract with that input (the nested detail names the key).
    expect(r.stdout.match(/error TS\d+/g), r.stdout).toEqual(["error TS2769"]);
    expect(r.stdout).toMatch(/bad\.ts\(10,\d+\): error TS2769: No overload matches this call/);
    expect(r.stdout).toContain("'bee' does not exist in type '{ a: number; b: number; }'");
  });

  it("importing @agentwire/sdk loads no Solana, OpenAI, OpenTelemetry, MCP or A2A module: the first three are not installed, the bridges' SDKs are, a plain client works, and no loaded path names any", async () => {
    for (const peer of ["@solana/web3.js", "openai", "@opentelemetry/api"]) expect(existsSync(join(project, "node_modules", peer)), peer).toBe(false);
    // ESM resolutions through a resolve hook, CommonJS loads from require.cache at exit: every module the process loaded.
    write(
      "record/hooks.mjs",
      `import { appendFileSync } from "node:fs";
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, resolved.url + "\\n");
  return resolved;
}
`,
    );
    write(
      "record/register.mjs",
      `import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";
const file = process.env.LOADED_LOG;
register("./hooks.mjs", import.meta.url, { data: { file } });
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => appendFileSync(file, Object.keys(cache).map((f) => pathToFileURL(f).href + "\\n").join("")));
`,
    );
    write(
      "client.mjs",
      `import { connect } from "@agentwire/sdk";
const client = await connect({ url: process.env.AGENTWIRE_URL });
console.log(JSON.stringify({ id: client.id, agents: Array.isArray(await client.agents()) }));
await client.close();
`,
    );
    const log = join(project, "loaded.log");
    const r = await node(["--import", "./record/register.mjs", "client.mjs"], { LOADED_LOG: log });
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ agents: true });
    const loaded = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))];
    // The log is complete enough to mean something: the SDK, the wire package, ws (CommonJS) and zod are in
    // it, and the packages' `imports` maps (#transport, #async-context, #utf8) chose their Node builds.
    for (const part of [
      "/node_modules/@agentwire/sdk/dist/src/index.js",
      "/node_modules/@agentwire/sdk/dist/src/transport-node.js",
      "/node_modules/@agentwire/sdk/dist/src/async-context-node.js",
      "/node_modules/@agentwire/wire/dist/src/utf8-node.js",
      "/node_modules/ws/lib/",
      "/node_modules/zod/",
    ]) {
      expect(loaded.some((u) => u.includes(part)), part).toBe(true);
    }
    expect(loaded.filter((u) => /@solana|openai|@opentelemetry|@modelcontextprotocol|@a2a-js|@agentwire\/(mcp|a2a)\//i.test(u))).toEqual([]);
    // Installed, so the check above means something for them.
    for (const bridge of ["@modelcontextprotocol/sdk", "@a2a-js/sdk"]) expect(existsSync(join(project, "node_modules", bridge)), bridge).toBe(true);

    // The subpaths are where those libraries live: without the optional peer installed, they say which one is missing.
    for (const [subpath, peer] of [["solana", "@solana/web3.js"], ["llm", "openai"], ["otel", "@opentelemetry/api"]] as const) {
      const sub = await node(["--input-type=module", "-e", `await import("@agentwire/sdk/${subpath}")`]);
      expect(sub.code, show(sub)).toBe(1);
      expect(sub.stderr).toContain("ERR_MODULE_NOT_FOUND");
      expect(sub.stderr).toContain(`'${peer}'`);
    }
  });
});
