/**
 * Broker configuration: flags > env `AGENTWIRE_*` > JSON config file (`--config path`) > defaults.
 * Every option is validated on its own so a bad value is reported as one line naming its source.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULTS, STRATEGIES, isValidPattern, type Strategy } from "@agentwire/wire";
import type { HttpMount } from "./http.js";
import { originOf } from "./origins.js";
import { PoolsConfigSchema, type PoolsConfig } from "./pools/settings.js";

/** A token's ACL lists [AUTH-*]: globs over agent ids and capability names, topic patterns for topics. */
const GLOBS = z.array(z.string().min(1)).optional();
const PATTERNS = z.array(z.string().refine(isValidPattern, "not a valid topic pattern (see TOPIC-2)")).optional();

export const TokenSchema = z.object({
  token: z.string().min(1),
  agent_ids: GLOBS,
  capabilities: GLOBS,
  submit: GLOBS,
  /** Agent ids the token may `send` and `request {to}` to. */
  send: GLOBS,
  publish: PATTERNS,
  subscribe: PATTERNS,
  /** Reads and cancels every task over HTTP, not only those it submitted. */
  admin: z.boolean().optional(),
  /** A viewer (the dashboard's): reads what an admin reads, and every action is refused with forbidden [AUTH-9]. */
  read_only: z.boolean().optional(),
});
export type TokenAcl = z.infer<typeof TokenSchema>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

type Kind =
  | { kind: "int"; min: number; max: number }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "string" }
  /** Milliseconds: an integer, or a number with a unit (ms, s, m, h, d). */
  | { kind: "duration" }
  /** true or false; the flag alone means true. */
  | { kind: "bool" }
  /** `*`, or comma-separated origins (a JSON array in the file); kept as `originOf` gives them, joined by commas. */
  | { kind: "origins" };

interface OptionSpec {
  key: keyof Omit<BrokerConfig, "auth">;
  flag: string;
  type: Kind;
  default: string | number | boolean;
  help: string;
}

const int = (min: number, max: number): Kind => ({ kind: "int", min, max });
const MAX_MS = 86_400_000;

