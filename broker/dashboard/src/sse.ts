/**
 * Server-Sent Events read with fetch, so the request carries `Authorization` (EventSource cannot
 * send headers). It reconnects after a dropped stream with the last `id` as `Last-Event-ID`, as an
 * EventSource would, so the broker resumes where the page stopped.
 */
import { authHeaders } from "./api.js";

export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

export type StreamState = { state: "open" } | { state: "connecting"; why?: string } | { state: "failed"; status: number; why: string };

export interface Stream {
  close(): void;
}

export function follow(url: string, onMessage: (m: SseMessage) => void, onState: (s: StreamState) => void): Stream {
  const abort = new AbortController();
  let lastId: string | undefined;
  let delay = 250;

  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      onState({ state: "connecting" });
      try {
        const headers: Record<string, string> = { ...authHeaders(), accept: "text/event-stream" };
        if (lastId !== undefined) headers["last-event-id"] = lastId;
        const res = await fetch(url, { headers, signal: abort.signal, cache: "no-store" });
        if (!res.ok || res.body === null) {
          let why = `${res.status}`;
          try {
            why = ((await res.json()) as { error?: { message?: string } }).error?.message ?? why;
          } catch {
            // not JSON
          }
          // A refusal (a token it does not accept) will not go away by retrying.
          if (res.status === 401 || res.status === 403 || res.status === 404) return onState({ state: "failed", status: res.status, why });
          throw new Error(why);
        }
        onState({ state: "open" });
        delay = 250;
        await read(res.body, (m) => {
          if (m.id !== undefined) lastId = m.id;
          onMessage(m);
        });
      } catch (err) {
        if (abort.signal.aborted) return;
        onState({ state: "connecting", why: err instanceof Error ? err.message : String(err) });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  };
  void run();
  return { close: () => abort.abort() };
}

/** Parses the text/event-stream format (the WHATWG rules for event, data, id; comments ignored). */
async function read(body: ReadableStream<Uint8Array>, emit: (m: SseMessage) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let start = 0;
    let nl: number;
    while ((nl = buffer.indexOf("\n", start)) !== -1) {
      let line = buffer.slice(start, nl);
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length > 0 || id !== undefined) emit({ event: event === "" ? "message" : event, data: data.join("\n"), id });
        event = "";
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const val = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = val;
      else if (field === "data") data.push(val);
      else if (field === "id") id = val;
    }
    buffer = buffer.slice(start);
  }
}
