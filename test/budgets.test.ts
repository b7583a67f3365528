// Budgets against a real database: limits must hold when many approvals race, on embedded PGlite
// and over a real TCP connection (node-postgres). Every test reads the ledger back to check it.
import { describe, expect, it } from "vitest";
import { createBudgets, type Limits, LimitsError, NO_LIMITS } from "../src/core/budgets.ts";
import { formatLimits } from "../src/core/messages.ts";
import { createLimitsCommands, isOperator, parseLimitsCommand } from "../src/core/operators.ts";
import type { Clock } from "../src/core/ports.ts";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { createTestDatabase } from "./support/database.ts";

const N = 10;

function fakeClock(iso: string): Clock & { set(iso: string): void } {
  let now = new Date(iso);
  return {
    now: () => now,
    set(next: string) {
      now = new Date(next);
    },
  };
}

async function withDb(
  via: "pglite" | "pg",
  fn: (ctx: { db: PrismaClient; clock: ReturnType<typeof fakeClock> }) => Promise<void>,
): Promise<void> {
  const t = await createTestDatabase({ via });
  try {
    await fn({ db: t.db, clock: fakeClock("2026-11-15T12:00:00Z") });
  } finally {
    await t.close();
  }
}

let userSeq = 0;
async function newUser(db: PrismaClient): Promise<string> {
  userSeq += 1;
  const u = await db.user.create({ data: { platform: "discord", externalId: `discord:${userSeq}` } });
  return u.id;
}

async function newProposal(db: PrismaClient, userId: string, estimatedCostUsd = 5): Promise<string> {
  const p = await db.fineTuneProposal.create({
    data: {
      userId,
      origin: "requested",
      provider: "openai",
      baseModel: "gpt-test",
      examples: 10,
      trainExamples: 9,
      validationExamples: 1,
      tokens: 1000,
      epochs: 3,
      redactions: 0,
      drops: {},
      estimatedCostUsd,
      estimatedSeconds: 60,
      trainJsonl: "{}",
      datasetSha256: "0".repeat(64),
      // Reservations are taken for approved proposals (and only one may be pending per user).
      state: "approved",
      expiresAt: new Date("2030-01-01T00:00:00Z"),
    },
  });
  return p.id;
}

async function ledger(db: PrismaClient, kind = "training") {
  const rows = await db.costLedgerEntry.findMany({ where: { kind }, orderBy: { id: "asc" } });
  return rows.map((r) => ({ ...r, amountUsd: Number(r.amountUsd) }));
}

