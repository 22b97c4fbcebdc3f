/** The context agent-mode cases run in: one fresh agent process per case, connected to the mock broker. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { encodePayload, type Priority } from "@agentwire/wire";
import { Failure } from "./case.js";
import type { AgentSession, MockBroker } from "./mock-broker.js";

export interface AgentTarget {
  broker: MockBroker;
  /** The agent under test: command and arguments. */
  command: string[];
  /** Extra environment for the agent. */
  env?: Record<string, string>;
  /** Default wait for one expected frame. */
  timeoutMs?: number;
  /** Echo the agent's output on stderr. */
  verbose?: boolean;
}

export interface TaskOptions {
  deadline?: number;
  attempt?: number;
  maxAttempts?: number;
  priority?: Priority;
  input?: Uint8Array;
  extra?: Record<string, unknown>;
}

let taskCounter = 0;

export class AgentCtx {
  readonly broker: MockBroker;
  readonly timeoutMs: number;
  /** Output lines of the agent process, for diagnostics. */
  readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<string> | undefined;
  private session: AgentSession | undefined;

  constructor(private readonly target: AgentTarget) {
    this.broker = target.broker;
    this.timeoutMs = target.timeoutMs ?? 5_000;
  }

  /** Starts the agent under test and waits for its session. */
  async start(): Promise<AgentSession> {
    this.broker.discardPending();
    const [cmd, ...args] = this.target.command;
    if (cmd === undefined) throw new Failure("no agent command");
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...this.target.env, AGENTWIRE_URL: this.broker.url } });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => resolve(`exit ${code ?? signal}`));
      child.on("error", (err) => resolve(`spawn error: ${err.message}`));
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on("line", (line) => {
        this.output.push(line);
        if (this.target.verbose === true) process.stderr.write(`  [agent] ${line}\n`);
      });
    }
    this.session = await this.broker.nextSession(15_000, this.exited.then((why) => `${why}; output: ${this.output.slice(-5).join(" | ")}`));
    return this.session;
  }

  /** Starts the agent and fails unless it registered. */
  async registered(): Promise<AgentSession> {
    const s = await this.start();
    if (s.register === undefined) throw new Failure(`the agent's first frame was ${s.first?.type ?? (s.peer.violations[0] !== undefined ? `malformed (${s.peer.violations[0]})` : "nothing")}, not register`);
    return s;
  }

  /** Sends a `task` frame; returns its id. */
  task(session: AgentSession, capability: string, doc: unknown, options: TaskOptions = {}): string {
    const task_id = `t-${process.pid}-${++taskCounter}`;
    const deadline = options.deadline ?? Date.now() + 30_000;
    session.peer.send({
      type: "task",
      task_id,
      capability,
      input: options.input ?? encodePayload(doc),
      priority: options.priority ?? "normal",
      deadline,
      attempt: options.attempt ?? 1,
      max_attempts: options.maxAttempts ?? 3,
      remaining_ms: Math.max(0, deadline - Date.now()), // as a v1.1 broker sends it [TASK-34]
      ...options.extra,
    });
    return task_id;
  }

  violations(): string[] {
    return this.session?.peer.violations.map((v) => `agent: ${v}`) ?? [];
  }

  async dispose(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await this.exited;
      clearTimeout(timer);
    }
    this.session?.peer.terminate();
    this.broker.discardPending();
  }
}
