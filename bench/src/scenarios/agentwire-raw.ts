/** agentwire without the SDK: a raw-wire client and a raw-wire agent against the same broker bin. */
import { WebSocket } from "ws";
import { SUBPROTOCOL, decode, encode, encodePayload, type Frame } from "@agentwire/wire";
import { pidMeter, selfMeter, startBroker, startRole, payloadOf } from "../harness.js";
import type { Scenario } from "../scenario.js";

/** A plain client session speaking frames directly; `submit` resolves with the result frame. */
export async function rawClient(url: string): Promise<{ submit(capability: string, input: Uint8Array): Promise<Frame>; close(): void; ws: WebSocket }> {
  const ws = new WebSocket(url, SUBPROTOCOL);
  const pending = new Map<string, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  await new Promise<void>((resolve, reject) => {
    ws.once("error", reject);
    ws.once("open", () => ws.send(encode({ type: "register", protocol: 1, name: "bench-raw-client" })));
    ws.on("message", (data: Buffer) => {
      const f = decode(data);
      if (f.type === "registered") return resolve();
      if (f.type === "result" && f.ref !== undefined) {
        const p = pending.get(f.ref);
        pending.delete(f.ref);
        if (f.ok) p?.resolve(f);
        else p?.reject(new Error(`${f.error?.code ?? "error"}: ${f.error?.message ?? ""}`));
      } else if (f.type === "error" && f.ref !== undefined) {
        const p = pending.get(f.ref);
        pending.delete(f.ref);
        p?.reject(new Error(`${f.code}: ${f.message}`));
      }
    });
  });
  let next = 0;
  return {
    ws,
    submit: (capability, input) =>
      new Promise<Frame>((resolve, reject) => {
        const ref = `r${next++}`;
        pending.set(ref, { resolve, reject });
        ws.send(encode({ type: "submit", ref, capability, input }));
      }),
    close: () => ws.close(),
  };
}

export const agentwireRaw: Scenario = {
  name: "agentwire-raw",
  describe: "raw-wire client → broker (in-memory backend) → raw-wire echo agent (no SDK)",
  async setup(ctx) {
    const broker = await startBroker(["--max-in-flight", String(Math.max(1024, ctx.maxInflight * 2))]);
    const agent = await startRole("raw-agent", [broker.url, String(Math.max(1024, ctx.maxInflight * 2))]);
    const client = await rawClient(broker.url);
    const payload = payloadOf(ctx.payloadBytes);
    return {
      task: () => client.submit("echo", encodePayload(payload)),
      meters: [selfMeter("client"), pidMeter("broker", broker.child.pid), pidMeter("agent", agent.child.pid)],
      async close() {
        client.close();
        await agent.child.stop();
        await broker.child.stop();
      },
    };
  },
};
