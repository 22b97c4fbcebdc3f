#!/usr/bin/env node
/** agentwire-conformance: judge a broker or an agent over the wire. */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LEVELS, type CaseResult, type Level } from "./case.js";
import { json, junit, table } from "./report.js";
import { exitCode, type RunOptions, type Selection } from "./runner.js";
import { runAgentSuite, runBrokerSuite } from "./suites.js";

const HELP = `usage:
  agentwire-conformance broker --url ws://host:port/ [--http http://host:port] [--agent-url ws://host:port/] [options]
  agentwire-conformance agent [options] -- <command> [args...]

broker mode runs every broker case against a running broker. Cases that need eviction or short
deadlines skip when registered.heartbeat_timeout_ms is over 5 s: start the broker with a short
heartbeat timeout (e.g. --heartbeat-interval-ms 300 --heartbeat-timeout-ms 1500) to run them.
The HTTP API defaults to the WebSocket URL's host and port (SPEC §15). For a mesh, --agent-url names
another broker of it: the cases' agents register there and their clients on --url, so every task
crosses brokers; each agent is waited for until a query on --url lists it (MESH-1), and the cases
that a MESH rule relaxes skip, citing it.

agent mode acts as a broker on a free loopback port and starts <command> once per case with
AGENTWIRE_URL set to it. The agent under test must:
  - register with these capabilities (any version):
      conformance.echo    output = input (the same MessagePack document)
      conformance.slow    input {ms, steps}: send \`steps\` progress frames, then wait \`ms\`
                          and succeed; stop early on cancel or when the task's deadline passes
      conformance.strict  input must be a map with an int \`n\` (output: anything);
                          else result ok=false with error.code "invalid_input"
  - heartbeat at the announced heartbeat_interval_ms (the suite announces 500 ms);
  - on goaway: finish in-flight tasks, send their results, then close with 1000.
See protocol/IMPLEMENTING.md.

options:
  --json             print results as JSON on stdout instead of the table
  --junit FILE       also write JUnit XML to FILE
  --filter S         only cases whose id, title or spec id contains S, or matches /regex/
  --level L          only cases of level MUST, SHOULD or MAY
  --timeout-ms N     default wait for one expected frame (default 5000)
  --verbose          echo the agent's output on stderr (agent mode)
  --help             print this help

exit status: 1 when a MUST case failed, 0 otherwise, 2 on bad usage.
`;

function usage(message: string): never {
  process.stderr.write(`agentwire-conformance: ${message} (see --help)\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        http: { type: "string" },
        "agent-url": { type: "string" },
        json: { type: "boolean" },
        junit: { type: "string" },
        filter: { type: "string" },
        level: { type: "string" },
        "timeout-ms": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const mode = positionals[0];
  if (mode !== "broker" && mode !== "agent") usage(mode === undefined ? "missing mode: broker or agent" : `unknown mode ${JSON.stringify(mode)}`);
  if (positionals.length > 1) usage(`unexpected argument ${JSON.stringify(positionals[1])}`);
  if (values.level !== undefined && !LEVELS.includes(values.level as Level)) usage(`--level must be MUST, SHOULD or MAY, not ${JSON.stringify(values.level)}`);
  const timeoutMs = values["timeout-ms"] === undefined ? undefined : Number(values["timeout-ms"]);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) usage("--timeout-ms must be a positive integer");
  if (values.filter?.startsWith("/") === true) {
    try {
      new RegExp(values.filter.replace(/^\/(.*)\/[a-z]*$/, "$1"));
    } catch {
      usage(`--filter ${values.filter} is not a valid regex`);
    }
  }
  const selection: Selection = { filter: values.filter, level: values.level as Level | undefined };
  const progress: RunOptions = {
    onResult: (r) => process.stderr.write(`${r.status === "passed" ? "✓" : r.status === "failed" ? "✗" : "-"} ${r.id} (${r.durationMs} ms)${r.status === "failed" ? `: ${r.message ?? ""}` : ""}\n`),
  };

  let results: CaseResult[];
  if (mode === "broker") {
    if (values.url === undefined) usage("broker mode needs --url ws://host:port/");
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      usage(`--url ${values.url} is not a URL`);
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") usage("--url must be ws:// or wss://");
    const http = values.http ?? `${url.protocol === "wss:" ? "https" : "http"}://${url.host}`;
    let agentUrl: string | undefined;
    if (values["agent-url"] !== undefined) {
      try {
        agentUrl = new URL(values["agent-url"]).toString();
      } catch {
        usage(`--agent-url ${values["agent-url"]} is not a URL`);
      }
      if (!/^wss?:$/.test(new URL(agentUrl).protocol)) usage("--agent-url must be ws:// or wss://");
    }
    results = await runBrokerSuite({ url: url.toString(), http, agentUrl, timeoutMs }, selection, progress);
  } else {
    if (command.length === 0) usage("agent mode needs the agent's command after --");
    if (values.url !== undefined) usage("--url is for broker mode");
    if (values["agent-url"] !== undefined) usage("--agent-url is for broker mode");
    results = await runAgentSuite({ command, timeoutMs, verbose: values.verbose === true }, selection, progress);
  }
  if (results.length === 0) usage("no case matches --filter/--level");
  process.stdout.write(values.json === true ? json(results) : table(results));
  if (values.junit !== undefined) writeFileSync(values.junit, junit(results));
  return exitCode(results);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`agentwire-conformance: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
