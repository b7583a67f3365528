// Spending limits and the cost ledger. Admin limits must never be exceeded, even when several
// approvals arrive at once (two Approve clicks, two replicas), so every change to training
// reservations runs in one transaction that first locks the single AdminLimits row: whoever holds
// that lock sees every earlier reservation, checks the limits against them and inserts its own
// before the next caller may look. Amounts are compared as exact decimals; numbers exist only at
// the edges (arguments, results).
import { type Database, transactionOptions } from "../database/open-database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { Clock } from "./ports.ts";

type Decimal = Prisma.Decimal;
type Tx = Prisma.TransactionClient;

/** Admin limits; `null` means "no limit". Money is US dollars. */
export interface Limits {
  /** Training spend (reserved + settled) per user per calendar month (UTC). */
  trainingPerUserMonthUsd: number | null;
  /** Training spend (reserved + settled) for everyone together per calendar month (UTC). */
  trainingTotalMonthUsd: number | null;
  /** Number of trainings (reserved + settled) per user per calendar month (UTC). */
  trainingsPerUserMonth: number | null;
  /** Chat spend for everyone together per UTC day. */
  chatPerDayUsd: number | null;
}

export const LIMIT_KEYS = [
  "trainingPerUserMonthUsd",
  "trainingTotalMonthUsd",
  "trainingsPerUserMonth",
  "chatPerDayUsd",
] as const satisfies ReadonlyArray<keyof Limits>;

export const NO_LIMITS: Limits = {
  trainingPerUserMonthUsd: null,
  trainingTotalMonthUsd: null,
  trainingsPerUserMonth: null,
  chatPerDayUsd: null,
};

export type TrainingRefusalReason = "user_month_spend" | "total_month_spend" | "user_month_trainings";

export interface TrainingRefusal {
  ok: false;
  reason: TrainingRefusalReason;
  /** The limit that would be passed (dollars, or a count for `user_month_trainings`). */
  limit: number;
  /** What already counts against it this month. */
  used: number;
  /** What this training would add (its estimate, or 1 for the count). */
  needed: number;
}

export type TrainingCheck = { ok: true } | TrainingRefusal;
export type ReserveResult = { ok: true; entryId: bigint } | TrainingRefusal;
export type ChatCheck = { ok: true } | { ok: false; limit: number; used: number };

/** A training ledger entry, named by the proposal it was reserved for or by its own id. */
export type TrainingEntryRef =
  | { proposalId: string; entryId?: undefined }
  | { entryId: bigint; proposalId?: undefined };

/** A transaction client, as `withTrainingLock` hands it out. */
export type TrainingTx = Tx;

export type SettleResult = { entryId: bigint; amountUsd: number; alreadySettled: boolean };
export type ReleaseResult = "released" | "already_released" | "settled" | "not_found";

export interface SpendTotals {
  /** Training estimates still held for running or pending jobs. */
  trainingReservedUsd: number;
  /** Actual cost of finished trainings. */
  trainingSettledUsd: number;
  /** Trainings that count against the per-user count limit (reserved + settled). */
  trainings: number;
  chatMonthUsd: number;
  chatTodayUsd: number;
}

export interface Spend {
  /** "YYYY-MM", the UTC month of the clock's now. */
  period: string;
  /** "YYYY-MM-DD", the UTC day chat limits are counted for. */
  day: string;
  total: SpendTotals;
  /** Present when asked for a user. */
  user?: SpendTotals;
}

/** What is wrong with a limits patch; its words for people are in messages.ts. */
export type LimitProblem =
  | { kind: "unknown_key"; key: string }
  | { kind: "not_a_number" | "negative" | "not_whole"; key: keyof Limits }
  | { kind: "too_large"; key: keyof Limits; maxUsd?: number };

/** A limits patch that does not make sense (negative, not a number, a fractional count...). */
export class LimitsError extends Error {
  constructor(readonly problem: LimitProblem) {
    super(`limit ${problem.key}: ${problem.kind}`);
    this.name = "LimitsError";
  }
}

// Decimal(14, 6) holds at most 8 integer digits; the count column is a Postgres int4.
const MAX_USD = 99_999_999;
const MAX_COUNT = 2_147_483_647;

// Transaction windows. On embedded PGlite every transaction holds the one connection, so callers
// queue behind each other inside startTransaction: maxWait must cover a queue of them, not one.
const LOCK_TX_OPTIONS = transactionOptions;

