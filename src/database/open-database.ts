// Opens the bot's database: migrations first (Prisma's migrate engine, skipped when every migration
// is already applied), then a Prisma client over the right driver adapter. Embedded PGlite when
// DATABASE_URL is unset, node-postgres when it is set.
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { DatabaseConfig } from "../config.ts";
import { PrismaClient } from "../generated/prisma/client.ts";
import { openPGlite } from "./adapters.ts";
import { acquireDataDirLock, pgliteDir } from "./data-dir-lock.ts";
import { applyMigrations } from "./migrate.ts";
import { checkableUrl, migrationsUpToDate } from "./migrations-applied.ts";
import { servePGlite } from "./pglite-server.ts";

export type Database = PrismaClient;

/**
 * PGlite runs one transaction at a time and queues the rest. If a queued interactive transaction
 * waits longer than Prisma's maxWait (2 s by default), Prisma gives up on it, but the queued
 * transaction still starts later and is never finished, holding the database forever. So waiting
 * in the queue must not time out; a transaction that runs too long is still rolled back.
 */
export const transactionOptions = { maxWait: 10 * 60_000, timeout: 60_000 } as const;

export interface OpenDatabase {
  db: Database;
  kind: "pglite" | "postgres";
  /** "applied": the migrate engine ran; "up to date": every migration was already applied. */
  migrations: "applied" | "up to date";
  /** The embedded database, when there is one (tests serve it over a socket). */
  pglite?: PGlite;
  close(): Promise<void>;
}

/** Migrates an open PGlite through a loopback socket, so only this process ever opens its files. */
export async function migratePGlite(pglite: PGlite): Promise<string> {
  const served = await servePGlite(pglite);
  try {
    return await applyMigrations(served.url);
  } finally {
    await served.stop();
  }
}

/** Reads `_prisma_migrations` on a Postgres server with one short-lived connection. */
async function serverUpToDate(url: string): Promise<boolean> {
  if (!checkableUrl(url)) return false;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    return await migrationsUpToDate(async (sql) => (await client.query(sql)).rows);
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function openDatabase(config: DatabaseConfig): Promise<OpenDatabase> {
  if (config.url) {
    const upToDate = await serverUpToDate(config.url);
    if (!upToDate) await applyMigrations(config.url);
    const db = new PrismaClient({
      adapter: new PrismaPg({ connectionString: config.url }),
      transactionOptions,
    });
    return {
      db,
      kind: "postgres",
      migrations: upToDate ? "up to date" : "applied",
      close: () => db.$disconnect(),
    };
  }
  // Lock first: a second bot on the same directory must stop before it touches the files.
  const release = acquireDataDirLock(config.dataDir);
  let pglite: PGlite | undefined;
  try {
    pglite = await openPGlite(pgliteDir(config.dataDir));
    const opening = pglite;
    const upToDate = await migrationsUpToDate(
      async (sql) => (await opening.query<Record<string, unknown>>(sql)).rows,
    );
    if (!upToDate) await migratePGlite(pglite);
    const db = new PrismaClient({ adapter: new PrismaPGlite(pglite), transactionOptions });
    const opened = pglite;
    return {
      db,
      kind: "pglite",
      migrations: upToDate ? "up to date" : "applied",
      pglite: opened,
      async close() {
        await db.$disconnect();
        if (!opened.closed) await opened.close();
        release();
      },
    };
  } catch (e) {
    if (pglite && !pglite.closed) await pglite.close();
    release();
    throw e;
  }
}
