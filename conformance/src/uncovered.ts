/**
 * MUST statements of SPEC.md that no case checks, each with the reason. The suite's own test fails
 * when a MUST statement is neither cited by a case nor listed here.
 */
const AUTH = "needs a broker configured with authentication and known tokens; the suite judges brokers as found, without credentials";
const CRASH =
  "needs processes of a broker mesh and its shared state killed, paused and restarted, which the suite, judging one broker from the outside over the wire, cannot do; checked by the broker's own tests (redis-origin, redis-fence, redis-restart, pause, chaos)";
const EVENTS =
  "recording events is optional (HTTP-15 MAY), and these promises are about the broker's own store and its failures (a killed broker, a stopped database), which the suite cannot cause over the wire; checked by broker/test/event-store.test.ts and event-store-pg.test.ts against a real PostgreSQL";
const ORIGINS =
  "which origins a broker allows besides its own is its operator's configuration (it may allow any), which the suite, judging a broker as found, cannot know, so it cannot expect a refusal; checked by broker/test/origins.test.ts against brokers started with and without --allowed-origins";
const SHUTDOWN = "needs the broker to shut down during the run, which is an operator action (signal), not something a peer can trigger over the wire; the agent side of goaway is checked by agent.goaway-drain";

const DASHBOARD =
  "an optional route (MAY) of a broker's operator dashboard, which a broker need not serve, and with authentication on an admin's action; checked against the reference broker by broker/test/dashboard.test.ts and dashboard-api.test.ts";

export const UNCOVERED: Readonly<Record<string, string>> = {
  "HTTP-20": DASHBOARD,
  "REG-2": AUTH,
  "REG-3": AUTH,
  "REG-4": AUTH,
  "TOPIC-10": AUTH,
  "HTTP-1": AUTH,
  "AUTH-1": AUTH,
  "AUTH-2": AUTH,
  "AUTH-3": AUTH,
  "AUTH-4": AUTH,
  "AUTH-5": AUTH,
  "AUTH-6": AUTH,
  "AUTH-7": AUTH,
  "AUTH-8": AUTH,
  "AUTH-9": AUTH,
  "TRANS-11": ORIGINS,
  "HTTP-18": ORIGINS,
  "REG-9": SHUTDOWN,
  "SHUT-2": SHUTDOWN,
  "SHUT-3": SHUTDOWN,
  "SHUT-4": SHUTDOWN,
  "SHUT-5": SHUTDOWN,
  ...Object.fromEntries(
    ["MESH-7", "MESH-8", "CRASH-2", "CRASH-3", "CRASH-5", "CRASH-6", "CRASH-7", "CRASH-8", "CRASH-9", "CRASH-10"].map((id) => [id, CRASH]),
  ),
  ...Object.fromEntries(["EVT-1", "EVT-2", "EVT-3", "EVT-4", "EVT-5", "EVT-7"].map((id) => [id, EVENTS])),
  "MSG-6": "at-most-once: a lost write that a broker might retry cannot be provoked deterministically from outside",
  "QUERY-5": "needs more registered agents than fit in max_frame_bytes (thousands of sessions); too heavy for a conformance run",
  "LIMIT-1": "defaults are observable only on a broker started without configuration; the announced values are checked for validity by broker.reg.registered",
  "LIMIT-4": "peer receive limit: a frame near max_frame_bytes + 1024 would make the agent's echo exceed max_frame_bytes, which REG-13 forbids it to send",
  "LIMIT-5": "needs a peer that stops reading until the broker's send buffer (8 MiB by default) fills; not deterministic over loopback",
  "LIMIT-6": "rate limiting is optional (MAY) and its threshold is not announced, so a case cannot know when to expect rate_limited",
  "ERR-10": "a peer-internal decision (whether to retry); nothing on the wire shows it",
  "VER-5": "constrains what peers rely on, not what they send; nothing on the wire shows it",
  "POOL-5": "a scale frame that is never sent: no bounded wait over the wire shows it was not merely late; checked by broker/test/pools.test.ts (the pool outlives its supervisor and another session may declare it)",
  "POOL-7": AUTH,
  "POOL-14": EVENTS,
  "POOL-15": CRASH,
  // A run outliving its broker needs that broker killed mid-run; broker/test/workflow-mesh.test.ts does it.
  "WF-15": CRASH,
  // Run ownership needs tokens; broker/test/workflow-auth.test.ts checks it.
  "WF-25": AUTH,
};