export const OPTIONS: readonly OptionSpec[] = [
  { key: "host", flag: "host", type: { kind: "string" }, default: "127.0.0.1", help: "interface to listen on" },
  { key: "port", flag: "port", type: int(0, 65535), default: DEFAULTS.port, help: "TCP port (0 = ephemeral)" },
  { key: "allowedOrigins", flag: "allowed-origins", type: { kind: "origins" }, default: "", help: "browser pages that may connect and use the HTTP API besides the broker's own origin: comma-separated origins (https://app.example.com,http://127.0.0.1:5173), or * for any" },
  { key: "brokerId", flag: "broker-id", type: { kind: "string" }, default: "", help: "broker id, 1-64 of A-Z a-z 0-9 . _ - (default: random)" },
  { key: "heartbeatIntervalMs", flag: "heartbeat-interval-ms", type: int(10, 3_600_000), default: DEFAULTS.heartbeatIntervalMs, help: "heartbeat interval announced to peers" },
  { key: "heartbeatTimeoutMs", flag: "heartbeat-timeout-ms", type: int(20, 3_600_000), default: DEFAULTS.heartbeatTimeoutMs, help: "silence after which a session is evicted" },
  { key: "maxFrameBytes", flag: "max-frame-bytes", type: int(64 * 1024, 1 << 30), default: DEFAULTS.maxFrameBytes, help: "largest accepted message" },
  { key: "maxInFlight", flag: "max-in-flight", type: int(1, 1 << 30), default: DEFAULTS.maxInFlight, help: "open tasks + requests per session" },
  { key: "maxSubscriptions", flag: "max-subscriptions", type: int(1, 1 << 20), default: 1_000, help: "topic subscriptions one session may hold" },
  { key: "events", flag: "events", type: { kind: "string" }, default: "memory", help: "event store: memory, or a PostgreSQL URL postgres://user@host:port/db (docs/events.md)" },
  { key: "eventsMax", flag: "events-max", type: int(0, 10_000_000), default: 100_000, help: "events the in-memory event store keeps for replay, newest first (0 = no event store)" },
  { key: "eventsBuffer", flag: "events-buffer", type: int(1, 10_000_000), default: 50_000, help: "PostgreSQL store: events waiting to be written before new ones are dropped (and counted)" },
  { key: "eventsDurable", flag: "events-durable", type: { kind: "bool" }, default: false, help: "PostgreSQL store: send accepted only once the task's task.submitted event is committed" },
  { key: "eventsRetentionMs", flag: "events-retention", type: { kind: "duration" }, default: 0, help: "drop recorded events older than this, e.g. 7d, 12h, 30m (0 = keep)" },
  { key: "eventsPayloads", flag: "events-payloads", type: int(0, 16 << 20), default: 0, help: "bytes of a task's input and output the event store keeps (0 = none; larger ones only by size)" },
  { key: "maxQueueLength", flag: "max-queue-length", type: int(1, 1 << 30), default: DEFAULTS.maxQueueLength, help: "queued tasks per capability" },
  { key: "taskTimeoutMs", flag: "task-timeout-ms", type: int(1, MAX_MS), default: DEFAULTS.taskTimeoutMs, help: "default task timeout" },
  { key: "requestTimeoutMs", flag: "request-timeout-ms", type: int(1, MAX_MS), default: DEFAULTS.requestTimeoutMs, help: "default request timeout" },
  { key: "maxAttempts", flag: "max-attempts", type: int(1, 100), default: DEFAULTS.maxAttempts, help: "default max attempts per task" },
  { key: "defaultStrategy", flag: "default-strategy", type: { kind: "enum", values: STRATEGIES }, default: "round_robin", help: "routing strategy when a submit names none" },
  { key: "sendBufferBytes", flag: "send-buffer-bytes", type: int(1024, 1 << 30), default: DEFAULTS.sendBufferBytes, help: "per-socket send buffer bound (slow consumer)" },
  { key: "shutdownGraceMs", flag: "shutdown-grace-ms", type: int(0, 3_600_000), default: DEFAULTS.shutdownGraceMs, help: "wait for in-flight tasks on SIGTERM" },
  { key: "resultTtlMs", flag: "result-ttl-ms", type: int(1_000, MAX_MS), default: 300_000, help: "keep ended tasks (results, idempotency keys) this long" },
  { key: "maxEndedTasks", flag: "max-ended-tasks", type: int(0, 1 << 30), default: 100_000, help: "most ended tasks kept at once (oldest dropped first)" },
  { key: "maxEndedBytes", flag: "max-ended-bytes", type: int(0, 2 ** 40), default: 64 * 1024 * 1024, help: "most estimated bytes of ended tasks kept at once (record + output + error; oldest dropped first)" },
  { key: "logLevel", flag: "log-level", type: { kind: "enum", values: LOG_LEVELS }, default: "info", help: "pino log level" },
  { key: "redis", flag: "redis", type: { kind: "string" }, default: "", help: "join a broker mesh over this Redis URL, e.g. redis://host:6379" },
  { key: "redisCluster", flag: "redis-cluster", type: { kind: "string" }, default: "", help: "join a broker mesh over Redis Cluster: host:port,host:port,..." },
  { key: "meshSweepMs", flag: "mesh-sweep-ms", type: int(100, 3_600_000), default: 10_000, help: "mesh: period of the orphaned-key sweep and response-key count" },
  { key: "meshLivenessMs", flag: "mesh-liveness-ms", type: int(50, 60_000), default: 1_000, help: "mesh: liveness refresh period; a broker silent for 3 x this is dead and its tasks are reclaimed" },
  { key: "meshResponseMarginMs", flag: "mesh-response-margin-ms", type: int(1_000, MAX_MS), default: 30_000, help: "mesh: a stored result outlives its task's timeout by this much" },
];

