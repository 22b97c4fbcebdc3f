/** Running a whole mode against a target: what the CLI and the vitest suites share. */
import type { CaseResult } from "./case.js";
import { AgentCtx } from "./agent-ctx.js";
import { BrokerCtx, type BrokerTarget } from "./broker-ctx.js";
import { agentCases } from "./cases/agent.js";
import { brokerCases } from "./cases/index.js";
import { MockBroker, type MockBrokerOptions } from "./mock-broker.js";
import { runCases, select, type RunOptions, type Selection } from "./runner.js";

export function runBrokerSuite(target: BrokerTarget, selection: Selection = {}, options: RunOptions = {}): Promise<CaseResult[]> {
  return runCases(select(brokerCases, selection), () => new BrokerCtx(target), options);
}

export interface AgentSuiteTarget extends MockBrokerOptions {
  command: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
  verbose?: boolean;
}

/** Starts the mock broker, runs the agent cases (one agent process per case), stops the broker. */
export async function runAgentSuite(target: AgentSuiteTarget, selection: Selection = {}, options: RunOptions = {}): Promise<CaseResult[]> {
  const broker = await MockBroker.start(target);
  try {
    return await runCases(select(agentCases, selection), () => new AgentCtx({ ...target, broker }), options);
  } finally {
    await broker.close();
  }
}
