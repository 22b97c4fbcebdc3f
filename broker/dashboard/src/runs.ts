/**
 * Workflow runs: the hook only. The tab appears when `GET /v1/runs` answers; until the workflow API
 * is specified, the view lists what it answers as it is.
 */
import { api } from "./api.js";
import type { App, View } from "./app.js";
import { h } from "./dom.js";

export function runs(app: App): View {
  let el!: HTMLElement;
  return {
    id: "runs",
    title: "Runs",
    mount(root) {
      el = h("div");
      root.append(el);
      api<unknown>("/v1/runs").then(
        (body) => el.replaceChildren(h("pre", { class: "output" }, JSON.stringify(body, null, 2).slice(0, 20_000))),
        (err: unknown) => app.notify(`runs: ${(err as Error).message}`, "error"),
      );
    },
    render() {},
  };
}
