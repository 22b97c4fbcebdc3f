/**
 * The docs run: every fenced code block of the READMEs below is run, or marked right above it with an
 * HTML comment that says why not (`<!-- not run: REASON -->`) or which test runs it (`<!-- run by
 * PATH -->`). A block neither run nor marked fails this test.
 *
 * How a block runs, with the port 7420 replaced by a free one (AGENTWIRE_URL names it too), against a
 * broker the test starts on that port unless the block starts its own (`broker/dist/src/bin.js`):
 * - `sh`: bash -e, in the document's folder (the repo root for examples/README.md, whose commands are
 *   run from there); whatever it left running in the background is stopped after it.
 * - `js`: as an .mjs file inside the sdk package, where `@agentwire/sdk` (and its dev dependencies:
 *   `@agentwire/wire`, pino, @solana/web3.js, openai) resolve as in a user's project.
 * - `ts`: the same, type-checked first (strict, NodeNext: one tsc run per document), then the emitted JS runs.
 * Each must exit 0, and what each trailing comment promises with `→ TEXT` (`// → TEXT`, `# → TEXT`)
 * must appear in its output, `…` standing for any text.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort, repoRoot, startBroker, waitFor, type BrokerProcess } from "@agentwire/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, exec, show, type Ran } from "./exec.js";
import { HAVE_BROKER } from "./helpers.js";

const ROOT = repoRoot();
/** Each document, and where its shell blocks run (examples/README.md's commands are run from the root). */
const DOCS: Record<string, string> = { "README.md": ".", "sdk/README.md": "sdk", "packages/wire/README.md": "packages/wire", "examples/README.md": "." };
const LANGS: Record<string, "sh" | "js" | "ts"> = { sh: "sh", bash: "sh", shell: "sh", js: "js", javascript: "js", mjs: "js", ts: "ts", typescript: "ts" };
const BLOCK_TIMEOUT_MS = 60_000;
const TSC = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");

interface Block {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  /** The HTML comment right above the fence, if any. */
  mark: string | undefined;
}

function blocksOf(doc: string, markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    let above = start - 1;
    while (above >= 0 && lines[above]!.trim() === "") above--;
    const comment = above >= 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[above]!.trim()) : null;
    blocks.push({ doc, line: start + 1, lang: open[1]!, code: lines.slice(start + 1, end).join("\n") + "\n", mark: comment?.[1] });
    i = end;
  }
  return blocks;
}

/** Why a block is not run here (marked), or undefined for a block this test runs; throws for a block that is neither. */
function reasonNotRun(b: Block): string | undefined {
  const where = `${b.doc}:${b.line}`;
  if (b.mark !== undefined) {
    const notRun = /^not run: (.{10,})$/.exec(b.mark);
    if (notRun !== null) return notRun[1];
    const runBy = /^run by (\S+)$/.exec(b.mark);
    if (runBy !== null) {
      const test = join(ROOT, runBy[1]!);
      if (!existsSync(test)) throw new Error(`${where}: marked as run by ${runBy[1]}, which does not exist`);
      if (!readFileSync(test, "utf8").includes(b.doc.split("/").at(-1)!)) throw new Error(`${where}: ${runBy[1]} does not mention ${b.doc}`);
      return `run by ${runBy[1]}`;
    }
    throw new Error(`${where}: unknown mark <!-- ${b.mark} -->; use "not run: REASON" or "run by PATH"`);
  }
  if (LANGS[b.lang] === undefined) throw new Error(`${where}: a \`${b.lang || "plain"}\` block is neither run nor marked <!-- not run: REASON -->`);
  return undefined;
}

