/** Overview: agents by status, tasks/s, p50/p99, queue depth per capability, brokers; charts of them over time. */
import type { App, View } from "./app.js";
import { LineChart } from "./charts.js";
import { card, h, ms, num, table } from "./dom.js";

export function overview(app: App): View {
  let cards!: HTMLElement;
  let queues!: HTMLElement;
  let brokers!: HTMLElement;
  let throughput: LineChart;
  let latency: LineChart;
  let depth: LineChart | undefined;
  let depthEl!: HTMLElement;
  return {
    id: "overview",
    title: "Overview",
    mount(el) {
      cards = h("div", { class: "cards" });
      queues = h("div");
      brokers = h("div");
      depthEl = h("div", { class: "chart" });
      const tput = h("div", { class: "chart" });
      const lat = h("div", { class: "chart" });
      el.append(
        cards,
        h("div", { class: "grid2" }, h("section", {}, h("h2", {}, "Throughput (tasks/s)"), tput), h("section", {}, h("h2", {}, "Latency, acceptance to result"), lat)),
        h("div", { class: "grid2" }, h("section", {}, h("h2", {}, "Queue depth per capability"), depthEl), h("section", {}, h("h2", {}, "Queues now"), queues)),
        h("section", {}, h("h2", {}, "Brokers"), brokers),
      );
      throughput = new LineChart(tput, [{ label: "submitted/s" }, { label: "succeeded/s" }, { label: "failed/s" }]);
      latency = new LineChart(lat, [{ label: "p50", unit: " ms" }, { label: "p99", unit: " ms" }]);
      depth = undefined;
    },
    render() {
      const s = app.model.stats;
      const pts = app.model.points;
      const last = pts[pts.length - 1];
      const by = s?.agents.by_status ?? {};
      cards.replaceChildren(
        card("Agents", num(s?.agents.total), `${num(by.ready ?? 0)} ready · ${num(by.busy ?? 0)} busy · ${num(by.draining ?? 0)} draining · ${num(by.unhealthy ?? 0)} unhealthy`, "agents"),
        card("Tasks/s", num(last?.completed, 1), `submitted ${num(last?.submitted, 1)}/s · failed ${num(last?.failed, 1)}/s`, "tps"),
        card("p50", ms(last?.p50), "last second", "p50"),
        card("p99", ms(last?.p99), "last second", "p99"),
        card("Queued", num(last?.queued ?? s?.queues.reduce((a, q) => a + q.depth, 0)), `${num(s?.queues.length)} capabilities`, "queued"),
        card("In flight", num((s?.tasks.by_state.dispatched ?? 0) + (s?.tasks.by_state.running ?? 0)), `${num(s?.tasks.submitted_total)} accepted since start`, "inflight"),
        card("Brokers", num(s?.brokers.length), s?.broker_id, "brokers"),
      );
      const t = pts.map((p) => p.t);
      throughput.update(t, [pts.map((p) => p.submitted), pts.map((p) => p.completed), pts.map((p) => p.failed)]);
      latency.update(t, [pts.map((p) => p.p50), pts.map((p) => p.p99)]);
      // The deepest queues of the window, at most six lines.
      const peak = new Map<string, number>();
      for (const p of pts) for (const [c, d] of Object.entries(p.queues)) peak.set(c, Math.max(peak.get(c) ?? 0, d));
      const top = [...peak].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([c]) => c);
      const series = (top.length === 0 ? ["(none)"] : top).map((label) => ({ label }));
      if (depth === undefined || !depth.fits(series)) {
        depthEl.replaceChildren();
        depth = new LineChart(depthEl, series);
      }
      depth.update(t, top.length === 0 ? [pts.map(() => 0)] : top.map((c) => pts.map((p) => p.queues[c] ?? 0)));
      queues.replaceChildren(table(["capability", "queued"], (s?.queues ?? []).slice(0, 20).map((q) => [q.capability, num(q.depth)]), { id: "queues" }));
      brokers.replaceChildren(table(["broker", "agents", ""], (s?.brokers ?? []).map((b) => [b.broker_id, num(b.agents), b.self ? "this broker" : "mesh"]), { id: "brokers" }));
    },
  };
}
