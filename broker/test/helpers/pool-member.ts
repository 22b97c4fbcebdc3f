/**
 * A pool member in a process of its own, so a test can SIGKILL it: it registers on the raw wire with
 * `register.pool`, heartbeats, and holds every task it gets (never answers), printing one line each:
 *
 *   REGISTERED <agent_id>
 *   EXEC <task_id> <attempt>
 *
 * Usage: node pool-member.js <url> <pool> <capability>
 */
import WebSocket from "ws";
import { SUBPROTOCOL, decode, encode, type Frame } from "@agentwire/wire";

const [url, pool, capability] = process.argv.slice(2) as [string, string, string];
const ws = new WebSocket(url, [SUBPROTOCOL]);
const held = new Set<string>();
const out = (line: string): void => void process.stdout.write(`${line}\n`);

ws.on("open", () => ws.send(encode({ type: "register", name: `member-${pool}`, capabilities: [{ name: capability }], capacity: 2, pool })));
ws.on("message", (data: Buffer) => {
  const f = decode(data) as Frame;
  if (f.type === "registered") {
    out(`REGISTERED ${f.agent_id}`);
    setInterval(() => ws.send(encode({ type: "heartbeat", in_flight: held.size, capacity: 2 })), f.heartbeat_interval_ms).unref();
  } else if (f.type === "task") {
    held.add(f.task_id);
    out(`EXEC ${f.task_id} ${f.attempt}`);
  }
});
ws.on("close", () => process.exit(0));
// Keep the process alive while connected; exit with the parent.
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 1_000);