/** The UTC calendar month of `date`, as stored in `CostLedgerEntry.period`. */
export function periodOf(date: Date): string {
  return date.toISOString().slice(0, 7);
}

/** The UTC day containing `date`: [start, end). */
export function utcDay(date: Date): { day: string; start: Date; end: Date } {
  const start = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const end = new Date(start.getTime() + 24 * 60 * 60 * 1000);
  return { day: start.toISOString().slice(0, 10), start, end };
}

/** Checks a patch and returns only the keys it sets. Throws LimitsError. */
export function validateLimitsPatch(patch: Partial<Limits>): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) throw new LimitsError({ kind: "unknown_key", key });
    const k = key as keyof Limits;
    if (value === undefined) continue;
    if (value === null) {
      out[k] = null;
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value))
      throw new LimitsError({ kind: "not_a_number", key: k });
    if (value < 0) throw new LimitsError({ kind: "negative", key: k });
    if (k === "trainingsPerUserMonth") {
      if (!Number.isInteger(value)) throw new LimitsError({ kind: "not_whole", key: k });
      if (value > MAX_COUNT) throw new LimitsError({ kind: "too_large", key: k });
    } else if (value > MAX_USD) {
      throw new LimitsError({ kind: "too_large", key: k, maxUsd: MAX_USD });
    }
    out[k] = value;
  }
  return out;
}

function usd(amount: number, what: string): Decimal {
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0)
    throw new RangeError(`${what} must be a non-negative number of dollars, got ${amount}`);
  if (amount > MAX_USD) throw new RangeError(`${what} is too large: ${amount}`);
  // The column keeps 6 decimals; round up so a reservation never holds less than was estimated.
  return new Prisma.Decimal(amount).toDecimalPlaces(6, Prisma.Decimal.ROUND_UP);
}

