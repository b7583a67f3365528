// The data model on both database paths: embedded PGlite in-process, and node-postgres over a real
// TCP connection (PGlite served on loopback, or the server of a TEST_DATABASE_URL run), with the
// real migrations applied by Prisma's engine.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { embeddingSpace, nearestExchanges, storeEmbedding } from "../src/core/exchange-embeddings.ts";
import { applyMigrations } from "../src/database/migrate.ts";
import { checkableUrl, localMigrations, migrationsUpToDate } from "../src/database/migrations-applied.ts";
import { openDatabase } from "../src/database/open-database.ts";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { createEmptyDatabase, createTestDatabase } from "./support/database.ts";

const TABLES = [
  "AdminLimits",
  "CostLedgerEntry",
  "DeletionRecord",
  "Exchange",
  "ExchangeReaction",
  "FineTuneJob",
  "FineTuneProposal",
  "FineTuneProviderRefusal",
  "JobRun",
  "LimitChange",
  "ModelVersion",
  "ProcessedEvent",
  "ProposalExample",
  "ServerSetting",
  "ServerSettingChange",
  "TrainerJob",
  "User",
  "_prisma_migrations",
];

async function schemaOf(db: PrismaClient) {
  const tables = await db.$queryRaw<Array<{ t: string }>>`
    SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`;
  const ext = await db.$queryRaw<
    Array<{ extname: string }>
  >`SELECT extname::text AS extname FROM pg_extension`;
  return { tables: tables.map((r) => r.t), extensions: ext.map((r) => r.extname) };
}

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

describe("migrations", () => {
  it("create the vector extension and every table in an embedded data directory, and re-running them is a no-op", {
    timeout: 120_000,
  }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "bot-db-"));
    tmp.push(dataDir);
    const first = await openDatabase({ dataDir });
    expect(await schemaOf(first.db)).toEqual({
      tables: TABLES,
      extensions: expect.arrayContaining(["vector"]),
    });
    await first.db.user.create({ data: { platform: "discord", externalId: "discord:1" } });
    await first.close();

    // A restart on the same directory: nothing to apply, data kept.
    expect(first.migrations).toBe("applied");

    const second = await openDatabase({ dataDir });
    // Every migration already applied: the start skips Prisma's migrate engine.
    expect(second.migrations).toBe("up to date");
    expect(await second.db.user.count()).toBe(1);
    const applied = await second.db.$queryRaw<
      Array<{ n: bigint }>
    >`SELECT count(*) AS n FROM _prisma_migrations`;
    const migrations = readdirSync("prisma/migrations", { withFileTypes: true }).filter((d) =>
      d.isDirectory(),
    );
    expect(Number(applied[0]!.n)).toBe(migrations.length);
    await second.close();
  });

  it("apply over the pg driver path (DATABASE_URL) and report nothing pending the second time", {
    timeout: 120_000,
  }, async () => {
    // An empty database: PGlite served on loopback, or a new database on a server run's server.
    const empty = await createEmptyDatabase();
    try {
      const opened = await openDatabase({ url: empty.url, dataDir: "unused" });
      expect(opened.kind).toBe("postgres");
      expect(opened.migrations).toBe("applied");
      expect(await schemaOf(opened.db)).toEqual({
        tables: TABLES,
        extensions: expect.arrayContaining(["vector"]),
      });
      await opened.close();
      expect(await applyMigrations(empty.url)).toContain("No pending migrations to apply.");
      const reopened = await openDatabase({ url: empty.url, dataDir: "unused" });
      expect(reopened.migrations).toBe("up to date");
      await reopened.close();
    } finally {
      await empty.close();
    }
  });

  it("are only skipped when every migration is applied as it is on disk; any doubt runs the engine", async () => {
    const t = await createTestDatabase();
    const query = (sql: string) => t.db.$queryRawUnsafe<Array<Record<string, unknown>>>(sql);
    const dir = mkdtempSync(join(tmpdir(), "bot-migrations-"));
    tmp.push(dir);
    cpSync("prisma/migrations", dir, { recursive: true });
    try {
      expect(await migrationsUpToDate(query, dir)).toBe(true);
      // A migration the database has not seen.
      mkdirSync(join(dir, "29991231000000_next"));
      writeFileSync(join(dir, "29991231000000_next", "migration.sql"), "SELECT 1;\n");
      expect(await migrationsUpToDate(query, dir)).toBe(false);
      rmSync(join(dir, "29991231000000_next"), { recursive: true });
      // A migration edited after it was applied.
      const [first] = localMigrations(dir);
      writeFileSync(join(dir, first!.name, "migration.sql"), "-- edited\n", { flag: "a" });
      expect(await migrationsUpToDate(query, dir)).toBe(false);
      cpSync("prisma/migrations", dir, { recursive: true });
      expect(await migrationsUpToDate(query, dir)).toBe(true);
      // A rolled-back attempt beside the good row changes nothing; a failed one does.
      await t.db.$executeRawUnsafe(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, rolled_back_at, applied_steps_count)
         VALUES ('rolled-back', 'x', $1, now(), now(), 0)`,
        first!.name,
      );
      expect(await migrationsUpToDate(query, dir)).toBe(true);
      await t.db.$executeRawUnsafe(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
         VALUES ('failed', 'x', '29991231000000_failed', now(), 0)`,
      );
      expect(await migrationsUpToDate(query, dir)).toBe(false);
      await t.db.$executeRawUnsafe(`UPDATE _prisma_migrations SET finished_at = now() WHERE id = 'failed'`);
      // Applied by a newer version of the code: the engine decides.
      expect(await migrationsUpToDate(query, dir)).toBe(false);
      await t.db.$executeRawUnsafe(`DELETE FROM _prisma_migrations WHERE id = 'failed'`);
      expect(await migrationsUpToDate(query, dir)).toBe(true);
      // No migrations table at all, or a query that fails.
      expect(await migrationsUpToDate(async () => [{ name: null }], dir)).toBe(false);
      expect(
        await migrationsUpToDate(async () => {
          throw new Error("connection lost");
        }, dir),
      ).toBe(false);
      expect(checkableUrl("postgres://u:p@h/db")).toBe(true);
      expect(checkableUrl("postgres://u:p@h/db?schema=bot")).toBe(false);
    } finally {
      await t.close();
    }
  });
});

