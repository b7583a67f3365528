// The databases the benchmark runs against, opened exactly as the bot opens them (src/database):
// the embedded PGlite in a fresh temporary data directory, or the Postgres of DATABASE_URL. The
// latter must hold no bot data: the benchmark fills it and empties it again when it is done.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase } from "../src/database/open-database.ts";
import type { BenchDb } from "./data.ts";

export type TargetKind = "embedded" | "postgres";

export interface OpenBench extends BenchDb {
  kind: TargetKind;
  close(): Promise<void>;
}

export async function openBench(kind: TargetKind, serverUrl?: string): Promise<OpenBench> {
  if (kind === "embedded") {
    const dir = mkdtempSync(join(tmpdir(), "bench-db-"));
    // In this thread: the reply tables measure the engine and our code; what the worker's socket adds
    // per statement is measured on its own (bench/load.ts).
    const opened = await openDatabase({ dataDir: dir }, { embedded: "in-process" });
    return {
      db: opened.db,
      pglite: opened.pglite,
      kind,
      async close() {
        await opened.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const url = serverUrl ?? process.env.DATABASE_URL;
  if (!url) throw new Error("no Postgres server: set DATABASE_URL");
  const opened = await openDatabase({ url, dataDir: "unused" });
  const db = opened.db;
  const foreign = await db.$queryRawUnsafe<Array<{ n: bigint }>>(
    `SELECT count(*) AS n FROM "User" WHERE "externalId" NOT LIKE 'discord:bench-%'`,
  );
  if (Number(foreign[0]?.n ?? 0) > 0) {
    await opened.close();
    throw new Error(
      "DATABASE_URL points at a database with bot data in it. The benchmark fills and then empties its " +
        "database: point DATABASE_URL at an empty one (e.g. createdb bench) to run it against Postgres.",
    );
  }
  const empty = async () => {
    const tables = await db.$queryRawUnsafe<Array<{ t: string }>>(
      `SELECT tablename::text AS t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_bench\\_%' AND tablename <> '_prisma_migrations'`,
    );
    await db.$executeRawUnsafe(`TRUNCATE ${tables.map((r) => `"${r.t}"`).join(", ")} CASCADE`);
    await db.$executeRawUnsafe(`DROP TABLE IF EXISTS "_bench_word", "_bench_user", "_bench_reply"`);
  };
  await empty();
  return {
    db,
    kind,
    async close() {
      await empty();
      await opened.close();
    },
  };
}

/**
 * The Postgres server to run against: DATABASE_URL when set; otherwise the shared throwaway server
 * (scripts/pgvector-server.sh, as `npm run test:postgres` finds it) with a database of its own,
 * dropped by `release`. Undefined: no server here (the bench then runs on the embedded one only).
 */
export async function serverForBench(
  progress: (line: string) => void,
): Promise<{ url: string; release(): Promise<void> } | undefined> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, release: async () => {} };
  const shared = [
    process.env.PGVECTOR_SCRIPT,
    "../shared/scripts/postgres-pgvector.sh",
    "/work/shared/scripts/postgres-pgvector.sh",
  ];
  if (!shared.some((f) => f && existsSync(f))) return undefined;
  progress("starting the shared Postgres server (scripts/pgvector-server.sh start)");
  const out = execFileSync("bash", ["scripts/pgvector-server.sh", "start"], { encoding: "utf8" });
  const base = /DATABASE_URL='([^']+)'/.exec(out)?.[1];
  if (!base) return undefined;
  const name = `bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async release() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
