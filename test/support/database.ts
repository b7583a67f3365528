// A fresh, migrated database for a test file: a copy of the template the global setup migrated.
// `createTestDatabase()` gives Prisma over PGlite in-process; `{ via: "pg" }` serves the same
// database over the Postgres wire protocol and connects with @prisma/adapter-pg, the path a
// real DATABASE_URL takes.
import { mkdirSync, readFileSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { inject } from "vitest";
import { pgliteDir } from "../../src/database/data-dir-lock.ts";
import { transactionOptions } from "../../src/database/open-database.ts";
import { type ServedPGlite, servePGlite } from "../../src/database/pglite-server.ts";
import { PrismaClient } from "../../src/generated/prisma/client.ts";

export interface TestDatabase {
  db: PrismaClient;
  pglite: PGlite;
  /** Set with `via: "pg"`: the loopback URL the database is served on. */
  url?: string;
  close(): Promise<void>;
}

let template: Blob | undefined;

export async function createEmptyPGlite(): Promise<PGlite> {
  return PGlite.create({ extensions: { vector } });
}

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

export async function createTestDatabase(options: { via?: "pglite" | "pg" } = {}): Promise<TestDatabase> {
  const pglite = await createMigratedPGlite();
  let served: ServedPGlite | undefined;
  let db: PrismaClient;
  if (options.via === "pg") {
    served = await servePGlite(pglite);
    // One connection: the socket server serves one session at a time (see stack notes).
    db = new PrismaClient({
      adapter: new PrismaPg({ connectionString: served.url, max: 1 }),
      transactionOptions,
    });
  } else {
    db = new PrismaClient({ adapter: new PrismaPGlite(pglite), transactionOptions });
  }
  return {
    db,
    pglite,
    url: served?.url,
    async close() {
      await db.$disconnect();
      await served?.stop();
      if (!pglite.closed) await pglite.close();
    },
  };
}
