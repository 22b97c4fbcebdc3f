/**
 * A broker reduced to what its mesh backend sees of it (`MeshHost`), for tests that stand an
 * in-process `RedisBackend` in for an origin broker: it has no agents, runs nothing handed to it, and
 * records the outcomes of the tasks it handed over.
 */
import type { MeshHost, RemoteOutcome } from "../../src/backend.js";

export function originHost(brokerId: string, extra: Partial<MeshHost> = {}): MeshHost & { results: Map<string, RemoteOutcome[]> } {
  const results = new Map<string, RemoteOutcome[]>();
  return {
    brokerId,
    results,
    localAgents: () => [],
    offers: () => false,
    publishLocal: () => 0,
    runTask: (_task, done) => done({ ok: false }),
    onRemoteResult: (taskId, outcome) => void results.set(taskId, [...(results.get(taskId) ?? []), outcome]),
    cancelRun: () => undefined,
    taskMoved: () => undefined,
    remoteProgress: () => undefined,
    deliverMessage: () => undefined,
    serveRequest: () => undefined,
    requestAnswered: () => undefined,
    drainAgent: () => undefined,
    remoteAgentsChanged: () => undefined,
    ...extra,
  };
}
