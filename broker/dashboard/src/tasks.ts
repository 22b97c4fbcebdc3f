/**
 * Tasks: lookup by id first, a server-side search (capability, agent, state, time range) over the
 * recorded events, the live list of tasks seen on the stream, and one task's timeline from its
 * events — attempts, progress, timing — with the cancel and retry actions.
 */
import { api, ApiError, ndjson } from "./api.js";
import type { App, View } from "./app.js";
import { badge, h, ms, num, table, time } from "./dom.js";
import type { RecordedEvent, TaskRow } from "./model.js";

const END_STATES = new Set(["succeeded", "failed", "cancelled", "deadline_exceeded"]);
const STATE_EVENTS: Record<string, string> = {
  queued: "task.queued",
  dispatched: "task.dispatched",
  running: "task.running",
  requeued: "task.requeued",
  succeeded: "task.succeeded",
  failed: "task.failed",
  cancelled: "task.cancelled",
  deadline_exceeded: "task.deadline_exceeded",
};

interface TaskView {
  task_id: string;
  capability?: string;
  state: string;
  attempt: number;
  created_at?: number;
  ended_at?: number;
  ok?: boolean;
  output?: unknown;
  error?: { code: string; message: string };
}

/** A datetime-local input's value as epoch ms, or undefined. */
const when = (v: string): number | undefined => (v === "" ? undefined : new Date(v).getTime());