/** The outputs a block promises: `→ TEXT` in a trailing `//` or `#` comment, `…` matching anything. */
function promised(code: string): RegExp[] {
  return [...code.matchAll(/(?:\/\/|#)[^\n→]*→ (.+)$/gm)].map(
    (m) => new RegExp(m[1]!.trim().split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*?")),
  );
}

const slug = (b: Block): string => `${b.doc.replace(/[^a-z0-9]+/gi, "-")}-${b.line}`;

/** Runs bash -e on `code` in its own process group; stops what it left in the background once it exits. */
async function runShell(code: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const child = spawn("bash", ["-e", "-o", "pipefail", "-c", code], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const group = -child.pid!;
  const exit = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), BLOCK_TIMEOUT_MS);
    child.once("exit", (c, signal) => (clearTimeout(timer), resolve(c ?? signal ?? -1)));
  });
  const alive = (): boolean => {
    try {
      process.kill(group, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) {
    process.kill(group, "SIGTERM");
    await waitFor(() => (alive() ? undefined : true), 10_000, "the block's background processes to stop").catch(() => process.kill(group, "SIGKILL"));
  }
  return { code: exit, stdout, stderr };
}

describe.runIf(HAVE_BROKER)("docs: every code block runs, or says why not", () => {
  const all = Object.keys(DOCS).flatMap((doc) => blocksOf(doc, readFileSync(join(ROOT, doc), "utf8")));
  // Inside the sdk package: `@agentwire/sdk` resolves to itself, its dependencies from sdk/node_modules.
  let dir = "";
  const diagnostics = new Map<string, string>();
  let tscOutput = "";

  beforeAll(async () => {
    dir = mkdtempSync(join(ROOT, "sdk", ".docs-"));
    const ts = all.filter((b) => LANGS[b.lang] === "ts" && b.mark === undefined);
    if (ts.length === 0) return;
    for (const b of ts) writeFileSync(join(dir, `${slug(b)}.ts`), b.code);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", skipLibCheck: true, types: ["node"], outDir: "out" },
        files: ts.map((b) => `${slug(b)}.ts`),
      }),
    );
    const r = await exec(process.execPath, [TSC, "-p", dir], { cwd: dir, timeoutMs: 120_000 });
    tscOutput = show(r);
    for (const b of ts) diagnostics.set(slug(b), r.stdout.split("\n").filter((l) => l.startsWith(`${slug(b)}.ts(`)).join("\n"));
  }, 150_000);

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("every block is run here, or marked with a reason or the test that runs it", () => {
    const problems: string[] = [];
    for (const b of all) {
      try {
        reasonNotRun(b);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    expect(problems).toEqual([]);
    expect(all.filter((b) => b.mark === undefined).length).toBeGreaterThan(0);
  });

  for (const b of all) {
    let skip: string | undefined;
    try {
      skip = reasonNotRun(b);
    } catch {
      continue; // reported by the test above
    }
    if (skip !== undefined) continue;
    it(`${b.doc}:${b.line} (${b.lang})`, async () => {
      const port = await freePort();
      const code = b.code.replaceAll("7420", String(port));
      const url = `ws://127.0.0.1:${port}`;
      const env = cleanEnv({ AGENTWIRE_URL: url });
      for (const k of Object.keys(env)) if (k.startsWith("AGENTWIRE_") && k !== "AGENTWIRE_URL" && k !== "AGENTWIRE_TEST_VERBOSE") delete env[k];
      let broker: BrokerProcess | undefined;
      if (!code.includes("broker/dist/src/bin.js")) broker = await startBroker(["--shutdown-grace-ms", "300"], { port });
      try {
        let r: Ran;
        const lang = LANGS[b.lang]!;
        if (lang === "sh") {
          r = await runShell(code, join(ROOT, DOCS[b.doc]!), env);
        } else {
          let file = join(dir, `${slug(b)}.mjs`);
          if (lang === "ts") {
            expect(diagnostics.get(slug(b)), `tsc: ${tscOutput}`).toBe("");
            file = join(dir, "out", `${slug(b)}.js`);
            // tsc checked the block as written; its output gets the free port.
            writeFileSync(file, readFileSync(file, "utf8").replaceAll("7420", String(port)));
          } else {
            writeFileSync(file, code);
          }
          r = await exec(process.execPath, [file], { cwd: dir, env, timeoutMs: BLOCK_TIMEOUT_MS });
        }
        expect(r.code, show(r)).toBe(0);
        const output = r.stdout + r.stderr;
        for (const re of promised(code)) expect(output, `${b.doc}:${b.line} promises ${re}\n${show(r)}`).toMatch(re);
      } finally {
        await broker?.stop();
      }
    }, BLOCK_TIMEOUT_MS + 30_000);
  }
});
