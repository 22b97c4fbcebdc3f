#!/usr/bin/env node
// What a plain client pays for `import "@agentwire/sdk"`, before and after the light core: the SDK of
// an earlier commit and of this tree, each packed with its @agentwire/wire, installed with npm alone
// in a temp project; the packages npm installed, node_modules on disk, and the median time of
// `await import("@agentwire/sdk")` (in the process, and node's whole run) over interleaved runs.
// Run by hand after `pnpm build`; progress on stderr, a markdown table on stdout.
//   node sdk/scripts/measure-import.mjs [--before 4d05c8b] [--runs 21]
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const USAGE = "usage: node sdk/scripts/measure-import.mjs [--before REF] [--runs N]";
let args;
try {
  args = parseArgs({ options: { before: { type: "string", default: "4d05c8b" }, runs: { type: "string", default: "21" }, help: { type: "boolean" } } }).values;
} catch (err) {
  console.error(`measure-import: ${err.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(`${USAGE}\n  --before REF  the commit to compare with (default 4d05c8b, the last before the light core)\n  --runs N      imports timed per side (default 21)`);
  process.exit(0);
}
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`measure-import: --runs: expected a positive integer, got "${args.runs}"\n${USAGE}`);
  process.exit(2);
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const work = mkdtempSync(join(tmpdir(), "agentwire-measure-"));
const log = (msg) => process.stderr.write(`${msg}\n`);
const sh = (cmd, argv, cwd) => execFileSync(cmd, argv, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "NODE_OPTIONS"));

/** Packs wire and sdk of the tree at `root` into `dest`; returns the two tarball paths. */
function pack(root, dest) {
  return ["packages/wire", "sdk"].map((dir) => {
    const out = sh("pnpm", ["pack", "--pack-destination", dest], join(root, dir));
    return out.trim().split("\n").at(-1);
  });
}

/** The tree of `ref`, its wire and sdk built and packed (its sdk had no `files`: ship dist/src as now). */
function packBefore(ref) {
  const tree = join(work, "before-tree");
  mkdirSync(tree);
  log(`before: ${ref}: extracting, installing, building`);
  execFileSync("bash", ["-c", `git -C "${ROOT}" archive "${ref}" | tar -x -C "${tree}"`], { stdio: "inherit" });
  sh("pnpm", ["install", "--frozen-lockfile", "--prefer-offline", "--filter", "@agentwire/sdk..."], tree);
  sh("pnpm", ["exec", "tsc", "-b", "sdk"], tree);
  const pkgFile = join(tree, "sdk", "package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
  pkg.files ??= ["dist/src"];
  writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  return pack(tree, join(work, "before-packs"));
}

/** A temp project with the two tarballs installed by npm alone; its package count and size. */
function install(name, tarballs) {
  const project = join(work, name);
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: `measure-${name}`, private: true, type: "module" }));
  log(`${name}: npm install ${tarballs.map((t) => t.split("/").at(-1)).join(" ")}`);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs], { cwd: project, env, stdio: ["ignore", "ignore", "inherit"] });
  // Every package directory npm installed, our two included (the first line is the project itself).
  const packages = sh("npm", ["ls", "--all", "--parseable"], project).trim().split("\n").length - 1;
  const kib = Number(sh("du", ["-sk", "node_modules"], project).split("\t")[0]);
  return { name, project, packages, mib: kib / 1024 };
}

const IMPORT = 'const t = performance.now(); await import("@agentwire/sdk"); process.stdout.write(String(performance.now() - t));';
function timeImport(project) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", IMPORT], { cwd: project, env, encoding: "utf8" });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`import failed in ${project}:\n${r.stderr}`);
  return { importMs: Number(r.stdout), wallMs: wall };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  log("after: packing this tree (built by pnpm build)");
  const sides = [install("before", packBefore(args.before)), install("after", pack(ROOT, join(work, "after-packs")))];
  for (const side of sides) timeImport(side.project); // warm the file cache once
  const samples = new Map(sides.map((s) => [s.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const side of sides) samples.get(side.name).push(timeImport(side.project));
    log(`run ${i + 1}/${runs}`);
  }
  const cpu = sh("lscpu", []).match(/^Model name:\s*(.+)$/m)?.[1] ?? cpus()[0]?.model ?? "unknown CPU";
  console.log(`${cpu}, ${cpus().length} CPUs, Node ${process.version}; median of ${runs} interleaved runs per side\n`);
  console.log("| sdk | packages installed | node_modules | `await import(\"@agentwire/sdk\")` | `node -e` with that import, whole run |");
  console.log("|---|---:|---:|---:|---:|");
  for (const side of sides) {
    const s = samples.get(side.name);
    const label = side.name === "before" ? `before (${args.before})` : "after (this tree)";
    console.log(`| ${label} | ${side.packages} | ${side.mib.toFixed(1)} MiB | ${median(s.map((x) => x.importMs)).toFixed(0)} ms | ${median(s.map((x) => x.wallMs)).toFixed(0)} ms |`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