describe.each(["pglite", "pg"] as const)("vector search through Prisma (%s)", (via) => {
  it("ranks one user's exchanges by cosine similarity and never returns another user's", async () => {
    const t = await createTestDatabase({ via });
    try {
      const { db } = t;
      const alice = await db.user.create({ data: { platform: "discord", externalId: "discord:10" } });
      const bob = await db.user.create({ data: { platform: "discord", externalId: "discord:20" } });
      const space = embeddingSpace("test-embed", 3);
      const add = async (userId: string, n: number, vector: number[], s = space) => {
        const e = await db.exchange.create({
          data: {
            userId,
            platform: "discord",
            channelId: "c",
            userMessageId: `m${n}`,
            userText: `text ${n}`,
            status: "answered",
          },
        });
        await storeEmbedding(db, e.id, vector, s);
        return e.id;
      };
      const near = await add(alice.id, 1, [1, 0.1, 0]);
      const mid = await add(alice.id, 2, [0.7, 0.7, 0]);
      const far = await add(alice.id, 3, [0, 0, 1]);
      await add(bob.id, 4, [1, 0, 0]); // closest of all, but Bob's
      await add(alice.id, 5, [1, 0, 0, 0], embeddingSpace("other-model", 4)); // another space

      const found = await nearestExchanges(db, { userId: alice.id, space, vector: [1, 0, 0], limit: 10 });
      expect(found.map((f) => f.id)).toEqual([near, mid, far]);
      expect(found[0]!.similarity).toBeGreaterThan(0.99);
      expect(found[2]!.similarity).toBeCloseTo(0, 5);
    } finally {
      await t.close();
    }
  });
});