describe.each(["pglite", "pg"] as const)("concurrent reservations (%s)", (via) => {
  it(`lets exactly one of ${N} simultaneous reservations through a per-user limit that fits one`, async () => {
    await withDb(via, async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingPerUserMonthUsd: 10 }, "discord:admin");
      const userId = await newUser(db);
      const proposals = await Promise.all(Array.from({ length: N }, () => newProposal(db, userId)));

      const results = await Promise.all(
        proposals.map((proposalId) => budgets.reserveTraining({ userId, proposalId, amountUsd: 6 })),
      );

      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const refused = results.filter((r) => !r.ok);
      expect(refused).toHaveLength(N - 1);
      for (const r of refused)
        expect(r).toEqual({ ok: false, reason: "user_month_spend", limit: 10, used: 6, needed: 6 });
      const rows = await ledger(db);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: "reserved", userId, amountUsd: 6, period: "2026-11" });
      const winner = results.find((r) => r.ok);
      expect(winner?.ok && winner.entryId).toBe(rows[0]!.id);
    });
  });

  it(`lets exactly one of ${N} different users through a total-month limit that fits one`, async () => {
    await withDb(via, async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingTotalMonthUsd: 15, trainingPerUserMonthUsd: 100 }, "discord:admin");
      const users = await Promise.all(Array.from({ length: N }, () => newUser(db)));
      const proposals = await Promise.all(users.map((u) => newProposal(db, u)));

      const results = await Promise.all(
        users.map((userId, i) =>
          budgets.reserveTraining({ userId, proposalId: proposals[i]!, amountUsd: 8 }),
        ),
      );

      expect(results.filter((r) => r.ok)).toHaveLength(1);
      for (const r of results.filter((r) => !r.ok))
        expect(r).toEqual({ ok: false, reason: "total_month_spend", limit: 15, used: 8, needed: 8 });
      const rows = await ledger(db);
      expect(rows.map((r) => r.status)).toEqual(["reserved"]);
      const sum = await db.costLedgerEntry.aggregate({
        _sum: { amountUsd: true },
        where: { status: "reserved" },
      });
      expect(Number(sum._sum.amountUsd)).toBe(8);
    });
  });

  it(`reserves a proposal once even when ${N} approvals of it arrive together`, async () => {
    await withDb(via, async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);

      const results = await Promise.all(
        Array.from({ length: N }, () => budgets.reserveTraining({ userId, proposalId, amountUsd: 3 })),
      );

      const ids = new Set(results.map((r) => (r.ok ? r.entryId : undefined)));
      expect(results.every((r) => r.ok)).toBe(true);
      expect(ids.size).toBe(1);
      const rows = await ledger(db);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ proposalId, status: "reserved", amountUsd: 3 });
    });
  });

  it(`inside callers' transactions: a rolled-back one holds nothing, and ${N} together pass a limit once`, async () => {
    await withDb(via, async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingTotalMonthUsd: 10 }, "discord:admin");
      const users = await Promise.all(Array.from({ length: N }, () => newUser(db)));
      const proposals = await Promise.all(users.map((u) => newProposal(db, u)));
      const reserveAndMark = (i: number, after?: () => void) =>
        budgets.withTrainingLock(async (tx) => {
          const r = await budgets.reserveTraining(
            { userId: users[i]!, proposalId: proposals[i]!, amountUsd: 6 },
            tx,
          );
          if (r.ok)
            await tx.fineTuneProposal.update({
              where: { id: proposals[i]! },
              data: { drops: { won: true } },
            });
          after?.();
          return r;
        });

      // A caller that reserved the whole budget and then failed took its reservation with it.
      const failure = new Error("the caller's next write failed");
      await expect(
        reserveAndMark(0, () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await ledger(db)).toHaveLength(0);

      // The others, all at once, each reserving and writing its own row in one transaction.
      const results = await Promise.all(users.slice(1).map((_, k) => reserveAndMark(k + 1)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const rows = await ledger(db);
      expect(rows.map((r) => [r.status, r.amountUsd])).toEqual([["reserved", 6]]);
      const marked = await db.fineTuneProposal.findMany({ where: { drops: { equals: { won: true } } } });
      expect(marked.map((p) => p.id)).toEqual([rows[0]!.proposalId]);
    });
  });

  it("refuses to reserve inside a transaction that is not READ COMMITTED", async () => {
    await withDb(via, async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);
      await expect(
        db.$transaction(async (tx) => {
          await tx.$executeRaw`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`;
          return budgets.reserveTraining({ userId, proposalId, amountUsd: 1 }, tx);
        }),
      ).rejects.toThrow(/READ COMMITTED/);
      expect(await ledger(db)).toHaveLength(0);
    });
  });
});

