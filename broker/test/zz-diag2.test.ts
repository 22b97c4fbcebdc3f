import { it } from "vitest";
import { startClusterStore, startBrokerProcess } from "./helpers/backends.js";

it("diag2", async () => {
  for (let k = 0; k < 6; k++) {
    const t0 = Date.now();
    const store = await startClusterStore(3);
    const t1 = Date.now();
    const a = await startBrokerProcess([...store.join, "--broker-id", "mesh-a"]);
    const t2 = Date.now();
    const b = await startBrokerProcess([...store.join, "--broker-id", "mesh-b"]);
    const t3 = Date.now();
    await Promise.all([a.stop(), b.stop()]);
    const t4 = Date.now();
    await store.stop();
    console.log(`cluster ${t1 - t0} a ${t2 - t1} b ${t3 - t2} stop ${t4 - t3} storestop ${Date.now() - t4}`);
  }
}, 300_000);
