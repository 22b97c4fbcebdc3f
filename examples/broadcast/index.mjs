// A listener agent subscribed to "market.>" and a client publishing three ticks.
//   node examples/broadcast/index.mjs
import { connect, createAgent } from "@agentwire/sdk";

const url = process.env.AGENTWIRE_URL ?? "ws://127.0.0.1:7420";
let heard = 0;
let done;
const allHeard = new Promise((resolve) => (done = resolve));

const listener = createAgent({ url, name: "listener" }).on("market.>", (msg) => {
  console.log(`${msg.topic} from ${msg.from}:`, msg.payload);
  if (++heard === 3) done();
});
await listener.start(); // resolves once the subscription is acknowledged

const publisher = await connect({ url });
for (const [symbol, price] of [["SOL", 150.1], ["ETH", 3120.5], ["SOL", 150.4]]) {
  await publisher.publish(`market.${symbol.toLowerCase()}.price`, { symbol, price });
}
await allHeard;
await publisher.drain();
await listener.drain();