describe("training budget", () => {
  it("counts trainings per user per month, reserved and settled but not released", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingsPerUserMonth: 2 }, "discord:admin");
      const alice = await newUser(db);
      const bob = await newUser(db);
      const p = await Promise.all([1, 2, 3, 4].map(() => newProposal(db, alice)));

      expect(await budgets.reserveTraining({ userId: alice, proposalId: p[0]!, amountUsd: 1 })).toMatchObject(
        {
          ok: true,
        },
      );
      const second = await budgets.reserveTraining({ userId: alice, proposalId: p[1]!, amountUsd: 1 });
      expect(second.ok).toBe(true);
      await budgets.settleTraining({ proposalId: p[0]!, actualUsd: 0.9 });

      expect(await budgets.reserveTraining({ userId: alice, proposalId: p[2]!, amountUsd: 1 })).toEqual({
        ok: false,
        reason: "user_month_trainings",
        limit: 2,
        used: 2,
        needed: 1,
      });
      expect(await budgets.wouldFitTraining({ userId: alice, amountUsd: 1 })).toMatchObject({
        ok: false,
        reason: "user_month_trainings",
      });
      // Another user has their own count.
      const bobProposal = await newProposal(db, bob);
      expect((await budgets.reserveTraining({ userId: bob, proposalId: bobProposal, amountUsd: 1 })).ok).toBe(
        true,
      );

      // A released reservation stops counting.
      expect(await budgets.releaseTraining({ proposalId: p[1]! })).toBe("released");
      expect((await budgets.reserveTraining({ userId: alice, proposalId: p[3]!, amountUsd: 1 })).ok).toBe(
        true,
      );

      const rows = await ledger(db);
      expect(rows.filter((r) => r.userId === alice).map((r) => [r.proposalId, r.status])).toEqual([
        [p[0], "settled"],
        [p[1], "released"],
        [p[3], "reserved"],
      ]);
    });
  });

  it("is idempotent per proposal and does not hold the money twice", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingPerUserMonthUsd: 10 }, "discord:admin");
      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);

      const first = await budgets.reserveTraining({ userId, proposalId, amountUsd: 7 });
      const again = await budgets.reserveTraining({ userId, proposalId, amountUsd: 7 });

      expect(first.ok && again.ok && first.entryId === again.entryId).toBe(true);
      const rows = await ledger(db);
      expect(rows.map((r) => [r.status, r.amountUsd])).toEqual([["reserved", 7]]);
    });
  });

  it("settles with the actual cost, so later checks see the actual cost and not the estimate", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingPerUserMonthUsd: 10 }, "discord:admin");
      const userId = await newUser(db);
      const first = await newProposal(db, userId);
      const second = await newProposal(db, userId);
      const job = await db.fineTuneJob.create({
        data: { proposalId: first, userId, provider: "openai", baseModel: "gpt-test", estimatedCostUsd: 8 },
      });

      const reserved = await budgets.reserveTraining({ userId, proposalId: first, amountUsd: 8 });
      expect(reserved.ok).toBe(true);
      expect(await budgets.wouldFitTraining({ userId, amountUsd: 5 })).toEqual({
        ok: false,
        reason: "user_month_spend",
        limit: 10,
        used: 8,
        needed: 5,
      });

      clock.set("2026-11-16T08:00:00Z");
      const settled = await budgets.settleTraining({ proposalId: first, jobId: job.id, actualUsd: 3.25 });
      expect(settled).toMatchObject({ amountUsd: 3.25, alreadySettled: false });
      // A second settle (a retried poll) changes nothing, whatever it reports.
      const again = await budgets.settleTraining({ entryId: settled.entryId, actualUsd: 9 });
      expect(again).toEqual({ entryId: settled.entryId, amountUsd: 3.25, alreadySettled: true });
      // Releasing a settled entry does not give money back that was spent.
      expect(await budgets.releaseTraining({ proposalId: first })).toBe("settled");

      const rows = await ledger(db);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        status: "settled",
        amountUsd: 3.25,
        jobId: job.id,
        settledAt: new Date("2026-11-16T08:00:00Z"),
      });

      // 3.25 + 5 fits in 10; with the 8 estimate it would not have.
      expect(await budgets.wouldFitTraining({ userId, amountUsd: 5 })).toEqual({ ok: true });
      expect((await budgets.reserveTraining({ userId, proposalId: second, amountUsd: 5 })).ok).toBe(true);
      expect((await ledger(db)).map((r) => [r.status, r.amountUsd])).toEqual([
        ["settled", 3.25],
        ["reserved", 5],
      ]);
      await expect(budgets.settleTraining({ proposalId: crypto.randomUUID(), actualUsd: 1 })).rejects.toThrow(
        /no training reservation/,
      );
    });
  });

  it("frees the budget on release, and re-reserving a released proposal checks the limit again", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingPerUserMonthUsd: 10 }, "discord:admin");
      const userId = await newUser(db);
      const [a, b] = await Promise.all([newProposal(db, userId), newProposal(db, userId)]);

      expect((await budgets.reserveTraining({ userId, proposalId: a, amountUsd: 9 })).ok).toBe(true);
      expect((await budgets.reserveTraining({ userId, proposalId: b, amountUsd: 9 })).ok).toBe(false);
      expect(await budgets.releaseTraining({ proposalId: a })).toBe("released");
      expect(await budgets.releaseTraining({ proposalId: a })).toBe("already_released");
      expect(await budgets.releaseTraining({ proposalId: crypto.randomUUID() })).toBe("not_found");
      expect((await budgets.reserveTraining({ userId, proposalId: b, amountUsd: 9 })).ok).toBe(true);
      // `a` again: revived only if it fits, which it no longer does.
      expect(await budgets.reserveTraining({ userId, proposalId: a, amountUsd: 9 })).toMatchObject({
        ok: false,
        reason: "user_month_spend",
        used: 9,
      });

      const rows = await ledger(db);
      expect(rows.map((r) => [r.proposalId, r.status, r.amountUsd])).toEqual([
        [a, "released", 9],
        [b, "reserved", 9],
      ]);
    });
  });

  it("starts a fresh budget in the next UTC month", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingPerUserMonthUsd: 10, trainingsPerUserMonth: 1 }, "discord:admin");
      const userId = await newUser(db);
      const [nov, dec] = await Promise.all([newProposal(db, userId), newProposal(db, userId)]);

      clock.set("2026-11-30T23:59:59Z");
      expect((await budgets.reserveTraining({ userId, proposalId: nov, amountUsd: 10 })).ok).toBe(true);
      expect(await budgets.wouldFitTraining({ userId, amountUsd: 1 })).toMatchObject({ ok: false });

      clock.set("2026-12-01T00:00:00Z");
      expect(await budgets.wouldFitTraining({ userId, amountUsd: 10 })).toEqual({ ok: true });
      expect((await budgets.reserveTraining({ userId, proposalId: dec, amountUsd: 10 })).ok).toBe(true);
      const spend = await budgets.spend({ userId });
      expect(spend).toMatchObject({ period: "2026-12", user: { trainingReservedUsd: 10, trainings: 1 } });

      const rows = await ledger(db);
      expect(rows.map((r) => [r.proposalId, r.period])).toEqual([
        [nov, "2026-11"],
        [dec, "2026-12"],
      ]);
    });
  });

  it("rejects nonsense amounts without touching the ledger", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);
      await expect(budgets.reserveTraining({ userId, proposalId, amountUsd: -1 })).rejects.toThrow(
        RangeError,
      );
      await expect(budgets.reserveTraining({ userId, proposalId, amountUsd: Number.NaN })).rejects.toThrow(
        RangeError,
      );
      expect(await db.costLedgerEntry.count()).toBe(0);
    });
  });
});

