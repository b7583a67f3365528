// The data model on both database paths: embedded PGlite in-process, and node-postgres over a real
// TCP connection (PGlite served on loopback), with the real migrations applied by Prisma's engine.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { embeddingSpace, nearestExchanges, storeEmbedding } from "../src/core/exchange-embeddings.ts";
import { migratePGlite, openDatabase } from "../src/database/open-database.ts";
import { servePGlite } from "../src/database/pglite-server.ts";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { createEmptyPGlite, createTestDatabase } from "./support/database.ts";

const TABLES = [
  "AdminLimits",
  "CostLedgerEntry",
  "DeletionRecord",
  "Exchange",
  "ExchangeReaction",
  "FineTuneJob",
  "FineTuneProposal",
  "JobRun",
  "ModelVersion",
  "ProcessedEvent",
  "ProposalExample",
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
  it("create the vector extension and every table in an embedded data directory, and re-running them is a no-op", async () => {
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
    const second = await openDatabase({ dataDir });
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

  it("apply over the pg driver path (DATABASE_URL) and report nothing pending the second time", async () => {
    const pglite = await createEmptyPGlite();
    const served = await servePGlite(pglite);
    try {
      const opened = await openDatabase({ url: served.url, dataDir: "unused" });
      expect(opened.kind).toBe("postgres");
      expect(await schemaOf(opened.db)).toEqual({
        tables: TABLES,
        extensions: expect.arrayContaining(["vector"]),
      });
      await opened.close();
    } finally {
      await served.stop();
    }
    const again = await migratePGlite(pglite);
    expect(again).toContain("No pending migrations to apply.");
    await pglite.close();
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
