/**
 * Load generator of the scale measurement: `node scale-agents.js <url> <count>` opens `count` raw-wire
 * agent sessions, each registering one capability, then heartbeating at the announced interval from a
 * random phase. Prints "ready <json>" once every session registered or failed; answers "stats" over
 * IPC with heartbeats sent and sessions closed; exits when the parent goes away.
 */
import { WebSocket } from "ws";
import { SUBPROTOCOL, decode, encode } from "@agentwire/wire";

const [url = "", countArg = "0"] = process.argv.slice(2);
const count = Number(countArg);
/** Connections opening at once per process: well under the broker's listen backlog. */
const OPENING = 64;
const REGISTER = encode({ type: "register", protocol: 1, name: "bench-scale", capabilities: [{ name: "scale" }], capacity: 16 });
const HEARTBEAT = encode({ type: "heartbeat", in_flight: 0, capacity: 16, status: "ready" });

let started = 0;
let opening = 0;
let registered = 0;
let failed = 0;
let closed = 0;
let sent = 0;
let intervalMs = 0;
let firstFailure: string | undefined;
const t0 = performance.now();

function open(): void {
  started++;
  opening++;
  let ready = false;
  const ws = new WebSocket(url, SUBPROTOCOL, { perMessageDeflate: false });
  const settle = (): void => {
    opening--;
    if (started < count) open();
    if (registered + failed === count) process.stdout.write(`ready ${JSON.stringify({ registered, failed, interval_ms: intervalMs, connect_ms: performance.now() - t0, first_failure: firstFailure })}\n`);
  };
  ws.on("open", () => ws.send(REGISTER));
  ws.on("message", (data: Buffer) => {
    const f = decode(data);
    if (f.type !== "registered" || ready) return;
    ready = true;
    registered++;
    intervalMs = f.heartbeat_interval_ms;
    const beat = (): void => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(HEARTBEAT);
      sent++;
    };
    // A random phase spreads the sessions' heartbeats evenly over the interval.
    setTimeout(() => {
      beat();
      const timer = setInterval(beat, intervalMs);
      ws.once("close", () => clearInterval(timer));
    }, Math.random() * intervalMs);
    settle();
  });
  ws.on("error", (err) => (firstFailure ??= err.message));
  ws.on("close", (code, reason) => {
    if (ready) {
      closed++;
      firstFailure ??= `closed ${code} ${reason.toString()}`;
    } else {
      failed++;
      firstFailure ??= `closed before registered: ${code} ${reason.toString()}`;
      settle();
    }
  });
}

process.on("message", () => process.send?.({ registered, failed, closed, sent, first_failure: firstFailure }));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
while (started < count && opening < OPENING) open();
if (count === 0) process.stdout.write(`ready ${JSON.stringify({ registered, failed })}\n`);
