/**
 * The broker suites' view of the testkit backends (memory, redis, mesh, mesh-cluster; STORES for the
 * mesh suites), plus what only vitest files may do: stop this file's pooled Redis Clusters after its
 * tests, and register a broker-test `Peer` where the backend puts it.
 */
import { afterAll } from "vitest";
import type { Register } from "@agentwire/wire";
import { releaseClusters, type RunningBroker } from "@agentwire/testkit";
import { Peer, type ConnectOptions } from "@agentwire/testkit/peer";

// The suites import the testkit (startBroker, BACKENDS, STORES, startMeshPair, ...) through this file.
export * from "@agentwire/testkit";

afterAll(releaseClusters);

/**
 * Registers a peer where the backend puts it — an agent on `agentUrl`, a client on `url` — and, for
 * an agent, waits until the client side can route to it. The token (register field or bearer
 * header) also authorizes the visibility probe.
 */
export async function registerOn(broker: RunningBroker, register: Omit<Register, "type"> = {}, options?: ConnectOptions): Promise<Peer> {
  const agent = (register.capabilities?.length ?? 0) > 0;
  const p = await Peer.register(agent ? broker.agentUrl : broker.url, register, options);
  if (agent) await broker.visible(p.agentId, register.token ?? options?.headers?.authorization?.replace(/^Bearer /, ""));
  return p;
}