function num(value: Decimal | string | number | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

interface LimitsRow {
  trainingPerUserMonthUsd: string | null;
  trainingTotalMonthUsd: string | null;
  trainingsPerUserMonth: number | null;
  chatPerDayUsd: string | null;
}

function toLimits(row: LimitsRow | Prisma.AdminLimitsModel | null | undefined): Limits {
  if (!row) return { ...NO_LIMITS };
  return {
    trainingPerUserMonthUsd: num(row.trainingPerUserMonthUsd),
    trainingTotalMonthUsd: num(row.trainingTotalMonthUsd),
    trainingsPerUserMonth: row.trainingsPerUserMonth,
    chatPerDayUsd: num(row.chatPerDayUsd),
  };
}

function dec(value: string | null | undefined): Decimal {
  return new Prisma.Decimal(value ?? 0);
}

/** The limits check shared by reserve and wouldFit. `q` is the locked transaction for reserve. */
async function checkTraining(
  q: Tx | Database,
  limits: Limits,
  userId: string,
  needed: Decimal,
  period: string,
): Promise<TrainingCheck> {
  const { trainingPerUserMonthUsd: perUser, trainingTotalMonthUsd: total, trainingsPerUserMonth } = limits;
  if (perUser === null && total === null && trainingsPerUserMonth === null) return { ok: true };
  // One scan of this month's counted training entries; sums are cast to text so both driver
  // adapters hand back the exact decimal instead of their own numeric representation.
  const rows = await q.$queryRaw<Array<{ total: string; user_total: string; user_count: string }>>`
    SELECT COALESCE(SUM("amountUsd"), 0)::text AS total,
           COALESCE(SUM("amountUsd") FILTER (WHERE "userId" = ${userId}::uuid), 0)::text AS user_total,
           COUNT(*) FILTER (WHERE "userId" = ${userId}::uuid)::text AS user_count
    FROM "CostLedgerEntry"
    WHERE "kind" = 'training' AND "period" = ${period} AND "status" IN ('reserved', 'settled')`;
  const row = rows[0];
  const usedTotal = dec(row?.total);
  const usedUser = dec(row?.user_total);
  const countUser = Number(row?.user_count ?? 0);
  const refuse = (
    reason: TrainingRefusalReason,
    limit: number,
    used: Decimal | number,
    need: Decimal | number,
  ) => ({ ok: false, reason, limit, used: Number(used), needed: Number(need) }) as const;

  if (perUser !== null && usedUser.plus(needed).gt(perUser))
    return refuse("user_month_spend", perUser, usedUser, needed);
  if (total !== null && usedTotal.plus(needed).gt(total))
    return refuse("total_month_spend", total, usedTotal, needed);
  if (trainingsPerUserMonth !== null && countUser + 1 > trainingsPerUserMonth)
    return refuse("user_month_trainings", trainingsPerUserMonth, countUser, 1);
  return { ok: true };
}

export interface Budgets {
  getLimits(): Promise<Limits>;
  /** Changes the given limits (`null` clears one) and returns them all. Throws LimitsError. */
  setLimits(patch: Partial<Limits>, by: string): Promise<Limits>;
  /**
   * Holds `amountUsd` of training budget for a proposal, or says which limit it would pass.
   * Atomic with every other reservation; a second call for the same proposal returns the first
   * reservation instead of holding the money twice.
   *
   * With `tx` (a transaction from `withTrainingLock`) the reservation is part of the caller's
   * transaction: it commits with the caller's other writes or not at all.
   */
  reserveTraining(
    input: { userId: string; proposalId: string; amountUsd: number },
    tx?: TrainingTx,
  ): Promise<ReserveResult>;
  /** The same check as reserveTraining without holding anything (to decide whether to propose). */
  wouldFitTraining(input: { userId: string; amountUsd: number }): Promise<TrainingCheck>;
  /** Replaces a reservation by the actual cost. A second settle changes nothing. */
  settleTraining(input: TrainingEntryRef & { jobId?: string; actualUsd: number }): Promise<SettleResult>;
  /**
   * Gives a reservation's budget back (job failed or cancelled). No-op when settled or released.
   * With `tx` (from `withTrainingLock`) it is part of the caller's transaction.
   */
  releaseTraining(ref: TrainingEntryRef, tx?: TrainingTx): Promise<ReleaseResult>;
  /**
   * Runs `fn` in one transaction that holds the training lock (the one every reservation, settlement
   * and release takes), so a caller can reserve and write its own rows atomically: an approval
   * claims its proposal, reserves the money and creates the job in one commit, and a crash anywhere
   * in between leaves none of it. Inside `fn` use only `tx` (on embedded PGlite the one connection is
   * held by this transaction).
   */
  withTrainingLock<T>(fn: (tx: TrainingTx) => Promise<T>): Promise<T>;
  /**
   * `/assistant forget`: the person's ledger entries (theirs, or their offers', trainings' or
   * exchanges') keep kind, status, amount, month and dates, so every total stays true, and lose
   * everything that points to the person; a reservation still held is released (its training is
   * being cancelled). A limits change they made as an operator no longer names them. Part of the
   * caller's transaction, which deletes the person's rows after it. Returns the number of ledger
   * entries changed.
   */
  anonymiseUser(tx: TrainingTx, person: { userId: string; externalId: string }): Promise<number>;
  /**
   * The cost of one answer, as the ledger row's statement that storeAnswer runs with the answer
   * (chatLedgerInsert). Run again for the same exchange, it records nothing.
   */
  chatLedgerRow(input: {
    userId: string | null;
    exchangeId: bigint;
    amountUsd: number;
    at: Date;
  }): Prisma.Sql;
  /** Whether today's chat spend is still under the daily limit. */
  checkChat(): Promise<ChatCheck>;
  /** This month's spend, for everyone and (when asked) for one user. */
  spend(input?: { userId?: string }): Promise<Spend>;
}

/** Locks the single AdminLimits row (creating it first if needed) and reads the limits. */
async function lockLimits(tx: Tx): Promise<Limits> {
  // The row is the lock, so it has to exist; a concurrent insert waits and then does nothing.
  await tx.$executeRaw`INSERT INTO "AdminLimits" ("id") VALUES (1) ON CONFLICT ("id") DO NOTHING`;
  const rows = await tx.$queryRaw<LimitsRow[]>`
    SELECT "trainingPerUserMonthUsd"::text AS "trainingPerUserMonthUsd",
           "trainingTotalMonthUsd"::text AS "trainingTotalMonthUsd",
           "trainingsPerUserMonth",
           "chatPerDayUsd"::text AS "chatPerDayUsd"
    FROM "AdminLimits" WHERE "id" = 1 FOR UPDATE`;
  return toLimits(rows[0]);
}

/** How long checkChat trusts a read that found no chat limit (real time, not the injected clock). */
const NO_LIMIT_CACHE_MS = 1_000;

/**
 * The ledger row of one chat reply's cost, as a statement to run inside the one that stores the
 * answer (storeAnswer), so an answer is never kept without its cost.
 * No lock: answers are frequent and the chat limit is checked before an answer whose cost is only
 * known afterwards, so it can be overshot by the answers in flight anyway. Duplicates are prevented
 * upstream (one exchange per platform message); the unique (kind, exchangeId) covers retries, in
 * the same statement.
 */
export function chatLedgerInsert(input: {
  userId: string | null;
  exchangeId: bigint;
  amountUsd: number;
  at: Date;
}): Prisma.Sql {
  const amount = usd(input.amountUsd, "amountUsd");
  const at = input.at.toISOString();
  return Prisma.sql`
    INSERT INTO "CostLedgerEntry" ("kind", "status", "userId", "exchangeId", "amountUsd", "period", "createdAt", "settledAt")
    VALUES ('chat', 'settled', ${input.userId}::uuid, ${input.exchangeId}, ${amount.toFixed(6)}::numeric, ${periodOf(input.at)},
            (${at}::timestamptz AT TIME ZONE 'UTC'), (${at}::timestamptz AT TIME ZONE 'UTC'))
    ON CONFLICT ("kind", "exchangeId") DO NOTHING`;
}

export function createBudgets(deps: { db: Database; clock: Clock }): Budgets {
  const { db, clock } = deps;
  /** Until when (performance.now()) checkChat answers "no limit" without reading. */
  let noChatLimitUntil = 0;

  /**
   * Runs `fn` in a transaction that holds the AdminLimits row lock. Every training reservation,
   * settlement and release goes through here, so they happen one after another.
   */
  async function underLock<T>(fn: (tx: Tx, limits: Limits) => Promise<T>): Promise<T> {
    return db.$transaction(async (tx) => {
      // READ COMMITTED explicitly: each statement after the lock must see what earlier lock
      // holders committed. Under REPEATABLE READ the snapshot would predate the lock and a
      // concurrent reservation could be missed. Must be the transaction's first statement.
      await tx.$executeRaw`SET TRANSACTION ISOLATION LEVEL READ COMMITTED`;
      return fn(tx, await lockLimits(tx));
    }, LOCK_TX_OPTIONS);
  }

  /**
   * Takes the training lock inside a caller's transaction (taking it twice in one transaction is
   * harmless). The caller's transaction must be READ COMMITTED for the reasons above; it cannot be
   * switched here once it has run a statement, so a transaction that is not is refused.
   */
  async function lockIn(tx: Tx): Promise<Limits> {
    const level = await tx.$queryRaw<Array<{ level: string }>>`
      SELECT current_setting('transaction_isolation') AS "level"`;
    if (level[0]?.level !== "read committed")
      throw new Error(
        `training reservations need a READ COMMITTED transaction (got ${level[0]?.level}); use budgets.withTrainingLock`,
      );
    return lockLimits(tx);
  }

  async function findTraining(q: Tx | Database, ref: TrainingEntryRef) {
    // Oldest first: with the lock there is only ever one entry per proposal, but if rows were
    // ever duplicated the first is the one callers were given.
    return q.costLedgerEntry.findFirst({
      where:
        ref.entryId !== undefined
          ? { id: ref.entryId, kind: "training" }
          : { proposalId: ref.proposalId, kind: "training" },
      orderBy: { id: "asc" },
    });
  }

  async function getLimits(): Promise<Limits> {
    return toLimits(await db.adminLimits.findUnique({ where: { id: 1 } }));
  }

  async function setLimits(patch: Partial<Limits>, by: string): Promise<Limits> {
    const valid = validateLimitsPatch(patch);
    noChatLimitUntil = 0;
    // Under the same lock as reservations, so a reservation is checked either entirely against
    // the old limits or entirely against the new ones.
    return underLock(async (tx, before) => {
      const row = await tx.adminLimits.update({ where: { id: 1 }, data: { ...valid, updatedBy: by } });
      const after = toLimits(row);
      // The audit trail (LimitChange) of whichever front end made the change: one row per limit
      // whose value moved, committed with the change itself.
      const changed = LIMIT_KEYS.filter((k) => before[k] !== after[k]);
      if (changed.length)
        await tx.limitChange.createMany({
          data: changed.map((k) => ({
            changedAt: clock.now(),
            changedBy: by,
            limitKey: k,
            oldValue: before[k],
            newValue: after[k],
          })),
        });
      return after;
    }).finally(() => {
      // After the commit: a check that ran meanwhile may have cached the old "no limit".
      noChatLimitUntil = 0;
    });
  }

  async function reserveTraining(
    input: { userId: string; proposalId: string; amountUsd: number },
    callerTx?: Tx,
  ): Promise<ReserveResult> {
    const needed = usd(input.amountUsd, "amountUsd");
    const reserve = async (tx: Tx, limits: Limits): Promise<ReserveResult> => {
      const now = clock.now();
      const period = periodOf(now);
      // Inside the lock, so two concurrent reserves of one proposal cannot both miss it.
      const existing = await findTraining(tx, { proposalId: input.proposalId });
      if (existing && existing.status !== "released") return { ok: true, entryId: existing.id };

      const check = await checkTraining(tx, limits, input.userId, needed, period);
      if (!check.ok) return check;

      // A released reservation is revived (checked again, against this month) rather than a second
      // row added, so one proposal keeps one ledger entry.
      const data = { status: "reserved", userId: input.userId, amountUsd: needed, period, settledAt: null };
      const entry = existing
        ? await tx.costLedgerEntry.update({ where: { id: existing.id }, data })
        : await tx.costLedgerEntry.create({
            data: { ...data, kind: "training", proposalId: input.proposalId, createdAt: now },
          });
      return { ok: true, entryId: entry.id };
    };
    if (callerTx) return reserve(callerTx, await lockIn(callerTx));
    return underLock(reserve);
  }

  async function wouldFitTraining(input: { userId: string; amountUsd: number }): Promise<TrainingCheck> {
    const needed = usd(input.amountUsd, "amountUsd");
    // Advisory only (no lock): the binding check is reserveTraining's, at approval time.
    return checkTraining(db, await getLimits(), input.userId, needed, periodOf(clock.now()));
  }

  async function settleTraining(
    input: TrainingEntryRef & { jobId?: string; actualUsd: number },
  ): Promise<SettleResult> {
    const actual = usd(input.actualUsd, "actualUsd");
    return underLock(async (tx) => {
      const entry = await findTraining(tx, input);
      if (!entry) throw new Error(`no training reservation for ${describeRef(input)}`);
      if (entry.status === "settled")
        return { entryId: entry.id, amountUsd: Number(entry.amountUsd), alreadySettled: true };
      // A released entry is settled too: if the provider billed anyway, the money was spent and
      // the ledger has to say so, even though it may now exceed a limit.
      const updated = await tx.costLedgerEntry.update({
        where: { id: entry.id },
        data: {
          status: "settled",
          amountUsd: actual,
          settledAt: clock.now(),
          ...(input.jobId !== undefined ? { jobId: input.jobId } : {}),
        },
      });
      return { entryId: updated.id, amountUsd: Number(updated.amountUsd), alreadySettled: false };
    });
  }

  async function releaseTraining(ref: TrainingEntryRef, callerTx?: Tx): Promise<ReleaseResult> {
    const release = async (tx: Tx): Promise<ReleaseResult> => {
      const entry = await findTraining(tx, ref);
      if (!entry) return "not_found";
      if (entry.status === "settled") return "settled";
      if (entry.status === "released") return "already_released";
      await tx.costLedgerEntry.update({ where: { id: entry.id }, data: { status: "released" } });
      return "released";
    };
    if (callerTx) {
      await lockIn(callerTx);
      return release(callerTx);
    }
    return underLock(release);
  }

  async function withTrainingLock<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return underLock((tx) => fn(tx));
  }

  async function anonymiseUser(tx: Tx, { userId, externalId }: { userId: string; externalId: string }) {
    await tx.adminLimits.updateMany({ where: { updatedBy: externalId }, data: { updatedBy: null } });
    await tx.limitChange.updateMany({ where: { changedBy: externalId }, data: { changedBy: null } });
    // Without the training lock: releasing only gives budget back, so no limit check can be
    // invalidated by it.
    return tx.$executeRaw`
      UPDATE "CostLedgerEntry"
      SET "userId" = NULL, "jobId" = NULL, "proposalId" = NULL, "exchangeId" = NULL,
          "status" = CASE WHEN "status" = 'reserved' THEN 'released' ELSE "status" END
      WHERE "userId" = ${userId}::uuid
         OR "proposalId" IN (SELECT "id" FROM "FineTuneProposal" WHERE "userId" = ${userId}::uuid)
         OR "jobId" IN (SELECT "id" FROM "FineTuneJob" WHERE "userId" = ${userId}::uuid)
         OR "exchangeId" IN (SELECT "id" FROM "Exchange" WHERE "userId" = ${userId}::uuid)`;
  }

  async function chatToday(userId?: string): Promise<Decimal> {
    const { start, end } = utcDay(clock.now());
    const agg = await db.costLedgerEntry.aggregate({
      where: {
        kind: "chat",
        status: "settled",
        createdAt: { gte: start, lt: end },
        ...(userId !== undefined ? { userId } : {}),
      },
      _sum: { amountUsd: true },
    });
    return agg._sum.amountUsd ?? new Prisma.Decimal(0);
  }

  async function checkChat(): Promise<ChatCheck> {
    // Before every reply, so one raw statement (the limit, and today's spend only when there is a
    // limit): getLimits() then chatToday() cost two statements and Prisma's query compiler ~1 ms.
    // With no limit set (the usual case) not even that for a second: a limit set through this
    // process applies to the next reply at once, one set by another replica within a second.
    if (performance.now() < noChatLimitUntil) return { ok: true };
    const { start, end } = utcDay(clock.now());
    const [row] = await db.$queryRaw<Array<{ limit: string | null; used: string | null }>>`
      SELECT l."chatPerDayUsd"::text AS "limit",
             CASE WHEN l."chatPerDayUsd" IS NOT NULL THEN (
               SELECT coalesce(sum("amountUsd"), 0)::text FROM "CostLedgerEntry"
               WHERE "kind" = 'chat' AND "status" = 'settled'
                 AND "createdAt" >= (${start.toISOString()}::timestamptz AT TIME ZONE 'UTC')
                 AND "createdAt" < (${end.toISOString()}::timestamptz AT TIME ZONE 'UTC')) END AS "used"
      FROM (SELECT 1) AS one LEFT JOIN "AdminLimits" l ON l."id" = 1`;
    if (row?.limit === null || row?.limit === undefined) {
      noChatLimitUntil = performance.now() + NO_LIMIT_CACHE_MS;
      return { ok: true };
    }
    const limit = Number(row.limit);
    const used = dec(row.used);
    // At the limit counts as reached: the next answer would cost something and pass it.
    return used.lt(limit) ? { ok: true } : { ok: false, limit, used: Number(used) };
  }

  async function totals(period: string, userId?: string): Promise<SpendTotals> {
    const where = { period, ...(userId !== undefined ? { userId } : {}) };
    const [groups, today] = await Promise.all([
      db.costLedgerEntry.groupBy({
        by: ["kind", "status"],
        where,
        _sum: { amountUsd: true },
        _count: { _all: true },
      }),
      chatToday(userId),
    ]);
    const pick = (kind: string, status: string) => groups.find((g) => g.kind === kind && g.status === status);
    const sum = (kind: string, status: string) => Number(pick(kind, status)?._sum.amountUsd ?? 0);
    const count = (kind: string, status: string) => pick(kind, status)?._count._all ?? 0;
    return {
      trainingReservedUsd: sum("training", "reserved"),
      trainingSettledUsd: sum("training", "settled"),
      trainings: count("training", "reserved") + count("training", "settled"),
      chatMonthUsd: sum("chat", "settled"),
      chatTodayUsd: Number(today),
    };
  }

  async function spend(input: { userId?: string } = {}): Promise<Spend> {
    const now = clock.now();
    const period = periodOf(now);
    const total = await totals(period);
    const user = input.userId !== undefined ? await totals(period, input.userId) : undefined;
    return { period, day: utcDay(now).day, total, ...(user ? { user } : {}) };
  }

  return {
    getLimits,
    setLimits,
    reserveTraining,
    wouldFitTraining,
    settleTraining,
    releaseTraining,
    withTrainingLock,
    anonymiseUser,
    chatLedgerRow: chatLedgerInsert,
    checkChat,
    spend,
  };
}

function describeRef(ref: TrainingEntryRef): string {
  return ref.entryId !== undefined ? `entry ${ref.entryId}` : `proposal ${ref.proposalId}`;
}
