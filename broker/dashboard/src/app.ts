/** What every view gets: the live model, the token's session, and a way to report what happened. */
import type { Session } from "./api.js";
import type { Model } from "./model.js";

export interface App {
  readonly model: Model;
  readonly session: Session;
  /** Shows a short message (an action's answer, an error). */
  notify(text: string, kind?: "ok" | "error"): void;
  /** Opens a view (the hash route), e.g. `tasks/<id>`. */
  go(route: string): void;
}

/** A view's reload: one at a time (a call while one runs is dropped), its failure shown, not thrown. */
export function reloader(app: App, what: string, load: () => Promise<void>): () => Promise<void> {
  let running = false;
  return async () => {
    if (running) return;
    running = true;
    try {
      await load();
    } catch (err) {
      app.notify(`${what}: ${(err as Error).message}`, "error");
    } finally {
      running = false;
    }
  };
}

export interface View {
  readonly id: string;
  readonly title: string;
  /** Builds the view into `el` for `arg` (the rest of the route, e.g. a task id). */
  mount(el: HTMLElement, arg: string | undefined): void;
  /** Brings live parts up to date; called on a timer while the view is shown and live updates are not paused. */
  render(): void;
  unmount?(): void;
}