export function tasks(app: App): View {
  let root!: HTMLElement;
  let results: HTMLElement | undefined;
  let liveList: HTMLElement | undefined;
  let timeline: { id: string; el: HTMLElement; off: () => void; pending: boolean } | undefined;
  let searched: TaskRow[] | undefined;
  let seen = -1;

  const taskLink = (id: string): HTMLElement => h("a", { href: `#tasks/${encodeURIComponent(id)}`, class: "mono", "data-task": id }, id);
  const rowsOf = (list: TaskRow[]): (string | Node)[][] =>
    list.map((t) => [taskLink(t.task_id), t.capability, badge(t.state), num(t.attempt), t.agent_id ?? "–", time(t.at), END_STATES.has(t.state) ? ms(t.at - t.first) : "–"]);

  const search = async (form: HTMLFormElement): Promise<void> => {
    const f = new FormData(form);
    const id = String(f.get("id") ?? "").trim();
    if (id !== "") return app.go(`tasks/${encodeURIComponent(id)}`);
    const q = new URLSearchParams();
    const state = String(f.get("state") ?? "");
    q.set("type", state === "" ? Object.values(STATE_EVENTS).concat("task.submitted").join(",") : (STATE_EVENTS[state] ?? ""));
    for (const k of ["capability", "agent"]) if (String(f.get(k) ?? "") !== "") q.set(k, String(f.get(k)));
    const from = when(String(f.get("from") ?? ""));
    const to = when(String(f.get("to") ?? ""));
    if (from !== undefined) q.set("from", String(from));
    if (to !== undefined) q.set("to", String(to));
    q.set("limit", "5000");
    try {
      const found = await ndjson<RecordedEvent>(`/v1/events?${q}`);
      const byTask = new Map<string, TaskRow>();
      for (const e of found) {
        const d = e.data;
        if (typeof d.task_id !== "string") continue;
        const prev = byTask.get(d.task_id);
        byTask.set(d.task_id, { task_id: d.task_id, capability: String(d.capability ?? ""), state: String(d.state ?? ""), attempt: Number(d.attempt ?? 0), agent_id: typeof d.agent_id === "string" ? d.agent_id : prev?.agent_id, at: e.at, first: prev?.first ?? e.at });
      }
      searched = [...byTask.values()].reverse();
      results?.replaceChildren(h("h2", {}, `${num(searched.length)} tasks (${num(found.length)} events)`, " ", h("button", { onclick: () => ((searched = undefined), results?.replaceChildren()) }, "clear")), table(["task", "capability", "state", "attempt", "agent", "last event", "took"], rowsOf(searched.slice(0, 500)), { id: "search-results" }));
    } catch (err) {
      app.notify(`search: ${(err as Error).message}`, "error");
    }
  };

  const act = async (label: string, path: string, method: string, then?: (body: Record<string, unknown>) => void): Promise<void> => {
    try {
      const body = await api<Record<string, unknown>>(path, { method });
      app.notify(`${label}: ${JSON.stringify(body)}`);
      then?.(body);
      if (timeline !== undefined) void loadTimeline(timeline.id);
    } catch (err) {
      app.notify(`${label}: ${err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)}`, "error");
    }
  };

  const loadTimeline = async (id: string): Promise<void> => {
    const el = timeline?.el;
    if (el === undefined) return;
    let view: TaskView | undefined;
    let events: RecordedEvent[] = [];
    try {
      [view, events] = await Promise.all([
        api<TaskView>(`/v1/tasks/${encodeURIComponent(id)}`).catch((e: unknown) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e))),
        api<{ events: RecordedEvent[] }>(`/v1/tasks/${encodeURIComponent(id)}/events`).then(
          (b) => b.events,
          (e: unknown) => (e instanceof ApiError && e.status === 404 ? [] : Promise.reject(e)),
        ),
      ]);
    } catch (err) {
      el.replaceChildren(h("p", { class: "error" }, (err as Error).message));
      return;
    }
    if (view === undefined && events.length === 0) {
      el.replaceChildren(h("p", { class: "empty", id: "timeline-missing" }, `task ${id} is not known (or not yours)`));
      return;
    }
    const first = events[0]?.at ?? view?.created_at ?? 0;
    const last = events[events.length - 1];
    const state = view?.state ?? String(last?.data.state ?? "");
    const ended = END_STATES.has(state);
    // Attempts: each dispatch opens one; the next requeue or end closes it.
    const attempts: { n: number; agent: string; start: number; end?: number; outcome?: string; progress: number }[] = [];
    for (const e of events) {
      const d = e.data;
      const cur = attempts[attempts.length - 1];
      if (e.type === "task.dispatched") attempts.push({ n: Number(d.attempt ?? attempts.length + 1), agent: String(d.agent_id ?? d.cause ?? "–"), start: e.at, progress: 0 });
      else if (e.type === "task.progress" && cur !== undefined) cur.progress++;
      else if ((e.type === "task.requeued" || END_STATES.has(String(d.state))) && cur !== undefined && cur.end === undefined) {
        cur.end = e.at;
        cur.outcome = e.type === "task.requeued" ? `requeued (${d.cause ?? ""})` : String(d.state);
      }
    }
    const actions = app.session.can_act
      ? [
          ended ? null : h("button", { class: "action danger", "data-action": "cancel", onclick: () => void act("cancel", `/v1/tasks/${encodeURIComponent(id)}`, "DELETE") }, "Cancel"),
          ended ? h("button", { class: "action", "data-action": "retry", onclick: () => void act("retry", `/v1/tasks/${encodeURIComponent(id)}/retry`, "POST", (b) => app.go(`tasks/${encodeURIComponent(String(b.task_id))}`)) }, "Retry") : null,
        ]
      : [];
    el.replaceChildren(
      ...[
      h("div", { class: "task-head" }, h("h2", {}, "Task ", h("span", { class: "mono" }, id)), badge(state), h("span", { class: "actions" }, actions)),
      h(
        "div",
        { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "label" }, "capability"), h("div", { class: "value small" }, view?.capability ?? String(last?.data.capability ?? "–"))),
        h("div", { class: "card" }, h("div", { class: "label" }, "attempts"), h("div", { class: "value small" }, num(view?.attempt ?? attempts.length))),
        h("div", { class: "card" }, h("div", { class: "label" }, "took"), h("div", { class: "value small" }, ended && last !== undefined ? ms(last.at - first) : "running")),
        h("div", { class: "card" }, h("div", { class: "label" }, "progress"), h("div", { class: "value small" }, num(attempts.reduce((a, t) => a + t.progress, 0)))),
      ),
      view?.error === undefined ? null : h("p", { class: "error" }, `${view.error.code}: ${view.error.message}`),
      view?.output === undefined ? null : h("pre", { class: "output" }, JSON.stringify(view.output, null, 2).slice(0, 4000)),
      h("h3", {}, "Attempts"),
      table(["attempt", "agent", "dispatched", "took", "progress", "outcome"], attempts.map((a) => [num(a.n), a.agent, time(a.start), a.end === undefined ? "–" : ms(a.end - a.start), num(a.progress), a.outcome ?? "open"]), { id: "attempts" }),
      h("h3", {}, "Timeline"),
      h(
        "ol",
        { class: "timeline", id: "timeline" },
        events.map((e) =>
          h(
            "li",
            { "data-type": e.type },
            h("span", { class: "t" }, `+${ms(e.at - first)}`),
            h("span", { class: "type" }, e.type),
            h("span", { class: "detail" }, [e.data.agent_id === undefined ? "" : `agent ${String(e.data.agent_id)}`, e.data.attempt === undefined ? "" : `attempt ${String(e.data.attempt)}`, e.data.cause === undefined ? "" : String(e.data.cause), e.data.error === undefined ? "" : JSON.stringify(e.data.error)].filter((x) => x !== "").join(" · ")),
            h("span", { class: "at" }, time(e.at)),
          ),
        ),
      ),
      ].filter((n) => n !== null),
    );
  };

  return {
    id: "tasks",
    title: "Tasks",
    mount(el, arg) {
      root = el;
      timeline = undefined;
      const form = h(
        "form",
        { class: "search", id: "task-search", onsubmit: (e: Event) => (e.preventDefault(), void search(form)) },
        h("input", { name: "id", placeholder: "task id", class: "id" }),
        h("input", { name: "capability", placeholder: "capability" }),
        h("input", { name: "agent", placeholder: "agent id" }),
        h("select", { name: "state" }, h("option", { value: "" }, "any state"), Object.keys(STATE_EVENTS).map((s) => h("option", { value: s }, s))),
        h("label", {}, "from ", h("input", { name: "from", type: "datetime-local", step: "1" })),
        h("label", {}, "to ", h("input", { name: "to", type: "datetime-local", step: "1" })),
        h("button", { type: "submit" }, "Search"),
      );
      root.append(form);
      if (arg !== undefined && arg !== "") {
        const id = decodeURIComponent(arg);
        const tl = h("div", { class: "task", id: "task" });
        root.append(h("p", {}, h("a", { href: "#tasks" }, "← all tasks")), tl);
        timeline = { id, el: tl, pending: false, off: () => {} };
        const t = timeline;
        // A new event of this task reloads its timeline, at most a few times a second.
        t.off = app.model.watchTask(id, () => {
          if (t.pending) return;
          t.pending = true;
          setTimeout(() => {
            t.pending = false;
            if (timeline === t) void loadTimeline(id);
          }, 250);
        });
        void loadTimeline(id);
        return;
      }
      results = h("div");
      liveList = h("div");
      root.append(results, h("h2", {}, "Live: latest tasks"), liveList);
      seen = -1;
    },
    render() {
      if (liveList === undefined || timeline !== undefined || seen === app.model.version) return;
      seen = app.model.version;
      const latest = [...app.model.tasks.values()].slice(-100).reverse();
      liveList.replaceChildren(table(["task", "capability", "state", "attempt", "agent", "last event", "took"], rowsOf(latest), { id: "live-tasks" }));
    },
    unmount() {
      timeline?.off();
      timeline = undefined;
      results = undefined;
      liveList = undefined;
      searched = undefined;
    },
  };
}
