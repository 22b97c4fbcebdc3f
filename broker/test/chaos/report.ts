/**
 * The chaos run's accounting: from what the client received (client.ts), what the agents executed
 * (their EXEC lines) and when the faults happened, the invariants per task key and a markdown table.
 *
 * Invariants (a key is one task as the client sees it: one idempotency key):
 *   I1  results delivered per key: exactly 1 (no key answered twice)
 *   I2  foreign results: 0 (output.key ≠ key, a result for a task id no `accepted` named, a task id
 *       accepted for two keys, an execution of a key the client never made)
 *   I3  unanswered keys at the end: 0
 *   I4  executions per key ≤ max_attempts (and no attempt number above it)
 *   I5  no attempt number executed twice for one key
 *   I6  more than one execution only after an agent or broker failure: a re-run key's executions
 *       overlap a fault of an agent or a broker, or an eviction the brokers logged (TASK-18, TASK-22);
 *       a Redis fault alone explains none
 *   I7  no error result but agent_lost at the last attempt (TASK-22). The agents never fail a task,
 *       no one cancels, every fault leaves another broker of the mesh to hand work to (SHUT-5), and an
 *       accepted task never ends `no_agents` or `internal` (TASK-13 has no such transition). Nor
 *       deadline_exceeded: work takes ≤ 50 ms and every fault recovers within seconds, so a task that
 *       reaches its 30 s deadline is one the mesh lost and only the origin's deadline ended.
 */
import type { KeyRecord, StrayResult } from "./client.js";

export interface Exec {
  /** Agent label and incarnation, e.g. `B0#2`. */
  agent: string;
  broker: string;
  taskId: string;
  attempt: number;
  key: string;
  at: number;
}

export interface FaultRecord {
  n: number;
  name: string;
  kind: "agent" | "broker" | "redis";
  at: number;
  /** The faulty part is back (restarted, continued); for a kill without restart, the kill. */
  restoredAt: number;
  /** First ok result of a key first submitted after the fault. */
  servedAt: number | undefined;
  /** A lists every agent's live registration as ready and the client is registered. */
  fullAt: number | undefined;
  note: string;
}

export interface Eviction {
  broker: string;
  agentId: string;
  at: number;
}

export interface ChaosData {
  store: string;
  storeNote: string;
  durationMs: number;
  inflight: number;
  drainMs: number;
  livenessMs: number;
  /** After a fault's recovery, how long its effects (reclaims, evictions, late results) may still show. */
  settleMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  taskTimeoutMs: number;
  maxAttempts: number;
  agentsPerBroker: number;
  startedAt: number;
  endedAt: number;
  keys: KeyRecord[];
  strays: StrayResult[];
  sharedTaskIds: { taskId: string; keys: [string, string] }[];
  otherErrors: string[];
  connections: { n: number; url: string; registeredAt: number }[];
  brokerUrls: Record<string, string>;
  execs: Exec[];
  evictions: Eviction[];
  faults: FaultRecord[];
}

export interface Invariant {
  id: string;
  name: string;
  expected: string;
  measured: string;
  ok: boolean;
  /** Up to a few offending keys, one line each. */
  examples: string[];
}

export interface KeyHistory {
  key: string;
  problems: string[];
  created: string;
  accepted: string[];
  executions: string[];
  results: string[];
  refusals: string[];
}

export interface ChaosReport {
  store: string;
  ok: boolean;
  invariants: Invariant[];
  keys: number;
  executionsHistogram: Map<number, number>;
  errorResults: Map<string, number>;
  /** Per fault: [serves again ms, full strength ms] (undefined: not within the bound). */
  recovery: { name: string; servesAgainMs: number | undefined; fullStrengthMs: number | undefined }[];
  violatingKeys: KeyHistory[];
  /** Keys that violate nothing but were re-run, resubmitted or refused. */
  notableKeys: KeyHistory[];
  table: string;
}

const EXAMPLES = 3;

