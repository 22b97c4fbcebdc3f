/** Regenerates protocol/schema/*.json and the generated blocks of protocol/SPEC.md. */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { schemaFiles, syncSpec } from "../src/index.js";
import { protocolDir } from "./paths.js";
import { writeVectors } from "./vectors.js";

const schemaDir = join(protocolDir, "schema");
mkdirSync(schemaDir, { recursive: true });
const files = schemaFiles();
for (const name of readdirSync(schemaDir)) if (name.endsWith(".json") && !files.has(name)) rmSync(join(schemaDir, name));
for (const [name, text] of files) writeFileSync(join(schemaDir, name), text);

writeVectors();

const specPath = join(protocolDir, "SPEC.md");
const spec = readFileSync(specPath, "utf8");
writeFileSync(specPath, syncSpec(spec));
process.stderr.write(`wrote ${files.size} schemas and synced SPEC.md\n`);
