/** Runs cases one after the other, each with a fresh context, and turns outcomes into results. */
import { PeerError } from "@agentwire/testkit/peer";
import { Failure, Skip, type Case, type CaseResult, type Level } from "./case.js";

export interface Selection {
  /** Substring of the case id, or a /regex/ (also matched against title and spec ids). */
  filter?: string | undefined;
  /** Only cases of exactly this level. */
  level?: Level | undefined;
}

export function select<C>(cases: readonly Case<C>[], selection: Selection): Case<C>[] {
  const f = selection.filter;
  let test: (s: string) => boolean = () => true;
  if (f !== undefined && f !== "") {
    const m = /^\/(.*)\/([a-z]*)$/.exec(f);
    const re = m !== null ? new RegExp(m[1]!, m[2]) : undefined;
    test = re !== undefined ? (s) => re.test(s) : (s) => s.includes(f);
  }
  return cases.filter((c) => (selection.level === undefined || c.level === selection.level) && [c.id, c.title, ...c.spec].some(test));
}

export interface Context {
  dispose(): Promise<void>;
  /** Problems found outside the case's own checks (e.g. malformed frames); they fail the case. */
  violations(): string[];
}

export interface RunOptions {
  /** Hard limit per case. */
  caseTimeoutMs?: number;
  onStart?: (c: Case<never>) => void;
  onResult?: (r: CaseResult) => void;
}

export async function runCases<C extends Context>(cases: readonly Case<C>[], makeCtx: () => Promise<C> | C, options: RunOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    options.onStart?.(c as Case<never>);
    const started = Date.now();
    let status: CaseResult["status"] = "passed";
    let message: string | undefined;
    let ctx: C | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      ctx = await makeCtx();
      const limit = options.caseTimeoutMs ?? 60_000;
      const running = c.run(ctx);
      running.catch(() => undefined); // a case cut off by the time limit may still fail later
      await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Failure(`case did not finish within ${limit} ms`)), limit);
        }),
      ]);
      const v = ctx.violations();
      if (v.length > 0) throw new Failure(`malformed frames: ${v.slice(0, 3).join("; ")}`);
    } catch (err) {
      if (err instanceof Skip) status = "skipped";
      else status = "failed";
      message = err instanceof Failure || err instanceof PeerError || err instanceof Skip ? err.message : `unexpected: ${(err as Error)?.stack ?? String(err)}`;
    } finally {
      clearTimeout(timer);
      await ctx?.dispose().catch(() => undefined);
    }
    const result: CaseResult = { id: c.id, title: c.title, spec: c.spec, level: c.level, mode: c.mode, status, durationMs: Date.now() - started };
    if (message !== undefined) result.message = message;
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/** Exit status of a run: 1 when any MUST case failed. */
export function exitCode(results: readonly CaseResult[]): 0 | 1 {
  return results.some((r) => r.level === "MUST" && r.status === "failed") ? 1 : 0;
}