export interface BrokerConfig {
  host: string;
  port: number;
  /** Origins of browser pages allowed besides the broker's own: "" (none), "*" (any), or origins joined by commas (origins.ts). */
  allowedOrigins: string;
  brokerId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  maxFrameBytes: number;
  maxInFlight: number;
  maxSubscriptions: number;
  /** "memory", or the PostgreSQL URL of the event store. */
  events: string;
  eventsMax: number;
  eventsBuffer: number;
  eventsDurable: boolean;
  eventsRetentionMs: number;
  eventsPayloads: number;
  maxQueueLength: number;
  taskTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
  defaultStrategy: Strategy;
  sendBufferBytes: number;
  shutdownGraceMs: number;
  resultTtlMs: number;
  maxEndedTasks: number;
  /** Bound on the estimated bytes of the ended tasks kept (`retainedBytes` in tasks/task-table.ts). */
  maxEndedBytes: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Redis URL of the mesh; "" = single broker (in-memory backend). */
  redis: string;
  /** Redis Cluster seed nodes `host:port,...`; "" = none. Exclusive with `redis`. */
  redisCluster: string;
  /** Period of the mesh's orphaned-key sweep (and its response-key count). */
  meshSweepMs: number;
  meshLivenessMs: number;
  meshResponseMarginMs: number;
  auth: { tokens: TokenAcl[] };
  /** `pools` of the config file: operator limits and autoscaler settings (pools/settings.ts) [POOL-6]. */
  pools?: PoolsConfig | undefined;
  /** Extra HTTP handlers on the broker's port by path prefix, behind its auth (embedding only: no flag or file key). */
  mounts?: readonly HttpMount[];
}

const FileSchema = z
  .object({ auth: z.object({ tokens: z.array(TokenSchema) }).partial().optional(), pools: PoolsConfigSchema.optional() })
  .catchall(z.unknown());

/** A bad configuration value; `bin` prints the message as one line and exits 2. */
export class ConfigError extends Error {}

/** What an empty default means, where it is not "none". */
const EMPTY_DEFAULT: Partial<Record<OptionSpec["key"], string>> = { brokerId: "random", allowedOrigins: "same origin only" };

export function usage(): string {
  const lines = OPTIONS.map((o) => `  --${o.flag.padEnd(24)} ${o.help} (default ${o.default === "" ? (EMPTY_DEFAULT[o.key] ?? "none") : o.default}; env ${envName(o)})`);
  return [
    "usage: agentwire-broker [options]",
    "",
    "options:",
    ...lines,
    `  --${"config".padEnd(24)} JSON config file: any option in camelCase, plus auth.tokens and pools (broker/README.md)`,
    `  --${"help".padEnd(24)} print this help`,
  ].join("\n");
}

const envName = (o: OptionSpec): string => `AGENTWIRE_${o.flag.replace(/-/g, "_").toUpperCase()}`;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function convert(o: OptionSpec, raw: unknown, source: string): string | number | boolean {
  const got = typeof raw === "string" ? JSON.stringify(raw) : String(raw);
  switch (o.type.kind) {
    case "int": {
      const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < o.type.min || n > o.type.max) {
        throw new ConfigError(`${source}: expected integer ${o.type.min}..${o.type.max}, got ${got}`);
      }
      return n;
    }
    case "enum":
      if (typeof raw !== "string" || !o.type.values.includes(raw)) {
        throw new ConfigError(`${source}: expected one of ${o.type.values.join(", ")}, got ${got}`);
      }
      return raw;
    case "string":
      if (typeof raw !== "string" || raw.length === 0) throw new ConfigError(`${source}: expected a non-empty string, got ${got}`);
      return raw;
    case "duration": {
      const m = typeof raw === "number" ? [String(raw), String(raw), "ms"] : typeof raw === "string" ? /^(\d{1,12})(ms|s|m|h|d)?$/.exec(raw.trim()) : null;
      const ms = m === null ? NaN : Number(m[1]) * UNIT_MS[m[2] ?? "ms"]!;
      if (!Number.isSafeInteger(ms) || ms < 0) throw new ConfigError(`${source}: expected a duration such as 90s, 30m, 12h, 7d (or milliseconds), got ${got}`);
      return ms;
    }
    case "bool":
      if (raw === true || raw === "true") return true;
      if (raw === false || raw === "false") return false;
      throw new ConfigError(`${source}: expected true or false, got ${got}`);
    case "origins": {
      const entries: unknown[] = typeof raw === "string" ? raw.split(",").map((e) => e.trim()) : Array.isArray(raw) ? raw : [raw];
      if (entries.length === 1 && entries[0] === "*") return "*";
      const origins = entries.map((e) => (typeof e === "string" ? originOf(e) : undefined));
      const bad = origins.indexOf(undefined);
      if (bad !== -1) {
        throw new ConfigError(`${source}: expected * or comma-separated origins scheme://host[:port] without a path (https://app.example.com,http://127.0.0.1:5173), got ${JSON.stringify(entries[bad])}`);
      }
      return origins.join(",");
    }
  }
}

