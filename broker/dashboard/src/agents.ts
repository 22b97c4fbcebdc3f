/** Agents: capabilities, load, health, last heard from, pool; the drain action. */
import type { AgentInfo } from "@agentwire/wire";
import { api, ApiError } from "./api.js";
import { reloader, type App, type View } from "./app.js";
import { ago, badge, h, num, table } from "./dom.js";

export function agents(app: App): View {
  let list!: HTMLElement;
  let filter!: HTMLInputElement;
  let agentsNow: AgentInfo[] = [];
  let seenVersion = -1;
  let seenStats: unknown;

  const load = reloader(app, "agents", async () => {
    agentsNow = (await api<{ agents: AgentInfo[] }>("/v1/agents")).agents;
    draw();
  });
  const drain = async (id: string): Promise<void> => {
    try {
      await api(`/v1/agents/${encodeURIComponent(id)}/drain`, { method: "POST" });
      app.notify(`draining ${id}`);
      await load();
    } catch (err) {
      app.notify(`drain ${id}: ${err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)}`, "error");
    }
  };
  // Rows are kept by agent id and their cells rebuilt only when their text changes, so a row (and
  // its drain button) stays the same element while the list refreshes every second.
  const rows = new Map<string, { tr: HTMLTableRowElement; keys: string[] }>();
  let body: HTMLTableSectionElement | undefined;
  const draw = (): void => {
    const q = filter.value.trim().toLowerCase();
    const seen = app.model.stats?.last_seen ?? {};
    const shown = agentsNow.filter((a) => q === "" || a.agent_id.toLowerCase().includes(q) || a.name.toLowerCase().includes(q) || a.capabilities.some((c) => c.name.toLowerCase().includes(q)) || (a.pool ?? "").toLowerCase().includes(q));
    if (body === undefined) {
      const t = table(["agent", "name", "status", "load", "capabilities", "pool", "broker", "last heard", "connected", ""], [], { id: "agents" });
      body = t.tBodies[0]!;
      list.replaceChildren(t);
    }
    const live = new Set<string>();
    const ordered = shown.map((a) => {
      live.add(a.agent_id);
      const load = a.capacity > 0 ? a.in_flight / a.capacity : 0;
      const caps = a.capabilities.map((c) => (c.version === undefined ? c.name : `${c.name}@${c.version}`));
      const canDrain = app.session.can_act && a.status !== "draining";
      const cells: [string, () => Node | Node[] | string][] = [
        [a.agent_id, () => h("span", { class: "mono", "data-agent": a.agent_id }, a.agent_id)],
        [a.name, () => a.name],
        [a.status, () => badge(a.status)],
        [`${a.in_flight}/${a.capacity}`, () => h("span", { class: "load" }, h("span", { class: "bar" }, h("span", { style: `width:${Math.min(100, Math.round(load * 100))}%` })), ` ${num(a.in_flight)}/${num(a.capacity)}`)],
        [caps.join(" "), () => caps.map((c) => h("span", { class: "chip" }, c))],
        [a.pool ?? "–", () => a.pool ?? "–"],
        [a.broker_id, () => a.broker_id],
        [ago(seen[a.agent_id] ?? undefined), () => ago(seen[a.agent_id] ?? undefined)],
        [ago(a.connected_at), () => ago(a.connected_at)],
        [String(canDrain), () => (canDrain ? h("button", { class: "action", "data-action": "drain", onclick: () => void drain(a.agent_id) }, "Drain") : "")],
      ];
      let row = rows.get(a.agent_id);
      if (row === undefined) {
        row = { tr: h("tr", {}, cells.map(() => h("td"))), keys: [] };
        rows.set(a.agent_id, row);
      }
      cells.forEach(([key, make], i) => {
        if (row.keys[i] === key) return;
        row.keys[i] = key;
        const content = make();
        row.tr.cells[i]!.replaceChildren(...(Array.isArray(content) ? content : [content]));
      });
      return row.tr;
    });
    for (const [id, row] of rows) if (!live.has(id)) (row.tr.remove(), rows.delete(id));
    // Only rows out of place move.
    ordered.forEach((tr, i) => {
      if (body!.rows[i] !== tr) body!.insertBefore(tr, body!.rows[i] ?? null);
    });
    for (const tr of [...body.rows]) if (!ordered.includes(tr)) tr.remove();
    if (ordered.length === 0) body.replaceChildren(h("tr", {}, h("td", { colspan: "10", class: "empty" }, "no agents")));
  };
  return {
    id: "agents",
    title: "Agents",
    mount(el) {
      filter = h("input", { type: "search", placeholder: "filter by id, name, capability, pool", oninput: () => draw() });
      list = h("div");
      rows.clear();
      body = undefined;
      el.append(h("div", { class: "toolbar" }, filter), list);
      seenVersion = app.model.agentsChanged;
      void load();
    },
    render() {
      // An agent event, or a new stats snapshot (load and last-heard move), brings the list up to date.
      if (app.model.agentsChanged !== seenVersion || app.model.stats !== seenStats) {
        seenVersion = app.model.agentsChanged;
        seenStats = app.model.stats;
        void load();
      }
    },
  };
}
