// Test databases on a real Postgres server (TEST_DATABASE_URL): one template per test run, migrated
// with the real migrations by the global setup, and databases copied from it for the test files.
//
// Names carry the run's id: `bot_template_<run>` and `bot_test_<run>_<file>_<n>`. A run holds a
// session-level advisory lock (keyed by its id) for as long as it lives, so another run can tell a
// live run's databases from those of one that died (killed, crashed) and drop only the latter.
import { randomBytes } from "node:crypto";
import pg from "pg";

/** What the global setup hands the test files (through vitest's `provide`). */
export interface TestServer {
  /** The URL the tests were given; its database is where CREATE/DROP DATABASE are issued from. */
  adminUrl: string;
  runId: string;
  template: string;
}

/** The variable that points the tests at a server. Unset: the embedded database (PGlite). */
export const TEST_DATABASE_URL = "TEST_DATABASE_URL";

// Advisory lock keys: (this constant, the run id as a number); visible server-wide in pg_locks.
const LOCK_CLASS = 0x626f74; // "bot"
const NAME = /^bot_(?:template|test)_([0-9a-f]{7})(?:_|$)/;

export const newRunId = () => randomBytes(4).toString("hex").slice(0, 7);
export const templateName = (runId: string) => `bot_template_${runId}`;
export const testDatabasePrefix = (runId: string) => `bot_test_${runId}_`;

/** `url` with its database replaced by `database`. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The server and role, never the password: for messages. */
export function describeServer(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.host}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

export async function connect(url: string, what: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: "bot-tests" });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(
      `${what}: could not connect to ${describeServer(url)} (${(e as Error).message}). ` +
        `${TEST_DATABASE_URL} must point at a running Postgres server with pgvector, as a role that may CREATE DATABASE.`,
    );
  }
  return client;
}

export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Drops a database, disconnecting whoever is still on it (a test that leaked a connection). */
export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
}

/**
 * Marks this run as alive for as long as `admin` stays connected (the lock is the session's), then
 * drops what dead runs left behind.
 */
export async function claimRun(admin: pg.Client, runId: string): Promise<string[]> {
  await admin.query("SELECT pg_advisory_lock($1, $2)", [LOCK_CLASS, Number.parseInt(runId, 16)]);
  // Databases before locks: a run takes its lock before it creates anything, so every database
  // listed here whose run is alive belongs to a lock the next query sees.
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'bot\\_template\\_%' OR datname LIKE 'bot\\_test\\_%'",
  );
  const { rows: live } = await admin.query<{ objid: string }>(
    "SELECT objid::text FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted",
    [LOCK_CLASS],
  );
  const alive = new Set(live.map((r) => Number(r.objid)));
  const stale = rows
    .map((r) => r.datname)
    .filter((name) => {
      const run = NAME.exec(name)?.[1];
      return run !== undefined && !alive.has(Number.parseInt(run, 16));
    });
  // Copies first: a template cannot be dropped while something is being copied from it.
  stale.sort((a, b) => Number(a.startsWith("bot_template_")) - Number(b.startsWith("bot_template_")));
  for (const name of stale) await dropDatabase(admin, name);
  return stale;
}

/** Drops the run's template and every database copied from it, then ends the run's session. */
export async function releaseRun(admin: pg.Client, runId: string): Promise<void> {
  try {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
      [testDatabasePrefix(runId)],
    );
    for (const r of rows) await dropDatabase(admin, r.datname);
    await dropDatabase(admin, templateName(runId));
  } finally {
    await admin.end();
  }
}

/** Waits until nobody is connected to `database` (the migrate engine's connection closes late). */
export async function waitUntilIdle(admin: pg.Client, database: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
      [database],
    );
    if (rows[0]?.n === 0) return;
    if (Date.now() > end)
      throw new Error(`${database} still has ${rows[0]?.n} connection(s) after migrating`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
