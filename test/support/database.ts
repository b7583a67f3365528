// A migrated database for a test: `createTestDatabase()` gives Prisma on a database in the state
// the real migrations leave it in, and `close()` gives it back.
//
//  * By default the database is PGlite in-process; `{ via: "pg" }` serves it over the Postgres wire
//    protocol and connects with @prisma/adapter-pg, the path a real DATABASE_URL takes.
//  * With TEST_DATABASE_URL set, every test database is a database on that Postgres server, copied
//    from the run's migrated template (see global-setup.ts), and Prisma reaches it with
//    @prisma/adapter-pg and a real connection pool, whichever `via` a test asks for.
//
// A file keeps its databases: `close()` disconnects the test's client and empties the tables (see
// database-reset.ts), and the next `createTestDatabase()` of the same file gets that database again,
// indistinguishable from a fresh copy. A database a test changed the schema of, or left a transaction
// open on, is thrown away instead. The file's databases are dropped when it ends (file-hooks.ts).
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapterFactory } from "@prisma/client/runtime/library";
import type pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { inject } from "vitest";
import { pgliteDir } from "../../src/database/data-dir-lock.ts";
import { transactionOptions } from "../../src/database/open-database.ts";
import { type ServedPGlite, servePGlite } from "../../src/database/pglite-server.ts";
import { PrismaClient } from "../../src/generated/prisma/client.ts";
import { type PristineState, readPristineState, resetDatabase, type Sql } from "./database-reset.ts";
import { afterEachFile } from "./file-hooks.ts";
import {
  connect,
  databaseUrl,
  dropDatabase,
  ident,
  TEST_DATABASE_URL,
  type TestServer,
  testDatabasePrefix,
} from "./postgres-server.ts";

export interface TestDatabase {
  db: PrismaClient;
  /** The embedded database underneath. Only on PGlite: on a server run, reading it throws. */
  pglite: PGlite;
  /** The URL the database is served on: with `via: "pg"`, and always on a server run. */
  url?: string;
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  via?: "pglite" | "pg";
}

let template: Blob | undefined;

export async function createEmptyPGlite(): Promise<PGlite> {
  return PGlite.create({ extensions: { vector } });
}

/** A fresh, migrated PGlite of its own (not shared with other tests), on either kind of run. */
export async function createMigratedPGlite(): Promise<PGlite> {
  template ??= new Blob([readFileSync(inject("templateDatabase"))]);
  return PGlite.create({ loadDataDir: template, extensions: { vector } });
}

/**
 * Fills an empty DATA_DIR with the migrated template, as a bot that has run before leaves it: a
 * real bot process started on it skips initdb and finds nothing to migrate.
 */
export async function seedDataDir(dataDir: string): Promise<void> {
  template ??= new Blob([readFileSync(inject("templateDatabase"))]);
  mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create({
    dataDir: pgliteDir(dataDir),
    loadDataDir: template,
    extensions: { vector },
  });
  await db.close();
}

/**
 * An empty database (no migrations applied), reachable at a URL: for tests of the migrate path
 * itself. PGlite served on loopback; on a server run, a new database on that server.
 */
export async function createEmptyDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  const server = inject("testServer");
  if (!server) {
    const pglite = await createEmptyPGlite();
    const served = await servePGlite(pglite);
    return {
      url: served.url,
      async close() {
        await served.stop();
        await pglite.close();
      },
    };
  }
  const admin = await connect(server.adminUrl, TEST_DATABASE_URL);
  const name = `${testDatabasePrefix(server.runId)}empty_${randomBytes(3).toString("hex")}`;
  try {
    await admin.query(`CREATE DATABASE ${ident(name)}`);
  } catch (e) {
    await admin.end();
    throw e;
  }
  return {
    url: databaseUrl(server.adminUrl, name),
    async close() {
      try {
        await dropDatabase(admin, name);
      } finally {
        await admin.end();
      }
    },
  };
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  return (await pool()).checkout(options.via ?? "pglite");
}

