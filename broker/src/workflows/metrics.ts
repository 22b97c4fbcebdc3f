/** The workflow figures in /metrics: runs running here now, runs ended by state, step retries. */
import { runEndState } from "@agentwire/wire";
import { Counter, Gauge, type Registry as PromRegistry } from "prom-client";
import type { EventBus } from "../events.js";
import type { WorkflowEngine } from "./engine.js";

export function registerWorkflowMetrics(registry: PromRegistry, engine: WorkflowEngine, events: EventBus): void {
  const registers = [registry];
  new Gauge({
    name: "agentwire_workflow_runs_running",
    help: "Workflow runs this broker runs now (in a mesh: holds the lease of).",
    registers,
    collect() {
      this.set(engine.running);
    },
  });
  const ended = new Counter({ name: "agentwire_workflow_runs_ended_total", help: "Workflow runs this broker ended, by state.", labelNames: ["state"], registers });
  const retries = new Counter({ name: "agentwire_workflow_step_retries_total", help: "Step attempts that failed and wait for another (workflow.step.retrying).", registers });
  // Counted from the event bus, where the transitions are announced, and nowhere else.
  events.on({
    workflow: (e) => {
      const end = runEndState(e.type);
      if (e.type === "workflow.step.retrying") retries.inc();
      else if (end !== undefined) ended.inc({ state: end });
    },
  });
}
