/**
 * Workflow runs (shown only when GET /v1/runs answers): the newest runs with a state filter, and one
 * run as its graph — the steps in columns by depth (a step stands right of every step it waits for),
 * each with its state, attempts, timing, error and a link to its task's timeline — with cancel while
 * it runs (not for a read-only token). Both are read again when the live stream brings workflow
 * events, and a running run also every few seconds (the stream may skip events at its top rate).
 */
import { api, ApiError } from "./api.js";
import { reloader, type App, type View } from "./app.js";
import { ago, badge, h, ms, table, time } from "./dom.js";

interface StepView {
  capability: string;
  after?: string[];
  state: string;
  attempts: number;
  task_id?: string;
  started_at?: number;
  ended_at?: number;
  error?: { code: string; message: string };
}

interface RunView {
  run_id: string;
  workflow: { name: string; version: string };
  state: string;
  started_at: number;
  ended_at?: number;
  output?: unknown;
  error?: { code: string; message: string };
  steps?: Record<string, StepView>;
}

const STATES = ["", "running", "completed", "failed", "cancelled"] as const;
/** Render ticks between two reads of a running run when no workflow event came (about 2 s). */
const FALLBACK_TICKS = 4;

/** Each step's column: 0 without `after`, else one more than the deepest step it waits for. */
export function depths(steps: Record<string, { after?: string[] }>): Map<string, number> {
  const depth = new Map<string, number>();
  const visit = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a definition is acyclic (WF-2); never loop on a bad one
    seen.add(id);
    const d = Math.max(-1, ...(steps[id]?.after ?? []).filter((a) => a in steps).map((a) => visit(a, seen))) + 1;
    depth.set(id, d);
    return d;
  };
  for (const id of Object.keys(steps)) visit(id, new Set());
  return depth;
}

export function runs(app: App): View {
  let el!: HTMLElement;
  let runId: string | undefined;
  let running = false;
  let filter = "";
  let seen = -1;
  let ticks = 0;

  const took = (from: number | undefined, to: number | undefined): string => (from === undefined || to === undefined ? "–" : ms(to - from));

  const loadList = reloader(app, "runs", async () => {
    const { runs: list } = await api<{ runs: RunView[] }>(`/v1/runs?limit=200${filter === "" ? "" : `&state=${filter}`}`);
    const select = h("select", { id: "run-state", onchange: (e: Event) => ((filter = (e.target as HTMLSelectElement).value), void loadList()) }, STATES.map((s) => h("option", { value: s, selected: s === filter }, s === "" ? "any state" : s)));
    el.replaceChildren(
      h("h2", {}, "Workflow runs ", select),
      table(
        ["run", "workflow", "state", "started", "took"],
        list.map((r) => [h("a", { href: `#runs/${encodeURIComponent(r.run_id)}`, "data-run": r.run_id }, r.run_id), `${r.workflow.name}@${r.workflow.version}`, badge(r.state), ago(r.started_at), took(r.started_at, r.ended_at)]),
        { id: "runs-list" },
      ),
    );
  });

  const cancel = async (id: string): Promise<void> => {
    try {
      const view = await api<RunView>(`/v1/runs/${encodeURIComponent(id)}`, { method: "DELETE" });
      app.notify(`cancel: run ${id} ${view.state}`);
      await loadRun();
    } catch (err) {
      app.notify(`cancel: ${err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)}`, "error");
    }
  };

  const stepBox = (id: string, s: StepView): HTMLElement =>
    h(
      "div",
      { class: "step", "data-step": id, "data-state": s.state },
      h("div", { class: "step-head" }, h("strong", {}, id), " ", badge(s.state)),
      h("div", { class: "sub" }, s.capability),
      h("div", { class: "sub" }, `attempts ${s.attempts}`, s.after === undefined ? "" : ` · after ${s.after.join(", ")}`),
      h("div", { class: "sub" }, s.started_at === undefined ? "not started" : `${time(s.started_at)} · ${s.ended_at === undefined ? "running" : took(s.started_at, s.ended_at)}`),
      s.task_id === undefined ? null : h("a", { href: `#tasks/${encodeURIComponent(s.task_id)}`, class: "sub" }, "task timeline"),
      s.error === undefined ? null : h("div", { class: "step-error" }, `${s.error.code}: ${s.error.message}`),
    );

  const loadRun = reloader(app, "run", async () => {
    const id = runId;
    if (id === undefined) return;
    const run = await api<RunView>(`/v1/runs/${encodeURIComponent(id)}`);
    running = run.state === "running";
    const steps = run.steps ?? {};
    const depth = depths(steps);
    const columns: string[][] = [];
    for (const [step, d] of depth) (columns[d] ??= []).push(step);
    const parts: (HTMLElement | null)[] = [
      h(
        "div",
        { class: "run-head" },
        h("h2", {}, `Run ${run.run_id} `, badge(run.state)),
        h("div", { class: "sub" }, `${run.workflow.name}@${run.workflow.version} · started ${time(run.started_at)} · ${run.ended_at === undefined ? "running" : `took ${took(run.started_at, run.ended_at)}`}`),
        running && app.session.can_act ? h("button", { class: "action danger", "data-action": "cancel-run", onclick: () => void cancel(run.run_id) }, "Cancel run") : null,
      ),
      h("div", { class: "dag", id: "run-dag" }, columns.map((ids) => h("div", { class: "dag-col" }, ids.map((s) => stepBox(s, steps[s]!))))),
      run.error === undefined ? null : h("div", { class: "step-error" }, `${run.error.code}: ${run.error.message}`),
      run.output === undefined ? null : h("div", {}, h("h3", {}, "Output"), h("pre", { class: "output" }, JSON.stringify(run.output, null, 2).slice(0, 20_000))),
      h("p", {}, h("a", { href: "#runs" }, "all runs")),
    ];
    el.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  });

  return {
    id: "runs",
    title: "Runs",
    mount(root, arg) {
      el = h("div");
      root.append(el);
      runId = arg === undefined || arg === "" ? undefined : decodeURIComponent(arg);
      running = false;
      seen = app.model.runsChanged;
      void (runId === undefined ? loadList() : loadRun());
    },
    render() {
      const moved = app.model.runsChanged !== seen;
      seen = app.model.runsChanged;
      ticks++;
      if (runId === undefined) {
        if (moved) void loadList();
      } else if (running && (moved || ticks % FALLBACK_TICKS === 0)) void loadRun();
    },
  };
}
