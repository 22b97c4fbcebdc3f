/**
 * A private PostgreSQL for event-store suites: one server per file (the testkit's `startPostgres`),
 * a fresh database per test, and plain queries to check what brokers wrote.
 */
import pg from "pg";
import { startPostgres, type PostgresInstance } from "@agentwire/testkit";

let made = 0;

/** Creates an empty database on `server` and returns its URL: each test's events apart from the others'. */
export async function freshDatabase(server: PostgresInstance): Promise<string> {
  const name = `aw_${process.pid}_${++made}`;
  await query(server.url, `CREATE DATABASE ${name}`);
  return server.url.replace(/\/[^/]*$/, `/${name}`);
}

/** Runs one statement on a connection of its own and returns its rows. */
export async function query<T extends object = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Runs `body` with a PostgreSQL server of its own (a test that stops or pauses it) and a fresh
 * database on it; the server is resumed if paused and stopped after, whatever happened.
 */
export async function withOwnPostgres(body: (server: PostgresInstance, url: string) => Promise<void>): Promise<void> {
  const server = await startPostgres();
  try {
    await body(server, await freshDatabase(server));
  } finally {
    server.resume();
    await server.stop();
  }
}
