/**
 * `--redis` / `--redis-cluster` (absent = in-memory broker), the event store flags and
 * `--allowed-origins`: validated as one-line ConfigErrors.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, usage } from "../src/config.js";

describe("redis flags", () => {
  it("default to no mesh", () => {
    const { config } = parseConfig([]);
    expect(config.redis).toBe("");
    expect(config.redisCluster).toBe("");
    expect(usage()).toMatch(/--redis\s+join a broker mesh.*\(default none; env AGENTWIRE_REDIS\)/);
  });

  it("accept a URL, a node list, or the env", () => {
    expect(parseConfig(["--redis", "redis://127.0.0.1:7000"]).config.redis).toBe("redis://127.0.0.1:7000");
    expect(parseConfig(["--redis-cluster", "a:7000,b:7001"]).config.redisCluster).toBe("a:7000,b:7001");
    expect(parseConfig([], { AGENTWIRE_REDIS: "redis://h:1" }).config.redis).toBe("redis://h:1");
  });

  it("reject bad values and both at once", () => {
    expect(() => parseConfig(["--redis", "127.0.0.1:7000"])).toThrow(ConfigError);
    expect(() => parseConfig(["--redis-cluster", "a:7000,b"])).toThrow(/--redis-cluster: expected host:port/);
    expect(() => parseConfig(["--redis", "redis://a:1", "--redis-cluster", "a:1"])).toThrow(/cannot be combined/);
  });

  it("mesh timings: defaults, flags, bounds", () => {
    const d = parseConfig([]).config;
    expect([d.meshLivenessMs, d.meshResponseMarginMs]).toEqual([1_000, 30_000]);
    const c = parseConfig(["--mesh-liveness-ms", "250", "--mesh-response-margin-ms", "5000"]).config;
    expect([c.meshLivenessMs, c.meshResponseMarginMs]).toEqual([250, 5_000]);
    expect(() => parseConfig(["--mesh-liveness-ms", "10"])).toThrow(/--mesh-liveness-ms: expected integer 50\.\.60000/);
    expect(() => parseConfig(["--mesh-response-margin-ms", "x"])).toThrow(ConfigError);
  });

  it("accept a broker id that fits a Redis hash tag and reject one that does not", () => {
    expect(parseConfig(["--broker-id", "eu-1.b_2"]).config.brokerId).toBe("eu-1.b_2");
    for (const bad of ["a}b", "a{b", "a b", "a\nb", "x".repeat(65)]) expect(() => parseConfig(["--broker-id", bad])).toThrow(/--broker-id: expected 1-64/);
  });
});

describe("event store options", () => {
  it("default to the memory ring; accept a PostgreSQL URL, durations and flags alone", () => {
    const { config } = parseConfig([]);
    expect([config.events, config.eventsBuffer, config.eventsDurable, config.eventsRetentionMs]).toEqual(["memory", 50_000, false, 0]);
    const pg = parseConfig(["--events", "postgres://u@h:5432/db", "--events-durable", "--events-retention", "7d", "--events-buffer", "10"]).config;
    expect([pg.events, pg.eventsDurable, pg.eventsRetentionMs, pg.eventsBuffer]).toEqual(["postgres://u@h:5432/db", true, 7 * 86_400_000, 10]);
    expect(parseConfig(["--events", "postgresql://h/db", "--events-durable", "false"]).config.eventsDurable).toBe(false);
    expect(parseConfig(["--events-retention", "90s"]).config.eventsRetentionMs).toBe(90_000);
    expect(parseConfig([], { AGENTWIRE_EVENTS_RETENTION: "30m" }).config.eventsRetentionMs).toBe(1_800_000);
  });

  it("reject what they cannot use, naming the flag", () => {
    expect(() => parseConfig(["--events", "mysql://h/db"])).toThrow(/--events: expected memory or postgres/);
    expect(() => parseConfig(["--events-durable"])).toThrow(/--events-durable: needs --events postgres/);
    expect(() => parseConfig(["--events-retention", "7 days"])).toThrow(/--events-retention: expected a duration/);
    expect(() => parseConfig(["--events-retention", "-1s"])).toThrow(ConfigError);
    expect(() => parseConfig(["--events-buffer", "0"])).toThrow(/--events-buffer: expected integer 1\.\.10000000/);
  });
});

describe("--allowed-origins", () => {
  const fromFile = (allowedOrigins: unknown) => {
    const file = join(mkdtempSync(join(tmpdir(), "aw-config-")), "broker.json");
    writeFileSync(file, JSON.stringify({ allowedOrigins }));
    return parseConfig(["--config", file]).config.allowedOrigins;
  };

  it("defaults to the broker's own origin only", () => {
    expect(parseConfig([]).config.allowedOrigins).toBe("");
    expect(usage()).toMatch(/--allowed-origins\s+browser pages.*\(default same origin only; env AGENTWIRE_ALLOWED_ORIGINS\)/);
  });

  it("accepts origins as browsers send them, or * (flag, env, or a string or array in the file)", () => {
    expect(parseConfig(["--allowed-origins", "https://app.example.com, http://127.0.0.1:5173"]).config.allowedOrigins).toBe("https://app.example.com,http://127.0.0.1:5173");
    // Written as browsers send Origin: lower case, no default port.
    expect(parseConfig(["--allowed-origins=HTTPS://App.Example.com:443,http://[::1]:8080"]).config.allowedOrigins).toBe("https://app.example.com,http://[::1]:8080");
    expect(parseConfig(["--allowed-origins", "*"]).config.allowedOrigins).toBe("*");
    expect(parseConfig([], { AGENTWIRE_ALLOWED_ORIGINS: "http://localhost:3000" }).config.allowedOrigins).toBe("http://localhost:3000");
    expect(fromFile(["https://a.example", "https://b.example:8443"])).toBe("https://a.example,https://b.example:8443");
    expect(fromFile("*")).toBe("*");
  });

  it("rejects an entry that is not scheme://host[:port], naming it and where it came from", () => {
    // [value, the entry the error names]
    const bad: [string, string][] = [
      ["https://app.example.com/", "https://app.example.com/"],
      ["https://app.example.com/app", "https://app.example.com/app"],
      ["app.example.com", "app.example.com"],
      ["https://a.example?x=1", "https://a.example?x=1"],
      ["https://user@a.example", "https://user@a.example"],
      ["https://a.example:99999", "https://a.example:99999"],
      ["null", "null"],
      ["", ""],
      ["https://a.example,", ""],
      ["*,https://a.example", "*"],
    ];
    for (const [value, entry] of bad) {
      expect(() => parseConfig(["--allowed-origins", value]), value).toThrow(ConfigError);
      expect(() => parseConfig(["--allowed-origins", value]), value).toThrow(`--allowed-origins: expected * or comma-separated origins scheme://host[:port] without a path (https://app.example.com,http://127.0.0.1:5173), got ${JSON.stringify(entry)}`);
    }
    expect(() => parseConfig([], { AGENTWIRE_ALLOWED_ORIGINS: "https://a.example/x" })).toThrow(/^AGENTWIRE_ALLOWED_ORIGINS: expected \* or comma-separated origins/);
    expect(() => fromFile(["https://a.example", 5])).toThrow(/: allowedOrigins: expected \* or comma-separated origins .*, got 5$/);
  });
});
