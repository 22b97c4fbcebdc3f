/** Pools (from GET /v1/pools, shown only when it answers): size, desired, utilization over time, scale decisions. */
import { api } from "./api.js";
import { reloader, type App, type View } from "./app.js";
import { LineChart } from "./charts.js";
import { badge, h, num, table, time } from "./dom.js";

export interface Pool {
  name: string;
  capabilities: string[];
  min: number;
  max: number;
  size: number;
  desired: number;
  utilization: number;
  in_flight: number;
  capacity: number;
  queued: number;
  supervisor: string | null;
  decider: string;
  members: { agent_id: string; broker_id: string; status: string; in_flight: number; capacity: number }[];
  decisions: { pool: string; from: number; to: number; reason: string; utilization: number; in_flight: number; capacity: number; queued: number; broker_id: string; at: number }[];
}

const HISTORY = 300;

export function pools(app: App): View {
  let el!: HTMLElement;
  const charts = new Map<string, { chart: LineChart; box: HTMLElement }>();
  /** Size, desired and utilization per pool, one sample per refresh (a stats tick or a pool event). */
  const history = new Map<string, { t: number[]; size: number[]; desired: number[]; util: number[] }>();
  let seenPools = -1;
  let seenStats: unknown;

  const load = reloader(app, "pools", async () => {
    const { pools } = await api<{ pools: Pool[] }>("/v1/pools");
    const now = Date.now() / 1000;
    for (const p of pools) {
      const hst = history.get(p.name) ?? { t: [], size: [], desired: [], util: [] };
      history.set(p.name, hst);
      hst.t.push(now);
      hst.size.push(p.size);
      hst.desired.push(p.desired);
      hst.util.push(p.utilization);
      if (hst.t.length > HISTORY) for (const a of Object.values(hst)) a.splice(0, a.length - HISTORY);
    }
    draw(pools);
  });
  const draw = (list: Pool[]): void => {
    const sections = list.map((p) => {
      let c = charts.get(p.name);
      if (c === undefined) {
        const box = h("div", { class: "chart" });
        c = { chart: new LineChart(box, [{ label: "size" }, { label: "desired" }, { label: "utilization", right: true }]), box };
        charts.set(p.name, c);
      }
      const hst = history.get(p.name)!;
      const sec = h(
        "section",
        { class: "pool", "data-pool": p.name },
        h("h2", {}, `Pool ${p.name} `, h("span", { class: "sub" }, `${p.capabilities.join(", ")} · min ${p.min} · max ${p.max} · supervisor ${p.supervisor ?? "none"} · decided by ${p.decider}`)),
        h(
          "div",
          { class: "cards" },
          h("div", { class: "card" }, h("div", { class: "label" }, "size"), h("div", { class: "value" }, num(p.size))),
          h("div", { class: "card" }, h("div", { class: "label" }, "desired"), h("div", { class: "value" }, num(p.desired))),
          h("div", { class: "card" }, h("div", { class: "label" }, "utilization"), h("div", { class: "value" }, `${num(p.utilization * 100)} %`)),
          h("div", { class: "card" }, h("div", { class: "label" }, "in flight / capacity"), h("div", { class: "value small" }, `${num(p.in_flight)} / ${num(p.capacity)}`)),
          h("div", { class: "card" }, h("div", { class: "label" }, "queued"), h("div", { class: "value" }, num(p.queued))),
        ),
        h("h3", {}, "Size and utilization over time"),
        c.box,
        h("div", { class: "grid2" },
          h("div", {}, h("h3", {}, "Members"), table(["agent", "broker", "status", "load"], p.members.map((m) => [m.agent_id, m.broker_id, badge(m.status), `${num(m.in_flight)}/${num(m.capacity)}`]))),
          h("div", {}, h("h3", {}, "Scale decisions"), table(["at", "from → to", "reason", "utilization", "queued", "broker"], [...p.decisions].reverse().map((d) => [time(d.at), `${d.from} → ${d.to}`, d.reason, `${num(d.utilization * 100)} %`, num(d.queued), d.broker_id]))),
        ),
      );
      queueMicrotask(() => c.chart.update(hst.t, [hst.size, hst.desired, hst.util]));
      return sec;
    });
    el.replaceChildren(...(sections.length === 0 ? [h("p", { class: "empty" }, "no pools declared")] : sections));
  };
  return {
    id: "pools",
    title: "Pools",
    mount(root) {
      el = h("div");
      root.append(el);
      charts.clear();
      void load();
    },
    render() {
      if (app.model.poolsChanged !== seenPools || app.model.stats !== seenStats) {
        seenPools = app.model.poolsChanged;
        seenStats = app.model.stats;
        void load();
      }
    },
  };
}
