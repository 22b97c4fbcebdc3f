/** Baseline: a raw ws + msgpackr relay in a child, an echo worker in another child, the client here. */
import { WebSocket } from "ws";
import { Packr } from "msgpackr";
import { pidMeter, selfMeter, startRole, payloadOf } from "../harness.js";
import type { Scenario } from "../scenario.js";

const packr = new Packr({ useRecords: false });

/**
 * The baselines' client: each task sends msgpackr `[id, payload]` over one WebSocket and resolves with
 * the payload of the `[id, payload]` that comes back.
 */
export async function packedClient(url: string, payload: unknown): Promise<{ task: () => Promise<unknown>; close: () => void }> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const pending = new Map<number, (v: unknown) => void>();
  ws.on("message", (data: Buffer) => {
    const [id, answer] = packr.unpack(data) as [number, unknown];
    const done = pending.get(id);
    pending.delete(id);
    done?.(answer);
  });
  let next = 0;
  return {
    task: () =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        ws.send(packr.pack([id, payload]));
      }),
    close: () => ws.close(),
  };
}

export const relay: Scenario = {
  name: "relay",
  describe: "baseline: client → ws+msgpackr relay → worker → relay → client, no bookkeeping",
  async setup(ctx) {
    const server = await startRole("relay-server", []);
    const url = `ws://127.0.0.1:${String(server.info["port"])}`;
    const worker = await startRole("relay-worker", [url]);
    const client = await packedClient(`${url}/client`, payloadOf(ctx.payloadBytes));
    return {
      task: client.task,
      meters: [selfMeter("client"), pidMeter("relay", server.child.pid), pidMeter("worker", worker.child.pid)],
      async close() {
        client.close();
        await Promise.all([server.child.stop(), worker.child.stop()]);
      },
    };
  },
};
