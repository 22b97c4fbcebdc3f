/**
 * The Lua scripts of the mesh, one per file (key count in the name; none when the caller passes it
 * first), registered as ioredis commands.
 * tsc does not copy .lua files, so from dist/ we read them from the package's src/.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";

export const SCRIPTS = { publishAgents: "publish-agents-3", storeResponses: "store-responses", ack: "ack-2", own: "own-2", endTasks: "end-tasks", swap: "swap-1", leave: "leave-2", handOff: "hand-off" } as const;

function source(file: string): string {
  const here = fileURLToPath(new URL(`./${file}.lua`, import.meta.url));
  const path = existsSync(here) ? here : here.replace(/\/dist\/src\/redis\//, "/src/redis/");
  return readFileSync(path, "utf8");
}

export interface MeshCommands {
  publishAgents(alive: string, agents: string, caps: string, ...argv: (string | number)[]): Promise<number>;
  /** `numberOfKeys` = 2 + responses; keys: ready, each response key, open records (optional); argv: id, ttl ms, body per response. */
  storeResponses(numberOfKeys: number, ...keysAndArgv: (string | number | Buffer)[]): Promise<number>;
  ack(stream: string, attempts: string, group: string, ...ids: string[]): Promise<number>;
  /** `numberOfKeys` = 1 + stored responses; keys: open, response keys; argv: ttl + body per response, then every ended id. */
  endTasks(numberOfKeys: number, ...keysAndArgv: (string | number | Buffer)[]): Promise<number>;
  /** Compare-and-set of a hash field (or, with field "", a string with a ttl); 1 when replaced. */
  swap(key: string, field: string, expected: string | Buffer, value: string | Buffer, ttlMs: number): Promise<number>;
  /** argv: group, consumer, then entry id + attempt (0 = unchanged) pairs; one 1 (owned) or 0 (taken) per entry. */
  own(stream: string, attempts: string, group: string, consumer: string, ...pairs: (string | number)[]): Promise<number[]>;
  /** `numberOfKeys` = 1 + tasks; keys: this broker's open records, then each task's target stream; argv: every entry, then id + record per task. */
  handOff(numberOfKeys: number, ...keysAndArgv: (string | Buffer)[]): Promise<number>;
  /** Deletes the task stream when it and the open-task records are empty; 1 when it did. */
  leave(stream: string, open: string): Promise<number>;
}

/** Registers `scripts` (command name -> file; the mesh's by default) on `conn`, typed as commands `C`. */
export function defineScripts<C = MeshCommands>(conn: Redis | Cluster, scripts: Readonly<Record<string, string>> = SCRIPTS): Redis & C {
  for (const [name, file] of Object.entries(scripts)) {
    const keys = Number(file.slice(file.lastIndexOf("-") + 1));
    conn.defineCommand(name, { numberOfKeys: Number.isInteger(keys) ? keys : undefined, lua: source(file) });
  }
  return conn as unknown as Redis & C;
}