export interface ParsedArgs {
  help: boolean;
  config: BrokerConfig;
}

/** Parses argv (without node and script) and env into a validated config; throws ConfigError. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  const flags = new Map<string, string>();
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { help: true, config: defaults() };
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = OPTIONS.find((o) => o.flag === name);
    if (name !== "config" && spec === undefined) throw new ConfigError(`--${name}: unknown option (see --help)`);
    if (value === undefined && spec?.type.kind === "bool") {
      // A flag alone means true; a following true/false is its value.
      value = argv[i + 1] === "true" || argv[i + 1] === "false" ? argv[++i]! : "true";
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`--${name}: missing value`);
    }
    if (name === "config") configPath = value;
    else flags.set(name, value);
  }
  configPath ??= env.AGENTWIRE_CONFIG;

  let file: z.infer<typeof FileSchema> = {};
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(configPath, "utf8");
    } catch (err) {
      throw new ConfigError(`--config: cannot read ${configPath}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`--config: ${configPath} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = FileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`--config: ${configPath}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
    }
    file = parsed.data;
  }

  const config = defaults();
  const out = config as unknown as Record<string, unknown>;
  for (const o of OPTIONS) {
    const flag = flags.get(o.flag);
    const fromEnv = env[envName(o)];
    const fromFile = file[o.key];
    if (flag !== undefined) out[o.key] = convert(o, flag, `--${o.flag}`);
    else if (fromEnv !== undefined) out[o.key] = convert(o, fromEnv, envName(o));
    else if (fromFile !== undefined) out[o.key] = convert(o, fromFile, `${configPath}: ${o.key}`);
  }
  config.auth = { tokens: file.auth?.tokens ?? [] };
  if (file.pools !== undefined) config.pools = file.pools;
  if (config.heartbeatTimeoutMs < 2 * config.heartbeatIntervalMs) {
    throw new ConfigError(
      `--heartbeat-timeout-ms: expected at least 2 x heartbeat interval (${2 * config.heartbeatIntervalMs}), got ${config.heartbeatTimeoutMs}`,
    );
  }
  // The id names this broker's Redis keys (`aw:{b:<id>}:...`, a Cluster hash tag) and prefixes task ids.
  if (config.brokerId !== "" && !/^[A-Za-z0-9._-]{1,64}$/.test(config.brokerId)) {
    throw new ConfigError(`--broker-id: expected 1-64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(config.brokerId)}`);
  }
  if (config.events !== "memory" && !/^postgres(ql)?:\/\/./.test(config.events)) {
    throw new ConfigError(`--events: expected memory or postgres://user@host:port/database, got ${JSON.stringify(config.events)}`);
  }
  if (config.eventsDurable && config.events === "memory") throw new ConfigError("--events-durable: needs --events postgres://... (the memory store has nothing to wait for)");
  if (config.redis !== "" && config.redisCluster !== "") throw new ConfigError("--redis-cluster: cannot be combined with --redis");
  if (config.redis !== "" && !/^rediss?:\/\//.test(config.redis)) throw new ConfigError(`--redis: expected redis://host:port, got ${JSON.stringify(config.redis)}`);
  if (config.redisCluster !== "" && !config.redisCluster.split(",").every((n) => /^[^:,\s]+:\d{1,5}$/.test(n))) {
    throw new ConfigError(`--redis-cluster: expected host:port,host:port,..., got ${JSON.stringify(config.redisCluster)}`);
  }
  return { help: false, config };
}

export function defaults(): BrokerConfig {
  const config = { auth: { tokens: [] } } as unknown as Record<string, unknown>;
  for (const o of OPTIONS) config[o.key] = o.default;
  return config as unknown as BrokerConfig;
}
