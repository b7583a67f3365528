// The databases the benchmark runs against, opened exactly as the bot opens them (src/database):
// the embedded PGlite in a fresh temporary data directory, or the Postgres of DATABASE_URL. The
// latter must hold no bot data: the benchmark fills it and empties it again when it is done.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/database/open-database.ts";
import type { BenchDb } from "./data.ts";

export type TargetKind = "embedded" | "postgres";

export interface OpenBench extends BenchDb {
  kind: TargetKind;
  close(): Promise<void>;
}

export async function openBench(kind: TargetKind): Promise<OpenBench> {
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
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set");
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
