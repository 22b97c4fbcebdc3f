import { it } from "vitest";
import { encodePayload } from "@agentwire/wire";
import { startMeshPair, STORES, registerOn } from "./helpers/backends.js";
import { Peer } from "./helpers/peer.js";

const ITER = Number(process.env.DIAG_ITER ?? 8);
it("diag", async () => {
  for (let k = 0; k < ITER; k++) {
    const t0 = Date.now();
    const broker = await startMeshPair([], STORES[1]);
    const tb = Date.now() - t0;
    const peers: Peer[] = [];
    try {
      const agents = await Promise.all([1, 2, 3].map(async (i) => {
        const a = await registerOn(broker, { agent_id: `rr-${i}`, capabilities: [{ name: "rr" }], capacity: 1000 });
        peers.push(a);
        a.serve(Peer.echo);
        return a;
      }));
      const cl = await registerOn(broker);
      peers.push(cl);
      const t1 = Date.now();
      for (let i = 0; i < 300; i++) cl.send({ type: "submit", ref: `r${i}`, capability: "rr", input: encodePayload(i), strategy: "round_robin" });
      let got = 0;
      try {
        for (; got < 300; got++) await cl.next("result", () => true, 8_000);
      } catch (e) {
        console.log("STALL iter", k, "got", got);
        const lines = (broker.child.lines).filter((l) => !l.includes('"level":30'));
        console.log("A lines", lines.slice(-20));
        throw e;
      }
      console.log("iter", k, "start", tb, "ms; 300 tasks", Date.now() - t1, "ms");
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await broker.stop();
    }
  }
}, 300_000);
