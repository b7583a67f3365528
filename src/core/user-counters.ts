// The per-person counters on User, what they count, and every change to them. They exist so that
// the readiness job (an index scan on readyCount) and `/assistant status` read one row instead of
// counting exchanges; they stay exact because each change is written in the same transaction as the
// change it counts.
//
//   exchangeCount              exchanges stored for the person
//   ratedCount                 of those, rated
//   highRatedCount             rated at least FINETUNE_MIN_RATING
//   readyCount                 highly rated, answered and not trained on yet: training examples
//   proposalBlockedUntilReady  no scheduled offer until readyCount reaches this (after a decline)
import type { Database } from "../database/open-database.ts";
import { Prisma } from "../generated/prisma/client.ts";

type Writer = Database | Prisma.TransactionClient;

/** What decides whether an exchange counts as rated, highly rated or ready. */
export interface CountedExchange {
  rating: number | null;
  trainedAt: Date | null;
  status: string;
}

export function isHighlyRated(rating: number | null, minRating: number): boolean {
  return rating !== null && rating >= minRating;
}

/** A training example: answered, rated at least `minRating`, not trained on yet. */
export function isReady(e: CountedExchange, minRating: number): boolean {
  return e.status === "answered" && e.trainedAt === null && isHighlyRated(e.rating, minRating);
}

/** The same as `isReady`, as a query: the exchanges readyCount counts. */
export function readyExchanges(minRating: number) {
  return {
    status: "answered",
    trainedAt: null,
    rating: { gte: minRating },
  } satisfies Prisma.ExchangeWhereInput;
}

const one = (b: boolean) => (b ? 1 : 0);

/**
 * A new exchange was stored: the SET clause for its owner's row, for the one statement in
 * conversation.ts that stores the exchange and counts it together.
 */
export const COUNT_NEW_EXCHANGE = Prisma.sql`"exchangeCount" = "exchangeCount" + 1`;

/** A new exchange was stored. */
export async function countNewExchange(tx: Writer, userId: string): Promise<void> {
  await tx.user.update({
    where: { id: userId },
    data: { exchangeCount: { increment: 1 } },
    select: { id: true },
  });
}

/** An exchange's rating changed from `before` to `after` (either may be null: no rating). */
export async function countRatingChange(
  tx: Writer,
  userId: string,
  exchange: Omit<CountedExchange, "rating">,
  before: number | null,
  after: number | null,
  minRating: number,
): Promise<void> {
  const rated = (r: number | null) => one(r !== null);
  const high = (r: number | null) => one(isHighlyRated(r, minRating));
  const ready = (r: number | null) => one(isReady({ ...exchange, rating: r }, minRating));
  await tx.user.update({
    where: { id: userId },
    data: {
      ratedCount: { increment: rated(after) - rated(before) },
      highRatedCount: { increment: high(after) - high(before) },
      readyCount: { increment: ready(after) - ready(before) },
    },
  });
}

/** `trained` of the person's ready exchanges were trained on: they are no longer ready. */
export async function countTrained(tx: Writer, userId: string, trained: number): Promise<void> {
  await tx.user.update({ where: { id: userId }, data: { readyCount: { decrement: trained } } });
}

/** After a decline: no scheduled offer until the person has `cooldown` more ready examples. */
export async function holdOffers(
  tx: Writer,
  userId: string,
  readyNow: number,
  cooldown: number,
): Promise<void> {
  await tx.user.update({ where: { id: userId }, data: { proposalBlockedUntilReady: readyNow + cooldown } });
}

/** Opting back in starts from zero (their exchanges were deleted with it, so search copies reload). */
export const ZERO_COUNTERS = {
  memoryEpoch: { increment: 1 },
  exchangeCount: 0,
  ratedCount: 0,
  highRatedCount: 0,
  readyCount: 0,
  proposalBlockedUntilReady: 0,
} as const satisfies Prisma.UserUpdateInput;

/**
 * Exchanges were deleted (retention): each owner's counters lose what those exchanges counted. One
 * statement for the whole batch; counters never go below zero.
 */
export async function uncountDeleted(
  tx: Writer,
  deleted: ReadonlyArray<CountedExchange & { userId: string }>,
  minRating: number,
): Promise<string[]> {
  const perUser = new Map<string, { id: string; n: number; rated: number; high: number; ready: number }>();
  for (const e of deleted) {
    const u = perUser.get(e.userId) ?? { id: e.userId, n: 0, rated: 0, high: 0, ready: 0 };
    u.n++;
    u.rated += one(e.rating !== null);
    u.high += one(isHighlyRated(e.rating, minRating));
    u.ready += one(isReady(e, minRating));
    perUser.set(e.userId, u);
  }
  if (!perUser.size) return [];
  // One JSON parameter rather than one array per column: it binds the same way on every driver.
  const rows = JSON.stringify([...perUser.values()]);
  await tx.$executeRaw`
    UPDATE "User" u
    SET "exchangeCount" = GREATEST(u."exchangeCount" - d.n, 0),
        "ratedCount" = GREATEST(u."ratedCount" - d.rated, 0),
        "highRatedCount" = GREATEST(u."highRatedCount" - d.high, 0),
        "readyCount" = GREATEST(u."readyCount" - d.ready, 0),
        -- Their in-process search copies are reloaded (memory-index.ts).
        "memoryEpoch" = u."memoryEpoch" + 1
    FROM json_to_recordset(${rows}::json) AS d(id uuid, n int, rated int, high int, ready int)
    WHERE u."id" = d.id`;
  return [...perUser.keys()];
}
