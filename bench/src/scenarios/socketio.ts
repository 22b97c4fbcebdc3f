/** Socket.IO: client emitWithAck → relay server (child) emitWithAck → worker (child). */
import { io } from "socket.io-client";
import { pidMeter, selfMeter, startRole, payloadOf } from "../harness.js";
import type { Scenario } from "../scenario.js";

export const socketio: Scenario = {
  name: "socketio",
  describe: "Socket.IO emitWithAck: client → relay server → worker → back (websocket transport)",
  async setup(ctx) {
    const server = await startRole("socketio-server", []);
    const url = `http://127.0.0.1:${String(server.info["port"])}`;
    const worker = await startRole("socketio-worker", [url]);
    const socket = io(url, { transports: ["websocket"], auth: { role: "client" } });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    const payload = payloadOf(ctx.payloadBytes);
    return {
      task: () => socket.timeout(10_000).emitWithAck("task", payload),
      meters: [selfMeter("client"), pidMeter("server", server.child.pid), pidMeter("worker", worker.child.pid)],
      async close() {
        socket.close();
        await Promise.all([worker.child.stop(), server.child.stop()]);
      },
    };
  },
};
