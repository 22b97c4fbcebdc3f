import { startRedisCluster } from "@agentwire/testkit";
for (const to of [5000, 2000, 1000]) {
  const times = [];
  for (let k = 0; k < 6; k++) {
    const t0 = Date.now();
    const c = await startRedisCluster(3, { nodeTimeoutMs: to });
    times.push(Date.now() - t0);
    await c.stop();
  }
  console.log(to, times.join(" "));
}
