// The test databases themselves (test/support/database.ts): a file's tests share a database, so
// what one test leaves behind must be gone for the next, on PGlite and on a TEST_DATABASE_URL server.
import { describe, expect, it } from "vitest";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { createTestDatabase } from "./support/database.ts";

/** Row counts of every table but `_prisma_migrations`, from the catalog. */
async function rowCounts(db: PrismaClient): Promise<Record<string, number>> {
  const tables = await db.$queryRawUnsafe<Array<{ name: string }>>(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> '_prisma_migrations'
      ORDER BY 1`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await db.$queryRawUnsafe<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${name}`);
    counts[name] = row!.n;
  }
  return counts;
}

async function addExchange(db: PrismaClient, n: number) {
  const user = await db.user.create({ data: { platform: "discord", externalId: `discord:${n}` } });
  return db.exchange.create({
    data: {
      userId: user.id,
      platform: "discord",
      channelId: "c",
      userMessageId: `m${n}`,
      userText: "hello",
      status: "answered",
    },
  });
}

describe.each(["pglite", "pg"] as const)("test databases (%s)", (via) => {
  it("give the next test of the file empty tables and restarted ids, and refuse the old client", async () => {
    const first = await createTestDatabase({ via });
    const empty = await rowCounts(first.db);
    expect(Object.keys(empty).length).toBeGreaterThan(5);
    expect(Object.values(empty).every((n) => n === 0)).toBe(true);
    const a = await addExchange(first.db, 1);
    const b = await addExchange(first.db, 2);
    expect(b.id).toBe(a.id + 1n);
    await first.db.jobRun.create({ data: { job: "monitor", slot: "2026-11-21T12:00", claimedBy: "x" } });
    const migrations = await first.db.$queryRawUnsafe<unknown[]>("SELECT * FROM _prisma_migrations");
    await first.close();

    // A write after close (a stray timer of the finished test) fails instead of reaching the next test.
    await expect(first.db.user.count()).rejects.toThrow();

    const second = await createTestDatabase({ via });
    try {
      expect(await rowCounts(second.db)).toEqual(empty);
      expect((await addExchange(second.db, 3)).id).toBe(a.id);
      // The migrations' own rows are kept: the database still counts as migrated.
      expect(await second.db.$queryRawUnsafe<unknown[]>("SELECT * FROM _prisma_migrations")).toEqual(
        migrations,
      );
    } finally {
      await second.close();
    }
  });

  it("replace a database whose schema a test changed, instead of reusing it", async () => {
    const first = await createTestDatabase({ via });
    await first.db.$executeRawUnsafe("CREATE FUNCTION left_behind() RETURNS int LANGUAGE sql AS 'SELECT 1'");
    await first.db.$executeRawUnsafe(`ALTER TABLE "User" ADD COLUMN "leftBehind" int`);
    await first.close();

    const second = await createTestDatabase({ via });
    try {
      const fns = await second.db.$queryRawUnsafe<unknown[]>(
        "SELECT 1 FROM pg_proc WHERE proname = 'left_behind'",
      );
      expect(fns).toEqual([]);
      const cols = await second.db.$queryRawUnsafe<unknown[]>(
        `SELECT 1 FROM information_schema.columns WHERE table_name = 'User' AND column_name = 'leftBehind'`,
      );
      expect(cols).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it("give tests that hold databases at the same time databases of their own", async () => {
    const one = await createTestDatabase({ via });
    const two = await createTestDatabase({ via });
    try {
      await addExchange(one.db, 1);
      expect(await two.db.exchange.count()).toBe(0);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
