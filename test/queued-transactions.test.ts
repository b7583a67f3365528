// On the embedded database every transaction waits in PGlite's queue for the one before it to end
// (src/database/open-database.ts). A transaction that gives up waiting (a short `maxWait`) fails
// although nothing was wrong, so no caller may override the database's patient maxWait. Here a
// data-rights transaction is queued behind a real PGlite transaction that stays open for 40
// seconds of (fake) time, longer than the 30 s override these calls once carried: it must complete.
import { PrismaPGlite } from "pglite-prisma-adapter";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDataRights } from "../src/core/data-rights/rights.ts";
import { transactionOptions } from "../src/database/open-database.ts";
import { PrismaClient } from "../src/generated/prisma/client.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createMigratedPGlite } from "./support/database.ts";

type PGlite = Awaited<ReturnType<typeof createMigratedPGlite>>;

/**
 * The real PGlite adapter, except that when armed, the next transaction Prisma starts first lets
 * another transaction take the database, one that stays open until `release()`. The next one then
 * really queues behind it in PGlite.
 */
function adapterWithLongTransactionAhead(pglite: PGlite) {
  const inner = new PrismaPGlite(pglite);
  let armed = false;
  let queued = () => {};
  let release = () => {};
  let held: Promise<unknown> = Promise.resolve();
  const factory = {
    provider: "postgres" as const,
    adapterName: inner.adapterName,
    async connect() {
      const adapter = await inner.connect();
      const start = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel) => {
        if (armed) {
          armed = false;
          let opened = () => {};
          const isOpen = new Promise<void>((resolve) => {
            opened = resolve;
          });
          const gate = new Promise<void>((resolve) => {
            release = resolve;
          });
          held = pglite.transaction(async (tx) => {
            await tx.query("SELECT 1");
            opened();
            await gate;
          });
          await isOpen;
          // Prisma has started its maxWait timer already: from here on the caller waits.
          queued();
        }
        return start(isolationLevel);
      };
      return adapter;
    },
  };
  return {
    factory,
    /** Resolves once the next transaction is waiting behind the long one. */
    arm: () => {
      armed = true;
      return new Promise<void>((resolve) => {
        queued = resolve;
      });
    },
    release: async () => {
      release();
      await held;
    },
  };
}

describe("a data-rights transaction queued behind a long one on the embedded database", () => {
  let pglite: PGlite;
  let db: PrismaClient;
  let ahead: ReturnType<typeof adapterWithLongTransactionAhead>;
  const clock = new TestClock();
  const rights = () => createDataRights({ db, clock, log: memoryLogger(), minRating: 4 });

  beforeAll(async () => {
    pglite = await createMigratedPGlite();
    ahead = adapterWithLongTransactionAhead(pglite);
    db = new PrismaClient({ adapter: ahead.factory, transactionOptions });
  });
  afterAll(async () => {
    await db.$disconnect();
    await pglite.close();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function withUser(externalId: string, optedOut: boolean) {
    const user = await db.user.create({
      data: { externalId, platform: "discord", optedOut, exchangeCount: 1 },
    });
    await db.exchange.create({
      data: {
        userId: user.id,
        platform: "discord",
        channelId: "c",
        userMessageId: externalId,
        userText: "hi",
      },
    });
    return { externalId, platform: "discord" as const };
  }

  /** Runs `op` with its transaction queued behind one held for 40 s of fake time. */
  async function queuedBehindLongTransaction<T>(op: () => Promise<T>): Promise<T> {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldAdvanceTime: true });
    const waiting = ahead.arm();
    const result = op();
    result.catch(() => {});
    await waiting;
    await vi.advanceTimersByTimeAsync(40_000);
    await ahead.release();
    return result;
  }

  it("opt-in completes", async () => {
    const ref = await withUser("discord:1", true);
    const reply = await queuedBehindLongTransaction(() => rights().optIn(ref));
    expect(reply.ok).toBe(true);
    expect(await db.user.findUniqueOrThrow({ where: { externalId: ref.externalId } })).toMatchObject({
      optedOut: false,
      exchangeCount: 0,
    });
    expect(await db.exchange.count({ where: { userMessageId: ref.externalId } })).toBe(0);
  });

  it("forget completes", async () => {
    const ref = await withUser("discord:2", false);
    const result = await queuedBehindLongTransaction(() => rights().forget(ref));
    expect(result.text).toMatch(/I deleted everything I held about you/);
    expect(await db.user.findUnique({ where: { externalId: ref.externalId } })).toBeNull();
  });

  it("and the database is free afterwards", async () => {
    expect(await db.$transaction(async (tx) => tx.user.count())).toBe(1);
  });
});
