/**
 * The dashboard page: asks for a token when the broker wants one, opens the one live stream
 * (`/v1/dashboard/live`), keeps what it brings in a bounded model, and renders the shown view on a
 * timer (never per event), unless live updates are paused.
 */
import { ApiError, api, setToken, token, type Session } from "./api.js";
import type { App, View } from "./app.js";
import { agents } from "./agents.js";
import { h, num } from "./dom.js";
import { events } from "./events.js";
import { Model, type RecordedEvent, type Stats } from "./model.js";
import { overview } from "./overview.js";
import { pools } from "./pools.js";
import { runs } from "./runs.js";
import { follow, type StreamState } from "./sse.js";
import { tasks } from "./tasks.js";

const RENDER_EVERY_MS = 500;
const root = document.getElementById("app")!;

async function boot(): Promise<void> {
  // Whether the broker wants a token, asked without one, so a first visit makes no refused call.
  const { auth } = (await (await fetch("/dashboard/auth")).json()) as { auth: boolean };
  if (auth && token() === undefined) return login(undefined);
  let session: Session;
  try {
    session = await api<Session>("/v1/dashboard/session");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return login(token() === undefined ? undefined : "that token was not accepted");
    root.replaceChildren(h("p", { class: "error" }, `cannot reach the broker: ${(err as Error).message}`));
    return;
  }
  if (!session.reads_all) return login("this token may not watch the broker: the dashboard needs an admin or a read-only token");
  start(session);
}

function login(why: string | undefined): void {
  const input = h("input", { type: "password", name: "token", placeholder: "bearer token", autocomplete: "off", id: "token" });
  const form = h(
    "form",
    { class: "login", id: "login", onsubmit: (e: Event) => (e.preventDefault(), setToken(input.value.trim()), void boot()) },
    h("h1", {}, "agentwire"),
    h("p", {}, "This broker requires a token. It is kept for this tab only (sessionStorage)."),
    why === undefined ? null : h("p", { class: "error" }, why),
    input,
    h("button", { type: "submit" }, "Open the dashboard"),
  );
  root.replaceChildren(form);
  input.focus();
}

function start(session: Session): void {
  const model = new Model();
  let paused = false;
  let pausedAt = 0;
  let current: { view: View; route: string } | undefined;
  const main = h("main", { id: "view" });
  const toast = h("div", { class: "toast", id: "toast" });
  const state = h("span", { class: "conn", id: "conn" }, "connecting");
  const pauseButton = h("button", { id: "pause", class: "pause", onclick: () => togglePause() }, "Pause");
  const nav = h("nav", {});
  const stamp = h("span", { class: "sub", id: "paused-note" });

  const app: App = {
    model,
    session,
    notify(text, kind = "ok") {
      toast.textContent = text;
      toast.className = `toast show ${kind}`;
      clearTimeout((toast as unknown as { timer?: number }).timer);
      (toast as unknown as { timer?: number }).timer = window.setTimeout(() => (toast.className = "toast"), 4000);
    },
    go(route) {
      location.hash = `#${route}`;
    },
  };
  const views: View[] = [overview(app), agents(app), tasks(app), events(app)];
  // Views whose API is not there yet stay hidden (the broker says which answer).
  for (const v of [pools(app), runs(app)]) if (session.views[v.id] === true) views.splice(views.length - 1, 0, v);

  const drawNav = (): void => {
    const route = (location.hash.slice(1) || "overview").split("/")[0];
    nav.replaceChildren(...views.map((v) => h("a", { href: `#${v.id}`, class: v.id === route ? "active" : "", "data-view": v.id }, v.title)));
  };
  const show = (): void => {
    const [id = "overview", ...rest] = (location.hash.slice(1) || "overview").split("/");
    const view = views.find((v) => v.id === id) ?? views[0]!;
    const route = location.hash;
    if (current?.route === route) return;
    current?.view.unmount?.();
    main.replaceChildren();
    main.dataset.view = view.id;
    view.mount(main, rest.length === 0 ? undefined : rest.join("/"));
    current = { view, route };
    view.render();
    drawNav();
  };
  const togglePause = (): void => {
    paused = !paused;
    pausedAt = model.received;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    pauseButton.classList.toggle("on", paused);
    document.body.classList.toggle("paused", paused);
    if (!paused) current?.view.render();
  };

  root.replaceChildren(
    ...[
    h(
      "header",
      {},
      h("span", { class: "brand" }, "agentwire"),
      h("span", { class: "broker", id: "broker-id" }, session.broker_id),
      nav,
      h("span", { class: "spacer" }),
      stamp,
      state,
      pauseButton,
      session.read_only ? h("span", { class: "badge s-draining", id: "read-only" }, "read-only") : null,
      session.auth ? h("button", { onclick: () => (setToken(undefined), location.reload()) }, "Forget token") : null,
    ),
    session.events ? null : h("p", { class: "error" }, "This broker keeps no events (--events-max 0): timelines, replay and the live lists are empty."),
    main,
    toast,
    ].filter((n) => n !== null),
  );
  window.addEventListener("hashchange", show);
  show();

  // An agent or pool change is shown at once, not at the next timer tick (a few a second at most).
  let soon: number | undefined;
  const renderSoon = (): void => {
    if (paused || soon !== undefined) return;
    soon = window.setTimeout(() => {
      soon = undefined;
      current?.view.render();
    }, 50);
  };
  const rate = new URLSearchParams(location.search).get("rate") ?? "2000";
  follow(
    `/v1/dashboard/live?rate=${encodeURIComponent(rate)}`,
    (m) => {
      if (m.event === "message") {
        const e = JSON.parse(m.data) as RecordedEvent;
        model.event(e);
        if (e.type.startsWith("agent.") || e.type.startsWith("pool.")) renderSoon();
      }
      else if (m.event === "stats") model.snapshot(JSON.parse(m.data) as Stats);
      else if (m.event === "gap") {
        const g = JSON.parse(m.data) as { after: number; to: number };
        model.gap(g.after, g.to);
      }
    },
    (s: StreamState) => {
      state.className = `conn ${s.state}`;
      state.textContent = s.state === "open" ? "live" : s.state === "connecting" ? "reconnecting" : `stream refused: ${s.why}`;
      state.title = s.state === "connecting" ? (s.why ?? "") : "";
    },
  );

  window.setInterval(() => {
    if (paused) {
      stamp.textContent = `paused · ${num(model.received - pausedAt)} events since`;
      return;
    }
    stamp.textContent = "";
    current?.view.render();
  }, RENDER_EVERY_MS);
}

void boot();
