/** Reads the normative statements of SPEC.md: every `- [ID] ...` bullet and its level keywords. */

export interface Statement {
  id: string;
  text: string;
  /** The strongest BCP 14 keyword in the statement, if any. */
  level: "MUST" | "SHOULD" | "MAY" | undefined;
}

export function parseSpec(markdown: string): Statement[] {
  const out: Statement[] = [];
  for (const part of markdown.split(/\n(?=- \[[A-Z]+-\d+\])/)) {
    const m = /^- \[([A-Z]+-\d+)\]/.exec(part);
    if (m === null) continue;
    // A statement runs until a blank line, a table or a generated block.
    const text = part.split(/\n\n|\n<!--|\n\|/)[0]!;
    const level = /\b(MUST|SHALL|REQUIRED)\b/.test(text) ? "MUST" : /\b(SHOULD|RECOMMENDED)\b/.test(text) ? "SHOULD" : /\b(MAY|OPTIONAL)\b/.test(text) ? "MAY" : undefined;
    out.push({ id: m[1]!, text, level });
  }
  return out;
}
