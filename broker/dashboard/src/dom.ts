/** A few DOM helpers: elements from a tag, attributes and children; numbers and times for people. */
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | ((e: Event) => void) | undefined> = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "object" ? c : String(c));
  }
  return el;
}

export function num(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n < 1 ? `${num(n * 1000)} µs` : n < 1000 ? `${num(n, n < 10 ? 2 : 1)} ms` : `${num(n / 1000, 2)} s`;
}

export function time(at: number | undefined): string {
  if (at === undefined) return "–";
  const d = new Date(at);
  return `${d.toLocaleTimeString("en-GB", { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

export function ago(at: number | undefined, now = Date.now()): string {
  if (at === undefined) return "–";
  const s = Math.max(0, (now - at) / 1000);
  return s < 1 ? "now" : s < 60 ? `${Math.floor(s)} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`;
}

/** A state or status as a coloured badge. */
export function badge(text: string): HTMLElement {
  return h("span", { class: `badge s-${text.replace(/[^a-z_]/g, "")}` }, text);
}

export function table(head: string[], rows: (Child | Child[])[][], attrs: Record<string, string> = {}): HTMLTableElement {
  return h("table", attrs, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows.length === 0 ? h("tr", {}, h("td", { colspan: String(head.length), class: "empty" }, "nothing yet")) : rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

export function card(label: string, value: Child, sub?: Child, id?: string): HTMLElement {
  return h("div", { class: "card", "data-card": id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub === undefined ? null : h("div", { class: "sub" }, sub));
}
