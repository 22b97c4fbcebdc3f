/**
 * Code blocks of a document that a test outside sdk/test/docs.test.ts runs: those marked right above
 * their fence with `<!-- run by PATH -->` naming that test (docs.test.ts checks the mark names a test
 * that exists and mentions the document).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./broker.js";

/** The code of each block of `doc` (a path from the repo root) marked `<!-- run by test -->`, in order. */
export function blocksRunBy(doc: string, test: string): string[] {
  const lines = readFileSync(join(repoRoot(), doc), "utf8").split("\n");
  const blocks: string[] = [];
  let mark: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    const comment = /^<!--\s*(.*?)\s*-->$/.exec(line);
    if (comment !== null) {
      mark = comment[1];
      continue;
    }
    if (/^```\S*$/.test(line)) {
      let end = i + 1;
      while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
      if (mark === `run by ${test}`) blocks.push(lines.slice(i + 1, end).join("\n") + "\n");
      i = end;
    }
    if (line !== "") mark = undefined;
  }
  return blocks;
}
