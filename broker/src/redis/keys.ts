/**
 * Every Redis key and channel of the mesh. A broker's keys share its hash tag `{b:<id>}` so one
 * script can touch several of them on Redis Cluster; mesh-wide keys share `{mesh}`.
 */
export const meshKeys = {
  /** Sorted set: broker id -> last liveness refresh (ms). Membership list; liveness is `alive`. */
  brokers: "aw:{mesh}:brokers",
  /** Channel: a broker id whose agent set changed (PUBLISH, or SPUBLISH on Cluster). */
  changes: "aw:{mesh}:changes",
  /** Channel: cross-broker publish frames (see envelope.ts). */
  publish: "aw:{mesh}:publish",
  /** String: task id of the first task submitted with an idempotency key (`hash` of scope + key), PX the result TTL. */
  idem: (hash: string) => `aw:idem:${hash}`,
} as const;

export const CONSUMER_GROUP = "brokers";

/** Most brokers whose keys are kept built (a mesh has a few; tests and reclaims add some). */
const KEPT = 1_000;
const built = new Map<string, ReturnType<typeof makeBrokerKeys>>();

/** The keys of broker `id`, built once per broker: the hot path asks for them per task. */
export function brokerKeys(id: string): ReturnType<typeof makeBrokerKeys> {
  let keys = built.get(id);
  if (keys === undefined) {
    if (built.size >= KEPT) built.clear();
    built.set(id, (keys = makeBrokerKeys(id)));
  }
  return keys;
}

function makeBrokerKeys(id: string) {
  const tag = `aw:{b:${id}}`;
  return {
    /** String with PX TTL: present while the broker lives. */
    alive: `${tag}:alive`,
    /** Hash agent_id -> AgentInfo JSON, PX TTL refreshed with `alive`. */
    agents: `${tag}:agents`,
    /** Hash capability -> number of agents offering it (the capability index). */
    caps: `${tag}:caps`,
    /** Stream of tasks this broker's agents should run; group `brokers`, PEL = processing list. */
    tasks: `${tag}:tasks`,
    /** Hash stream entry id -> the attempt running now, when local retries raised it above the entry's. */
    attempts: `${tag}:attempts`,
    /**
     * Hash task id -> the task as accepted here (envelope.ts, with deadline and owner), from `accepted`
     * until its outcome is stored: what lets another broker (or this id's next process) finish it.
     */
    open: `${tag}:open`,
    /** List of task ids whose response key is ready, read by the origin with BLMPOP. */
    ready: `${tag}:ready`,
    /** List holding one response; PX TTL = task timeout + margin. */
    response: (taskId: string) => `${tag}:response:${taskId}`,
  };
}
