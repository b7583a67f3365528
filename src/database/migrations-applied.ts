// Whether every migration in prisma/migrations is already applied, read from Prisma's own
// `_prisma_migrations` table. Starting Prisma's migrate engine costs about 2.5 s of a start (a
// second Node process, the CLI, the WebAssembly engine), so a start whose migrations have nothing
// to do skips it. The check only ever says "up to date" when it is sure: every local migration has
// a finished, not rolled-back row with the same checksum, and no other row is unfinished or unknown.
// Anything else (no table, a failed or foreign row, an unreadable file, a query error) answers
// false, and the engine runs and decides, as it always did.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./project-root.ts";

export const migrationsDir = () => join(projectRoot(), "prisma", "migrations");

export interface LocalMigration {
  name: string;
  /** What Prisma stores in `_prisma_migrations.checksum`: the SHA-256 of migration.sql, hex. */
  checksum: string;
}

/** Runs one SQL statement and returns its rows. */
export type QueryRows = (sql: string) => Promise<Array<Record<string, unknown>>>;

export function localMigrations(dir = migrationsDir()): LocalMigration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => ({
      name,
      checksum: createHash("sha256")
        .update(readFileSync(join(dir, name, "migration.sql")))
        .digest("hex"),
    }));
}

/** True only when the migrate engine would certainly have nothing to do. */
export async function migrationsUpToDate(query: QueryRows, dir?: string): Promise<boolean> {
  try {
    const local = localMigrations(dir);
    if (local.length === 0) return false;
    const [table] = await query("SELECT to_regclass('_prisma_migrations')::text AS name");
    if (!table?.name) return false;
    const rows = await query(
      "SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back FROM _prisma_migrations",
    );
    const applied = new Map<string, string>();
    for (const row of rows) {
      if (row.rolled_back === true) continue;
      // Started but not finished: a failed (or running) migration, which the engine must report.
      if (row.finished !== true) return false;
      applied.set(String(row.migration_name), String(row.checksum));
    }
    const known = new Set(local.map((m) => m.name));
    // A migration this code does not have: the database is ahead of it; let the engine say so.
    for (const name of applied.keys()) if (!known.has(name)) return false;
    return local.every((m) => applied.get(m.name) === m.checksum);
  } catch {
    return false;
  }
}

/**
 * A Postgres URL the check can read the right `_prisma_migrations` from. Prisma takes the schema
 * from `?schema=`; node-postgres ignores that parameter, so such URLs always go to the engine.
 */
export function checkableUrl(url: string): boolean {
  try {
    const schema = new URL(url).searchParams.get("schema");
    return schema === null || schema === "public";
  } catch {
    return false;
  }
}
