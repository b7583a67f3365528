// The embedded database (PGlite with pgvector) and the adapter Prisma's CLI migrates through.
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { DatabaseConfig } from "../config.ts";

export async function openPGlite(dataDir: string | undefined): Promise<PGlite> {
  // `dataDir` undefined: in memory (tests); otherwise a directory that persists across restarts.
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  return PGlite.create({ dataDir, extensions: { vector } });
}

/**
 * For the Prisma CLI (`prisma migrate deploy`, `migrate diff`). It always speaks to a server: the bot
 * serves its embedded database on loopback while it migrates (src/database/migrate.ts), and
 * `npm run prisma -- <args>` does the same for people. Opening the PGlite directory here instead
 * would put a second process on it, and Prisma never closes the adapter, so the CLI would not exit.
 */
export async function createMigrationAdapter(config: DatabaseConfig) {
  if (!config.url) {
    throw new Error(
      "DATABASE_URL is not set. For the embedded database run Prisma through `npm run prisma -- <command>`, " +
        "which serves it to the CLI; for a Postgres server set DATABASE_URL.",
    );
  }
  // One connection: the embedded database's socket server handles one session at a time, and the
  // migrate engine needs no more.
  const pool = new pg.Pool({
    connectionString: config.url,
    max: 1,
    allowExitOnIdle: true,
    idleTimeoutMillis: 10_000,
    Client: NameAsTextClient,
  });
  return new PrismaPg(pool);
}

/**
 * Prisma 6.19's migrate engine reads catalog columns of Postgres' `name` type (pg_class.relname),
 * which @prisma/adapter-pg 6.19 rejects as an unsupported column type ("Column type 'name' could not
 * be deserialized"). `name` is text on the wire, so report it as text.
 */
class NameAsTextClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg.Client#query has a dozen overloads; we only post-process.
  override query(...args: any[]): any {
    const fix = (r: pg.QueryResult | undefined) => {
      for (const field of r?.fields ?? [])
        if (field.dataTypeID === PG_NAME_OID) field.dataTypeID = PG_TEXT_OID;
      return r;
    };
    // pg.Pool#query calls its client with a callback; promise callers get a promise back.
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const callback = args[last];
      args[last] = (err: Error | null, r: pg.QueryResult) => callback(err, fix(r));
    }
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    const result = (super.query as (...a: any[]) => any)(...args);
    return result && typeof result.then === "function" ? result.then(fix) : result;
  }
}
const PG_NAME_OID = 19;
const PG_TEXT_OID = 25;
