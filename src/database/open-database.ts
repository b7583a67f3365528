// Opens the bot's database: migrations first (Prisma's migrate engine, skipped when every migration
// is already applied), then a Prisma client over the right driver adapter. With DATABASE_URL set,
// node-postgres to that server. Unset, the embedded PGlite in DATA_DIR, run in a worker thread
// (pglite-thread.ts) and reached over its socket with node-postgres too, so that its WebAssembly
// never runs on the thread that acknowledges Slack and Discord and answers /healthz.
import type { Worker } from "node:worker_threads";
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
import { type DatabaseWorkerCrashedError, startPGliteThread } from "./pglite-thread.ts";

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
  /** The embedded database, when it runs in this thread (`embedded: "in-process"`). */
  pglite?: PGlite;
  /**
   * Resolves if the embedded database's thread ends on its own (never for a server or in-process):
   * the bot cannot go on without it, so main.ts exits with this error's message.
   */
  crashed: Promise<DatabaseWorkerCrashedError>;
  /** The embedded database's thread, when it has one (tests end it to see a crash handled). */
  worker?: Worker;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * Where the embedded database runs: "worker" (the bot, the demo, the admin CLI: its own thread) or
   * "in-process" (benchmarks that measure the engine itself, without the socket between).
   */
  embedded?: "worker" | "in-process";
}

/**
 * Prisma over node-postgres with one connection: the worker's socket server has one session (PGlite
 * runs one transaction at a time; a second connection would only wait behind the first).
 */
function prismaOverSocket(url: string): { db: Database; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  // An idle connection dropped by the thread would otherwise be an unhandled 'error' event that ends
  // the process with a stack trace; a thread that died is reported through `crashed` instead, and a
  // query on a dropped connection fails on its own.
  pool.on("error", () => {});
  return { db: new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions }), pool };
}

const never = new Promise<never>(() => {});

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

export async function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Promise<OpenDatabase> {
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
      crashed: never,
      close: () => db.$disconnect(),
    };
  }
  // Lock first: a second bot on the same directory must stop before it touches the files.
  const release = acquireDataDirLock(config.dataDir);
  if (options.embedded !== "in-process") {
    try {
      return await openWorkerDatabase(pgliteDir(config.dataDir), release);
    } catch (e) {
      release();
      throw e;
    }
  }
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
      crashed: never,
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

/** The embedded database in its worker thread; migrations go through the same socket. */
async function openWorkerDatabase(dir: string, release: () => void): Promise<OpenDatabase> {
  const thread = await startPGliteThread(dir);
  try {
    const upToDate = await serverUpToDate(thread.url);
    if (!upToDate) await applyMigrations(thread.url);
    const { db, pool } = prismaOverSocket(thread.url);
    // The thread is gone: its files are no longer in use, so the next start need not wait on a lock.
    void thread.crashed.then(release);
    return {
      db,
      kind: "pglite",
      migrations: upToDate ? "up to date" : "applied",
      crashed: thread.crashed,
      worker: thread.worker,
      async close() {
        try {
          await db.$disconnect();
          // Prisma leaves a pool it was given open: end it before the thread's socket goes away.
          await pool.end();
          await thread.stop();
        } finally {
          release();
        }
      },
    };
  } catch (e) {
    await thread.stop().catch(() => {});
    throw e;
  }
}