// ---- A file's databases -------------------------------------------------------------------------

/** One database, serving one test at a time. */
interface Slot {
  sql: Sql;
  /** A client for one test; its `release` disconnects it and makes it refuse further queries. */
  open(via: "pglite" | "pg"): Promise<{ db: PrismaClient; url?: string; release(): Promise<void> }>;
  pglite?: PGlite;
  /** Back to the pristine state; false when that is not possible (the slot must be destroyed). */
  reset(pristine: PristineState): Promise<boolean>;
  destroy(): Promise<void>;
}

interface Backend {
  create(): Promise<Slot>;
  close(): Promise<void>;
}

class Pool {
  private readonly idle: Slot[] = [];
  private readonly all = new Set<Slot>();
  private pristine?: Promise<PristineState>;
  private ended = false;

  constructor(private readonly backend: Backend) {}

  async checkout(via: "pglite" | "pg"): Promise<TestDatabase> {
    const slot = this.idle.pop() ?? (await this.create());
    let client: Awaited<ReturnType<Slot["open"]>>;
    try {
      client = await slot.open(via);
    } catch (e) {
      await this.discard(slot);
      throw e;
    }
    let closing: Promise<void> | undefined;
    const pglite = slot.pglite;
    return {
      db: client.db,
      get pglite(): PGlite {
        if (!pglite)
          throw new Error(
            `This test reaches into PGlite, but the run's databases are on a Postgres server (${TEST_DATABASE_URL}): run it on PGlite only.`,
          );
        return pglite;
      },
      url: client.url,
      close: () => {
        closing ??= (async () => {
          await bounded(client.release(), "disconnecting the test's client");
          await this.giveBack(slot);
        })();
        return closing;
      },
    };
  }

  /** Destroys every database of the file, including any a test never closed. */
  async end(): Promise<void> {
    this.ended = true;
    this.idle.length = 0;
    await Promise.allSettled([...this.all].map((s) => this.discard(s)));
    await this.backend.close();
  }

  private async create(): Promise<Slot> {
    const slot = await this.backend.create();
    this.all.add(slot);
    // Read before any test has touched a database: the first slot is the pristine copy.
    this.pristine ??= readPristineState(slot.sql);
    await this.pristine;
    return slot;
  }

  private async giveBack(slot: Slot): Promise<void> {
    const pristine = this.pristine && (await this.pristine);
    const clean =
      !this.ended &&
      pristine !== undefined &&
      (await bounded(slot.reset(pristine), "resetting the database").catch(() => false));
    if (clean === true) this.idle.push(slot);
    else await this.discard(slot);
  }

  private async discard(slot: Slot): Promise<void> {
    this.all.delete(slot);
    await bounded(slot.destroy(), "dropping a test database").catch(() => {});
  }
}

let current: Promise<Pool> | undefined;

function pool(): Promise<Pool> {
  current ??= (async () => {
    const server = inject("testServer");
    const p = new Pool(server ? await serverBackend(server) : pgliteBackend());
    afterEachFile(async () => {
      current = undefined;
      await p.end();
    });
    return p;
  })();
  return current;
}

// ---- PGlite -------------------------------------------------------------------------------------