describe("chat budget", () => {
  it("refuses once today's chat spend reaches the daily limit, and resets the next UTC day", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      const alice = await newUser(db);
      const bob = await newUser(db);
      // As storeAnswer books a reply: the ledger row's statement, at the clock's time.
      const recordChat = (input: { userId: string; exchangeId: bigint; amountUsd: number }) =>
        db.$executeRaw(budgets.chatLedgerRow({ ...input, at: clock.now() }));

      expect(await budgets.checkChat()).toEqual({ ok: true }); // no limit set
      await budgets.setLimits({ chatPerDayUsd: 0.05 }, "slack:T1:U1");

      clock.set("2026-11-15T00:00:00Z");
      await recordChat({ userId: alice, exchangeId: 1n, amountUsd: 0.02 });
      await recordChat({ userId: alice, exchangeId: 1n, amountUsd: 0.02 }); // retried: once
      await recordChat({ userId: bob, exchangeId: 2n, amountUsd: 0.02 });
      expect(await budgets.checkChat()).toEqual({ ok: true });

      clock.set("2026-11-15T23:59:59Z");
      await recordChat({ userId: bob, exchangeId: 3n, amountUsd: 0.01 });
      expect(await budgets.checkChat()).toEqual({ ok: false, limit: 0.05, used: 0.05 });

      clock.set("2026-11-16T00:00:00Z");
      expect(await budgets.checkChat()).toEqual({ ok: true });

      const rows = await ledger(db, "chat");
      expect(rows.map((r) => [r.exchangeId, r.userId, r.status, r.amountUsd, r.period])).toEqual([
        [1n, alice, "settled", 0.02, "2026-11"],
        [2n, bob, "settled", 0.02, "2026-11"],
        [3n, bob, "settled", 0.01, "2026-11"],
      ]);
      const spend = await budgets.spend({ userId: bob });
      expect(spend.total).toMatchObject({ chatMonthUsd: 0.05, chatTodayUsd: 0 });
      expect(spend.user).toMatchObject({ chatMonthUsd: 0.03 });

      // Clearing the limit lets chat through again on a day that is over it.
      clock.set("2026-11-15T12:00:00Z");
      expect((await budgets.checkChat()).ok).toBe(false);
      await budgets.setLimits({ chatPerDayUsd: null }, "slack:T1:U1");
      expect(await budgets.checkChat()).toEqual({ ok: true });
    });
  });
});