export function analyse(d: ChaosData): ChaosReport {
  const rel = (t: number): string => `${((t - d.startedAt) / 1000).toFixed(2)}s`;
  const brokerOfConn = new Map(d.connections.map((c) => [c.n, d.brokerUrls[c.url] ?? c.url]));
  const execsByKey = new Map<string, Exec[]>();
  for (const e of d.execs) {
    const list = execsByKey.get(e.key);
    if (list === undefined) execsByKey.set(e.key, [e]);
    else list.push(e);
  }
  for (const list of execsByKey.values()) list.sort((a, b) => a.at - b.at);
  const keyed = new Map(d.keys.map((k) => [k.key, k]));
  const unknownExecs = d.execs.filter((e) => !keyed.has(e.key));

  // Windows in which a re-run is expected: an agent or broker fault until it settled (reclaim
  // needs 3 x liveness after the last refresh), an eviction from the heartbeat timeout before it.
  const settle = d.settleMs;
  const windows: { from: number; to: number; what: string }[] = [];
  for (const f of d.faults) {
    if (f.kind === "redis") continue;
    const end = Math.max(f.restoredAt, f.servedAt ?? f.restoredAt, f.fullAt ?? f.restoredAt);
    windows.push({ from: f.at, to: end + settle, what: `fault ${f.n}` });
  }
  for (const e of d.evictions) windows.push({ from: e.at - d.heartbeatTimeoutMs, to: e.at + settle, what: `eviction on ${e.broker}` });
  const phaseOf = (t: number): number => {
    let n = 0;
    for (const f of d.faults) if (f.at <= t) n = f.n;
    return n;
  };

  const problems = new Map<string, string[]>();
  const flag = (key: string, what: string): void => {
    const list = problems.get(key);
    if (list === undefined) problems.set(key, [what]);
    else if (!list.includes(what)) list.push(what);
  };
  const perPhase = (): number[] => new Array<number>(d.faults.length + 1).fill(0);
  const phaseErrors = perPhase();
  const phaseReruns = perPhase();
  const phaseRepeats = perPhase();
  const phaseUnanswered = perPhase();
  const phaseDuplicates = perPhase();
  /** Longest time from a key's first submit to its first result, by the phase it was first submitted in. */
  const phaseLongest = perPhase();

  let twice = 0;
  let unanswered = 0;
  let foreignOutput = 0;
  let otherTaskOutput = 0;
  let wrongRef = 0;
  let overMax = 0;
  let repeatedAttempt = 0;
  let unexplained = 0;
  let badErrors = 0;
  let resubmits = 0;
  let resubmitDuplicate = 0;
  let resubmitNew = 0;
  const histogram = new Map<number, number>();
  const errorResults = new Map<string, number>();
  const badErrorCodes = new Map<string, number>();
  const refusals = new Map<string, number>();

  for (const k of d.keys) {
    const results = k.results;
    if (results.length === 0) {
      unanswered++;
      flag(k.key, "unanswered");
      phaseUnanswered[phaseOf(k.accepted[k.accepted.length - 1]?.at ?? k.createdAt)]!++;
    } else if (results.length > 1) {
      twice++;
      flag(k.key, `${results.length} results`);
      phaseDuplicates[phaseOf(results[1]!.at)]!++;
    }
    if (results.length > 0 && k.firstSentAt > 0) {
      // A wait belongs to the first fault that happened while the key was open (or shortly before its
      // first submit: a task sent just after a kill still meets its effects), else to its submit's phase.
      const end = results[0]!.at;
      const p = d.faults.find((f) => f.at >= k.firstSentAt - settle && f.at <= end)?.n ?? phaseOf(k.firstSentAt);
      phaseLongest[p] = Math.max(phaseLongest[p]!, end - k.firstSentAt);
    }
    for (const r of results) {
      if (r.ok && r.outputKey !== k.key) {
        foreignOutput++;
        flag(k.key, `foreign result (output.key ${r.outputKey ?? "none"})`);
      }
      if (r.ok && r.outputTaskId !== undefined && r.outputTaskId !== r.taskId) otherTaskOutput++;
      if (!r.refMatches) {
        wrongRef++;
        flag(k.key, "foreign ref (a result whose ref is not one of this key's submits)");
      }
      if (!r.ok) {
        const code = r.code ?? "?";
        errorResults.set(code, (errorResults.get(code) ?? 0) + 1);
        phaseErrors[phaseOf(r.at)]!++;
        if (!(code === "agent_lost" && r.attempt === d.maxAttempts)) {
          badErrors++;
          badErrorCodes.set(code, (badErrorCodes.get(code) ?? 0) + 1);
          flag(k.key, `error result ${code}`);
        }
      }
    }
    for (const r of k.refusals) refusals.set(r.code, (refusals.get(r.code) ?? 0) + 1);
    // Resubmits after a reconnect: the accepted frames after the first.
    for (const a of k.accepted.slice(1)) {
      resubmits++;
      if (a.duplicate) resubmitDuplicate++;
      else resubmitNew++;
    }

    const execs = execsByKey.get(k.key) ?? [];
    histogram.set(execs.length, (histogram.get(execs.length) ?? 0) + 1);
    if (execs.length > d.maxAttempts || execs.some((e) => e.attempt > d.maxAttempts)) {
      overMax++;
      flag(k.key, `${execs.length} executions`);
    }
    const seen = new Set<number>();
    let repeated: Exec | undefined;
    for (const e of execs) {
      if (seen.has(e.attempt) && repeated === undefined) repeated = e;
      seen.add(e.attempt);
    }
    if (repeated !== undefined) {
      repeatedAttempt++;
      flag(k.key, `attempt ${repeated.attempt} executed twice`);
      phaseRepeats[phaseOf(repeated.at)]!++;
    }
    if (execs.length > 1) {
      const [first, last] = [execs[0]!.at, execs[execs.length - 1]!.at];
      phaseReruns[phaseOf(execs[1]!.at)]!++;
      if (!windows.some((w) => w.from <= last && w.to >= first)) {
        unexplained++;
        flag(k.key, "re-run with no agent or broker failure");
      }
    }
  }

  const count = (m: Map<string, number>): string =>
    m.size === 0 ? "none" : [...m.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", ");
  const examplesFor = (match: (p: string) => boolean): string[] =>
    [...problems.entries()].filter(([, ps]) => ps.some(match)).slice(0, EXAMPLES).map(([key]) => oneLine(keyed.get(key)!, execsByKey.get(key) ?? [], rel, brokerOfConn));
  const answeredOnce = d.keys.filter((k) => k.results.length === 1).length;

  const invariants: Invariant[] = [
    {
      id: "I1",
      name: "results delivered per task",
      expected: "exactly 1",
      measured: `${answeredOnce} of ${d.keys.length} keys once; ${twice} more than once`,
      ok: twice === 0,
      examples: examplesFor((p) => / results$/.test(p)),
    },
    {
      id: "I2",
      name: "foreign results (output.key ≠ key + result for a task id never accepted + task id accepted for two keys + result ref not the key's)",
      expected: "0",
      measured: `${foreignOutput} + ${d.strays.length} + ${d.sharedTaskIds.length} + ${wrongRef}${unknownExecs.length > 0 ? `; ${unknownExecs.length} executions of unknown keys` : ""}`,
      ok: foreignOutput === 0 && d.strays.length === 0 && d.sharedTaskIds.length === 0 && wrongRef === 0 && unknownExecs.length === 0,
      examples: [
        ...examplesFor((p) => p.startsWith("foreign")),
        ...d.strays.slice(0, EXAMPLES).map((s) => `result for never-accepted task ${s.taskId} (ref ${s.ref ?? "-"}, ok ${s.ok}) at ${rel(s.at)}`),
        ...d.sharedTaskIds.slice(0, EXAMPLES).map((s) => `task ${s.taskId} accepted for ${s.keys.join(" and ")}`),
      ],
    },
    {
      id: "I3",
      name: `unanswered at the end (after a ${d.drainMs / 1000} s drain)`,
      expected: "0",
      measured: String(unanswered),
      ok: unanswered === 0,
      examples: examplesFor((p) => p === "unanswered"),
    },
    {
      id: "I4",
      name: "executions per key",
      expected: `≤ ${d.maxAttempts}`,
      measured: `max ${Math.max(0, ...histogram.keys())}; ${overMax} keys above`,
      ok: overMax === 0,
      examples: examplesFor((p) => p.endsWith(" executions")),
    },
    {
      id: "I5",
      name: "same attempt number executed twice for one key",
      expected: "0",
      measured: String(repeatedAttempt),
      ok: repeatedAttempt === 0,
      examples: examplesFor((p) => p.includes("executed twice")),
    },
    {
      id: "I6",
      name: "re-runs outside every agent/broker failure window",
      expected: "0",
      measured: `${unexplained} (of ${[...histogram.entries()].filter(([n]) => n > 1).reduce((s, [, c]) => s + c, 0)} re-run keys)`,
      ok: unexplained === 0,
      examples: examplesFor((p) => p.startsWith("re-run")),
    },
    {
      id: "I7",
      name: "error results (but agent_lost at the last attempt)",
      expected: "0",
      measured: badErrors === 0 ? "0" : `${badErrors} (${count(badErrorCodes)})`,
      ok: badErrors === 0,
      examples: examplesFor((p) => p.startsWith("error result")),
    },
  ];

  const recovery = d.faults.map((f) => ({
    name: f.name,
    servesAgainMs: f.servedAt === undefined ? undefined : f.servedAt - f.at,
    fullStrengthMs: f.fullAt === undefined ? undefined : f.fullAt - f.at,
  }));

  const ms = (v: number | undefined): string => (v === undefined ? "**never**" : `${v} ms`);
  const lines: string[] = [];
  lines.push(`### Mesh chaos run — ${d.store} (${d.storeNote})`);
  lines.push("");
  lines.push(
    `${(d.endedAt - d.startedAt) / 1000 | 0} s (planned ${d.durationMs / 1000} s + recovery + drain), ${d.inflight} tasks in flight, brokers A (client) B C, ` +
      `${d.agentsPerBroker} agent process(es) on each of B and C; liveness ${d.livenessMs} ms, heartbeat ${d.heartbeatIntervalMs}/${d.heartbeatTimeoutMs} ms, ` +
      `task timeout ${d.taskTimeoutMs / 1000} s, max_attempts ${d.maxAttempts}`,
  );
  lines.push("");
  lines.push("| # | fault | at | note | serves again | full strength | longest wait | error results | re-run keys | attempt run twice | answered twice | unanswered |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  lines.push(`| 0 | (before the first fault) | 0.00s | | | | ${phaseLongest[0]} ms | ${phaseErrors[0]} | ${phaseReruns[0]} | ${phaseRepeats[0]} | ${phaseDuplicates[0]} | ${phaseUnanswered[0]} |`);
  for (const f of d.faults) {
    lines.push(
      `| ${f.n} | ${f.name} | ${rel(f.at)} | ${f.note === "" ? "" : f.note} | ${ms(f.servedAt === undefined ? undefined : f.servedAt - f.at)} | ` +
        `${ms(f.fullAt === undefined ? undefined : f.fullAt - f.at)} | ${phaseLongest[f.n]} ms | ${phaseErrors[f.n]} | ${phaseReruns[f.n]} | ${phaseRepeats[f.n]} | ${phaseDuplicates[f.n]} | ${phaseUnanswered[f.n]} |`,
    );
  }
  lines.push("");
  lines.push(
    "A row counts what happened from its fault until the next fault: serves again = from the fault to the first ok result of a task first submitted after it; " +
      "full strength = until A lists every agent as ready and the client is registered; longest wait = the slowest answer (first submit to first result) of the keys whose wait the fault " +
      "overlapped (or preceded by less than the settle time), each key counted at its first such fault; error results and answered twice by the result's arrival, re-run keys by the second execution, attempt run twice by the repeat, unanswered by the last accepted.",
  );
  lines.push("");
  lines.push("| | invariant | expected | measured | |");
  lines.push("|---|---|---|---|---|");
  for (const i of invariants) lines.push(`| ${i.id} | ${i.name} | ${i.expected} | ${i.measured} | ${i.ok ? "ok" : "**FAIL**"} |`);
  lines.push("");
  lines.push(`| executions per key | ${[...histogram.keys()].sort((a, b) => a - b).join(" | ")} |`);
  lines.push(`|---|${[...histogram.keys()].map(() => "---").join("|")}|`);
  lines.push(`| keys | ${[...histogram.keys()].sort((a, b) => a - b).map((n) => histogram.get(n)).join(" | ")} |`);
  lines.push("");
  lines.push(`- keys: ${d.keys.length}; executions: ${d.execs.length}; error results by code: ${count(errorResults)}`);
  lines.push(`- submits refused (then sent again) by code: ${count(refusals)}`);
  lines.push(`- resubmits after a reconnect: ${resubmits} (accepted as a duplicate of the first task: ${resubmitDuplicate}; as a new task: ${resubmitNew})`);
  lines.push(`- client connections: ${d.connections.filter((c) => c.registeredAt > 0).map((c) => brokerOfConn.get(c.n)).join(", ")}`);
  lines.push(`- evictions the brokers logged: ${d.evictions.length === 0 ? "none" : d.evictions.map((e) => `${e.agentId} on ${e.broker} at ${rel(e.at)}`).join(", ")}`);
  if (otherTaskOutput > 0) lines.push(`- ok results carrying the output of another task id of the same key: ${otherTaskOutput}`);
  if (d.otherErrors.length > 0) lines.push(`- other errors the client received: ${d.otherErrors.length} (first: ${d.otherErrors[0]})`);
  const failing = invariants.filter((i) => !i.ok);
  if (failing.length > 0) {
    lines.push("");
    lines.push("Examples (per key: accepted task ids with the broker and whether a duplicate; executions as task#attempt on agent; results):");
    for (const i of failing) for (const e of i.examples) lines.push(`- ${i.id}: ${e}`);
  }

  const violatingKeys: KeyHistory[] = [...problems.entries()].map(([key, ps]) => history(keyed.get(key), key, ps, execsByKey.get(key) ?? [], rel, brokerOfConn));
  // Keys out of the ordinary without violating anything (re-run, resubmitted, refused): for diagnosis.
  const notableKeys: KeyHistory[] = d.keys
    .filter((k) => !problems.has(k.key) && ((execsByKey.get(k.key)?.length ?? 0) !== 1 || k.accepted.length !== 1 || k.refusals.length > 0))
    .map((k) => history(k, k.key, [], execsByKey.get(k.key) ?? [], rel, brokerOfConn));
  for (const e of unknownExecs) violatingKeys.push({ key: e.key, problems: ["execution of an unknown key"], created: "", accepted: [], executions: [`${e.taskId}#${e.attempt} on ${e.agent} (${e.broker}) at ${rel(e.at)}`], results: [], refusals: [] });

  return {
    store: d.store,
    ok: failing.length === 0,
    invariants,
    keys: d.keys.length,
    executionsHistogram: histogram,
    errorResults,
    recovery,
    violatingKeys,
    notableKeys,
    table: lines.join("\n"),
  };
}

function history(k: KeyRecord | undefined, key: string, problems: string[], execs: Exec[], rel: (t: number) => string, brokerOfConn: Map<number, string>): KeyHistory {
  return {
    key,
    problems,
    created: k === undefined ? "" : rel(k.createdAt),
    accepted: (k?.accepted ?? []).map((a) => `${a.taskId} on ${brokerOfConn.get(a.conn)} (conn ${a.conn}${a.duplicate ? ", duplicate" : ""}) at ${rel(a.at)}`),
    executions: execs.map((e) => `${e.taskId}#${e.attempt} on ${e.agent} (${e.broker}) at ${rel(e.at)}`),
    results: (k?.results ?? []).map((r) => `${r.taskId} ${r.ok ? "ok" : `${r.code} (${r.message ?? ""})`} attempt ${r.attempt ?? "-"} on ${brokerOfConn.get(r.conn)} (conn ${r.conn}) at ${rel(r.at)}${r.ok && r.outputKey !== key ? ` output.key ${r.outputKey}` : ""}`),
    refusals: (k?.refusals ?? []).map((r) => `${r.code} at ${rel(r.at)}`),
  };
}

function oneLine(k: KeyRecord, execs: Exec[], rel: (t: number) => string, brokerOfConn: Map<number, string>): string {
  const acc = k.accepted.map((a) => `${a.taskId}@${brokerOfConn.get(a.conn)}${a.duplicate ? "(dup)" : ""} ${rel(a.at)}`).join(", ");
  const ex = execs.map((e) => `${e.taskId}#${e.attempt} ${e.agent} ${rel(e.at)}`).join(", ");
  const res = k.results.map((r) => `${r.ok ? "ok" : `${r.code} "${(r.message ?? "").slice(0, 100)}"`} ${rel(r.at)}`).join(", ");
  return `\`${k.key}\` accepted [${acc || "none"}]; executed [${ex || "never"}]; results [${res || "none"}]`;
}
