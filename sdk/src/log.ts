/**
 * Logging without a logging library in the core: any pino logger satisfies `Logger`, and without one
 * the SDK writes one JSON line per record through `console` at the level `AGENTWIRE_LOG_LEVEL` names
 * (default "warn"; "silent" turns it off). Browsers get the same lines in their console.
 */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/** The part of pino's interface the SDK uses; pass `pino()` (or a child of it) to get pino's output. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `AGENTWIRE_LOG_LEVEL` where there is an environment (Node), else "warn". */
export function envLogLevel(): LogLevel {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.AGENTWIRE_LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(value ?? "") ? (value as LogLevel) : "warn";
}

function errorJson(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const { code, details } = err as { code?: unknown; details?: unknown };
  return { type: err.name, message: err.message, code, details, stack: err.stack };
}

/** The default logger: JSON lines through console.log (below warn) and console.error (warn, error). */
export function consoleLogger(name: string, level: LogLevel = envLogLevel(), bindings: Record<string, unknown> = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const make = (lvl: Exclude<LogLevel, "silent">): LogFn => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return () => undefined;
    const out = LOG_LEVELS.indexOf(lvl) >= LOG_LEVELS.indexOf("warn") ? console.error : console.log;
    return ((a: object | string, msg?: string) => {
      const fields = typeof a === "string" ? { msg: a } : { ...(a as Record<string, unknown>), msg };
      if ("err" in fields) fields.err = errorJson(fields.err);
      out(JSON.stringify({ level: lvl, time: Date.now(), name, ...bindings, ...fields }));
    }) as LogFn;
  };
  return {
    trace: make("trace"),
    debug: make("debug"),
    info: make("info"),
    warn: make("warn"),
    error: make("error"),
    child: (more) => consoleLogger(name, level, { ...bindings, ...more }),
  };
}

/** Lets a timer not keep a Node process alive; a no-op where timers have no `unref` (browsers). */
export function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

export type Timer = ReturnType<typeof setTimeout>;