describe("limits", () => {
  it("are all unset at first, validated on set, and cleared by null", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      expect(await budgets.getLimits()).toEqual(NO_LIMITS);

      const set = await budgets.setLimits(
        { trainingPerUserMonthUsd: 20, trainingTotalMonthUsd: 200.5, trainingsPerUserMonth: 2 },
        "discord:1",
      );
      expect(set).toEqual({
        trainingPerUserMonthUsd: 20,
        trainingTotalMonthUsd: 200.5,
        trainingsPerUserMonth: 2,
        chatPerDayUsd: null,
      });

      for (const bad of [
        { trainingPerUserMonthUsd: -1 },
        { chatPerDayUsd: Number.POSITIVE_INFINITY },
        { trainingsPerUserMonth: 1.5 },
        { trainingsPerUserMonth: -2 },
        { trainingTotalMonthUsd: 1e9 },
        { nonsense: 1 } as unknown as Partial<Limits>,
        { chatPerDayUsd: "5" } as unknown as Partial<Limits>,
      ]) {
        await expect(budgets.setLimits(bad, "discord:1")).rejects.toThrow(LimitsError);
      }

      // Only the keys given change; null clears.
      const cleared = await budgets.setLimits(
        { trainingPerUserMonthUsd: null, chatPerDayUsd: 0 },
        "discord:2",
      );
      expect(cleared).toEqual({
        trainingPerUserMonthUsd: null,
        trainingTotalMonthUsd: 200.5,
        trainingsPerUserMonth: 2,
        chatPerDayUsd: 0,
      });
      const rows = await db.adminLimits.findMany();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        id: 1,
        trainingPerUserMonthUsd: null,
        trainingsPerUserMonth: 2,
        updatedBy: "discord:2",
      });
      expect(Number(rows[0]!.trainingTotalMonthUsd)).toBe(200.5);
      expect(Number(rows[0]!.chatPerDayUsd)).toBe(0);
    });
  });

  it("records each change in LimitChange (who, when, old -> new), nothing for no change, and forget removes the name", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      clock.set("2026-11-10T09:00:00Z");
      await budgets.setLimits({ chatPerDayUsd: 5, trainingTotalMonthUsd: 100 }, "discord:1");
      await budgets.setLimits({ chatPerDayUsd: 5 }, "discord:2"); // the same value: nothing changed
      await expect(budgets.setLimits({ chatPerDayUsd: -1 }, "discord:2")).rejects.toThrow(LimitsError);
      clock.set("2026-11-11T10:30:00Z");
      await budgets.setLimits({ chatPerDayUsd: null, trainingsPerUserMonth: 2 }, "discord:2");
      const audit = async () =>
        (await db.limitChange.findMany({ orderBy: { id: "asc" } })).map((r) => [
          r.changedAt.toISOString(),
          r.changedBy,
          r.limitKey,
          r.oldValue === null ? null : Number(r.oldValue),
          r.newValue === null ? null : Number(r.newValue),
        ]);
      expect(await audit()).toEqual([
        ["2026-11-10T09:00:00.000Z", "discord:1", "trainingTotalMonthUsd", null, 100],
        ["2026-11-10T09:00:00.000Z", "discord:1", "chatPerDayUsd", null, 5],
        ["2026-11-11T10:30:00.000Z", "discord:2", "trainingsPerUserMonth", null, 2],
        ["2026-11-11T10:30:00.000Z", "discord:2", "chatPerDayUsd", 5, null],
      ]);
      // The operator discord:2 asks to be forgotten: their changes stay, without their name.
      const userId = await newUser(db);
      await db.$transaction((tx) => budgets.anonymiseUser(tx, { userId, externalId: "discord:2" }));
      expect((await audit()).map((r) => r[1])).toEqual(["discord:1", "discord:1", null, null]);
    });
  });

  it("a zero training limit blocks every paid training", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      await budgets.setLimits({ trainingTotalMonthUsd: 0 }, "discord:1");
      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);
      expect(await budgets.reserveTraining({ userId, proposalId, amountUsd: 0.000001 })).toMatchObject({
        ok: false,
        reason: "total_month_spend",
      });
      expect(await db.costLedgerEntry.count()).toBe(0);
    });
  });
});