function pgliteBackend(): Backend {
  return {
    async create() {
      const pglite = await createMigratedPGlite();
      const sql: Sql = async (text) => (await pglite.query<Record<string, unknown>>(text)).rows;
      return {
        sql,
        pglite,
        async open(via) {
          let served: ServedPGlite | undefined;
          let factory: SqlDriverAdapterFactory;
          if (via === "pg") {
            served = await servePGlite(pglite);
            // One connection: the socket server serves one session at a time (see stack notes).
            factory = new PrismaPg({ connectionString: served.url, max: 1 });
          } else {
            factory = new PrismaPGlite(pglite);
          }
          const guard = refusedAfterRelease(factory);
          const db = new PrismaClient({ adapter: guard.factory, transactionOptions });
          return {
            db,
            url: served?.url,
            async release() {
              guard.release();
              await db.$disconnect();
              await served?.stop();
            },
          };
        },
        async reset(pristine) {
          // A transaction still open (a test that never finished one) would hold the database.
          if (pglite.closed || pglite.isInTransaction()) return false;
          if (!(await resetDatabase(sql, pristine))) return false;
          // PGlite is one session for every test: session-level locks must not outlive a test.
          await sql("SELECT pg_advisory_unlock_all()");
          return true;
        },
        async destroy() {
          if (!pglite.closed) await pglite.close();
        },
      };
    },
    async close() {},
  };
}

// ---- A Postgres server --------------------------------------------------------------------------

async function serverBackend(server: TestServer): Promise<Backend> {
  const admin = await connect(server.adminUrl, TEST_DATABASE_URL);
  const file = randomBytes(3).toString("hex");
  let n = 0;
  return {
    async create() {
      n += 1;
      const name = `${testDatabasePrefix(server.runId)}${file}_${n}`;
      await admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(server.template)}`);
      const url = databaseUrl(server.adminUrl, name);
      let maintenance: pg.Client;
      try {
        maintenance = await connect(url, "a test database");
        // A reset waits this long for locks a leaked transaction holds, then gives up on the database.
        await maintenance.query("SET lock_timeout = '5s'");
      } catch (e) {
        await dropDatabase(admin, name);
        throw e;
      }
      const sql: Sql = async (text) => (await maintenance.query(text)).rows;
      return {
        sql,
        async open() {
          const guard = refusedAfterRelease(new PrismaPg({ connectionString: url }));
          const db = new PrismaClient({ adapter: guard.factory, transactionOptions });
          return {
            db,
            url,
            async release() {
              guard.release();
              await db.$disconnect();
            },
          };
        },
        reset: (pristine) => resetDatabase(sql, pristine),
        async destroy() {
          await maintenance.end().catch(() => {});
          await dropDatabase(admin, name);
        },
      };
    },
    close: () => admin.end(),
  };
}

// ---- Helpers ------------------------------------------------------------------------------------

type SqlDriverAdapter = Awaited<ReturnType<SqlDriverAdapterFactory["connect"]>>;

/**
 * Wraps a driver adapter so that, once released, it refuses every query: a test's stray late write
 * (a timer that fires after the test) fails as it did on a closed database, instead of landing in
 * the next test's data.
 */
function refusedAfterRelease(inner: SqlDriverAdapterFactory) {
  let released = false;
  const check = () => {
    if (released) throw new Error("this test database was closed");
  };
  const guardQueries = <T extends object>(target: T, methods: string[]): T => {
    const t = target as Record<string, unknown>;
    for (const m of methods) {
      const original = t[m];
      if (typeof original !== "function") continue;
      t[m] = async (...args: unknown[]) => {
        check();
        return original.apply(target, args);
      };
    }
    return target;
  };
  const factory: SqlDriverAdapterFactory = {
    provider: inner.provider,
    adapterName: inner.adapterName,
    async connect() {
      check();
      const adapter: SqlDriverAdapter = await inner.connect();
      const start = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel) => {
        check();
        return guardQueries(await start(isolationLevel), ["queryRaw", "executeRaw"]);
      };
      return guardQueries(adapter, ["queryRaw", "executeRaw", "executeScript"]);
    },
  };
  return {
    factory,
    release() {
      released = true;
    },
  };
}

const BOUND_MS = 15_000;

/** `work`, or false if it has not finished within BOUND_MS (a hung reset must not hang the file). */
async function bounded<T>(work: Promise<T>, what: string): Promise<T | false> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      console.warn(`test database: ${what} took over ${BOUND_MS / 1000} s; the database is replaced`);
      resolve(false);
    }, BOUND_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
