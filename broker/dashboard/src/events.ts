/** Events: replay by time range with filters (server-side), and the live tail as counts per second and the newest few. */
import { ndjson } from "./api.js";
import type { App, View } from "./app.js";
import { LineChart } from "./charts.js";
import { h, num, table, time } from "./dom.js";
import type { RecordedEvent } from "./model.js";

const when = (v: string): number | undefined => (v === "" ? undefined : new Date(v).getTime());

function rowOf(e: RecordedEvent): (string | Node)[] {
  const d = e.data;
  const subject = d.task_id !== undefined ? h("a", { href: `#tasks/${encodeURIComponent(d.task_id)}`, class: "mono" }, d.task_id) : String(d.agent_id ?? d.topic ?? d.from ?? d.pool ?? "");
  const detail = [d.capability, d.state ?? d.status, d.attempt === undefined ? undefined : `attempt ${String(d.attempt)}`, d.cause].filter((x) => x !== undefined && x !== "").join(" · ");
  return [num(e.position), time(e.at), e.type, subject, detail, e.broker_id];
}

export function events(app: App): View {
  let live!: HTMLElement;
  let counts!: HTMLElement;
  let replayOut!: HTMLElement;
  let chart: LineChart | undefined;
  let chartEl!: HTMLElement;
  let seen = -1;

  const replay = async (form: HTMLFormElement): Promise<void> => {
    const f = new FormData(form);
    const q = new URLSearchParams();
    for (const k of ["type", "task", "agent", "capability"]) if (String(f.get(k) ?? "").trim() !== "") q.set(k, String(f.get(k)).trim());
    const from = when(String(f.get("from") ?? ""));
    const to = when(String(f.get("to") ?? ""));
    if (from !== undefined) q.set("from", String(from));
    if (to !== undefined) q.set("to", String(to));
    q.set("limit", String(f.get("limit") ?? "1000"));
    try {
      const found = await ndjson<RecordedEvent>(`/v1/events?${q}`);
      replayOut.replaceChildren(h("h2", {}, `Replay: ${num(found.length)} events`), table(["position", "at", "type", "subject", "detail", "broker"], found.slice(-1000).reverse().map(rowOf), { id: "replay" }));
    } catch (err) {
      app.notify(`replay: ${(err as Error).message}`, "error");
    }
  };

  return {
    id: "events",
    title: "Events",
    mount(el) {
      const form = h(
        "form",
        { class: "search", id: "replay-form", onsubmit: (e: Event) => (e.preventDefault(), void replay(form)) },
        h("label", {}, "from ", h("input", { name: "from", type: "datetime-local", step: "1" })),
        h("label", {}, "to ", h("input", { name: "to", type: "datetime-local", step: "1" })),
        h("input", { name: "type", placeholder: "types: task.failed,agent.left" }),
        h("input", { name: "task", placeholder: "task id" }),
        h("input", { name: "agent", placeholder: "agent id" }),
        h("input", { name: "capability", placeholder: "capability" }),
        h("select", { name: "limit" }, ["100", "1000", "10000"].map((n) => h("option", { value: n, selected: n === "1000" }, `${n} at most`))),
        h("button", { type: "submit" }, "Replay"),
      );
      replayOut = h("div");
      counts = h("div", { class: "sub", id: "event-counts" });
      chartEl = h("div", { class: "chart" });
      live = h("div");
      el.append(form, replayOut, h("h2", {}, "Live: events received per second"), counts, chartEl, h("h2", {}, "Live: newest events"), live);
      chart = undefined;
      seen = -1;
    },
    render() {
      const m = app.model;
      if (seen === m.version) return;
      seen = m.version;
      counts.textContent = `${num(m.received)} received · ${num(m.skipped)} skipped by the broker to hold the stream's rate`;
      const now = Math.floor(Date.now() / 1000);
      const seconds = Array.from({ length: 60 }, (_, i) => now - 59 + i);
      const groups = ["task", "agent", "message", "request", "pool"];
      const series = groups.map((g) => ({ label: `${g}.*` }));
      chart ??= new LineChart(chartEl, series);
      chart.update(seconds, groups.map((g) => seconds.map((s) => {
        let n = 0;
        for (const [type, c] of m.perSecond.get(s) ?? []) if (type.startsWith(`${g}.`)) n += c;
        return n;
      })));
      live.replaceChildren(table(["position", "at", "type", "subject", "detail", "broker"], m.latest(100).map(rowOf), { id: "live-events" }));
    },
  };
}
