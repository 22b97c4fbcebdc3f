/** Result formats: a readable table, JSON and JUnit XML. */
import type { CaseResult } from "./case.js";

export function table(results: readonly CaseResult[]): string {
  const rows = results.map((r) => [r.status === "passed" ? "PASS" : r.status === "failed" ? "FAIL" : "SKIP", r.level, r.id, r.spec.join(" "), r.message ?? ""]);
  const head = ["result", "level", "case", "spec", "detail"];
  const widths = head.slice(0, 4).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.replace(/\s+/g, " ").slice(0, 200))).join("  ").trimEnd();
  const count = (s: CaseResult["status"]) => results.filter((r) => r.status === s).length;
  const mustFailed = results.filter((r) => r.level === "MUST" && r.status === "failed").length;
  return [line(head), ...rows.map(line), "", `${results.length} cases: ${count("passed")} passed, ${count("failed")} failed (${mustFailed} MUST), ${count("skipped")} skipped`, ""].join("\n");
}

export function json(results: readonly CaseResult[]): string {
  return `${JSON.stringify({ version: 1, results }, null, 2)}\n`;
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

export function junit(results: readonly CaseResult[], suite = "agentwire-conformance"): string {
  const failures = results.filter((r) => r.status === "failed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  const time = results.reduce((t, r) => t + r.durationMs, 0) / 1000;
  const cases = results.map((r) => {
    const attrs = `classname="${esc(`${suite}.${r.mode}`)}" name="${esc(`${r.id} [${r.level}] ${r.spec.join(" ")}`)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.status === "passed") return `    <testcase ${attrs}/>`;
    const inner = r.status === "failed" ? `<failure message="${esc(r.message ?? "failed")}" type="${r.level}"/>` : `<skipped message="${esc(r.message ?? "skipped")}"/>`;
    return `    <testcase ${attrs}>${inner}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="${suite}" tests="${results.length}" failures="${failures}" skipped="${skipped}" time="${time.toFixed(3)}">\n${cases.join("\n")}\n  </testsuite>\n</testsuites>\n`;
}