describe("operators and the limits commands", () => {
  it("recognises operators by exact external id", () => {
    const ops = ["discord:123", " slack:T1:U1 "];
    expect(isOperator(ops, "discord:123")).toBe(true);
    expect(isOperator(ops, "slack:T1:U1")).toBe(true);
    expect(isOperator(ops, "discord:1234")).toBe(false);
    expect(isOperator(ops, "slack:T2:U1")).toBe(false);
    expect(isOperator(ops, "")).toBe(false);
    expect(isOperator([], "discord:123")).toBe(false);
  });

  it("parses limits commands into patches", () => {
    expect(parseLimitsCommand("training-user-month 20")).toEqual({
      ok: true,
      patch: { trainingPerUserMonthUsd: 20 },
    });
    expect(parseLimitsCommand("training-total-month $200.50 trainings-user-month=2")).toEqual({
      ok: true,
      patch: { trainingTotalMonthUsd: 200.5, trainingsPerUserMonth: 2 },
    });
    expect(parseLimitsCommand("  chat-day 5 ")).toEqual({ ok: true, patch: { chatPerDayUsd: 5 } });
    expect(parseLimitsCommand("chat-day off")).toEqual({ ok: true, patch: { chatPerDayUsd: null } });
    expect(parseLimitsCommand("CHAT-DAY OFF")).toEqual({ ok: true, patch: { chatPerDayUsd: null } });
  });

  it("explains what is wrong and lists the accepted keys", () => {
    const cases: Array<[string, RegExp]> = [
      ["", /which limit/],
      ["budget 20", /"budget" is not a limit/],
      ["chat-day", /needs a value/],
      ["chat-day -5", /amount in dollars/],
      ["chat-day five", /amount in dollars/],
      ["trainings-user-month 1.5", /whole number/],
      ["chat-day 5 chat-day 6", /given twice/],
      ["training-total-month 1000000000", /too large/],
    ];
    for (const [args, problem] of cases) {
      const parsed = parseLimitsCommand(args);
      expect(parsed.ok, args).toBe(false);
      if (parsed.ok) continue;
      expect(parsed.error).toMatch(problem);
      for (const key of ["training-user-month", "training-total-month", "trainings-user-month", "chat-day"])
        expect(parsed.error).toContain(key);
    }
  });

  it("refuse non-operators and change nothing; operators see and set limits", async () => {
    await withDb("pglite", async ({ db, clock }) => {
      const budgets = createBudgets({ db, clock });
      const commands = createLimitsCommands({ budgets, operators: ["discord:42", "slack:T1:U9"] });

      const shown = await commands.show("discord:7");
      expect(shown.ok).toBe(false);
      expect(shown.text).toMatch(/Only the bot's operators can .*ask an admin to add you to OPERATORS/);
      const refused = await commands.set("slack:T1:U1", "chat-day 1");
      expect(refused).toMatchObject({ ok: false, text: expect.stringContaining("OPERATORS") });
      expect(await db.adminLimits.count()).toBe(0);

      const bad = await commands.set("discord:42", "chat-day lots");
      expect(bad.ok).toBe(false);
      expect(await db.adminLimits.count()).toBe(0);

      const userId = await newUser(db);
      const proposalId = await newProposal(db, userId);
      await budgets.reserveTraining({ userId, proposalId, amountUsd: 4.5 });

      const set = await commands.set("slack:T1:U9", "training-user-month 20 chat-day 5");
      expect(set.ok).toBe(true);
      expect(set.text).toContain("Limits updated.");
      expect(set.text).toContain("Training per user per month: $20.00");
      expect(set.text).toContain("Chat for everyone per day: $5.00");
      expect(set.text).toContain("Trainings per user per month: no limit");
      expect(set.text).toContain("$4.50 reserved");
      const row = await db.adminLimits.findUniqueOrThrow({ where: { id: 1 } });
      expect(Number(row.trainingPerUserMonthUsd)).toBe(20);
      expect(Number(row.chatPerDayUsd)).toBe(5);
      expect(row.updatedBy).toBe("slack:T1:U9");

      const show = await commands.show("discord:42");
      expect(show.ok).toBe(true);
      expect(show.text).toBe(formatLimits(await budgets.getLimits(), await budgets.spend()));
      expect(show.text).toContain("UTC month 2026-11");
    });
  });
});
