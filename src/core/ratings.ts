// Reactions and rating buttons on the bot's replies become the asker's rating of that reply. The
// rating is the latest rating still present (a reaction, or the button slot), so removing one
// restores the one before; only the person who asked can rate; unknown emoji, replayed events and
// ratings from someone who opted out (nothing new of theirs is stored or learnt from) change
// nothing. Buttons share one slot per reply: a click replaces the button rating, and clicking the
// same rating again takes it back (as Slack's feedback buttons toggle).
import type { Database } from "../database/open-database.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { markMemoryChanged } from "./exchange-embeddings.ts";
import { claimEvent } from "./idempotency.ts";
import type { Clock, Logger, ReactionInput, ReactionOutcome } from "./ports.ts";
import { type RatingMap, ratingFor } from "./rating-emoji.ts";
import { countRatingChange } from "./user-counters.ts";

export interface RatingDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  ratingMap: RatingMap;
  /** Ratings at or above this count as highly rated (and as training examples). */
  minRating: number;
}

const select = {
  id: true,
  userId: true,
  user: { select: { externalId: true, optedOut: true } },
} satisfies Prisma.ExchangeSelect;

/** Waits between looks for a clicked answer whose message ids are not stored yet. */
const BUTTON_LOOKUP_RETRY_MS = [100, 400, 1000];

/** The reaction row rating buttons write (one per reply; no emoji is spelt like this). */
export const BUTTON_SLOT = "(button)";

export interface ButtonRatingInput {
  platform: string;
  /** The reply message the button is on. */
  messageId: string;
  raterExternalId: string;
  rating: number;
  eventKey?: string;
}

export function createRatings(deps: RatingDeps) {
  const { db, clock } = deps;

  async function findReply(platform: string, messageId: string) {
    return (
      (await db.exchange.findFirst({ where: { platform, replyMessageId: messageId }, select })) ??
      (await db.exchange.findFirst({ where: { platform, replyMessageIds: { has: messageId } }, select }))
    );
  }

  async function react(input: ReactionInput): Promise<ReactionOutcome> {
    const rating = ratingFor(deps.ratingMap, input.emoji);
    if (rating === undefined) return { kind: "ignored", reason: "unknown_emoji" };
    const exchange = await findReply(input.platform, input.messageId);
    if (!exchange) return { kind: "ignored", reason: "not_a_reply" };
    if (exchange.user.externalId !== input.reactorExternalId) return { kind: "ignored", reason: "not_owner" };
    if (exchange.user.optedOut) return { kind: "ignored", reason: "opted_out" };

    const now = clock.now();
    return db.$transaction(async (tx) => {
      if (input.eventKey && !(await claimEvent(tx, input.eventKey)))
        return { kind: "ignored", reason: "duplicate" } as const;
      const existing = await tx.exchangeReaction.findUnique({
        where: { exchangeId_emoji: { exchangeId: exchange.id, emoji: input.emoji } },
      });
      if (input.action === "add") {
        if (existing && !existing.removedAt) return { kind: "ignored", reason: "no_change" } as const;
        await tx.exchangeReaction.upsert({
          where: { exchangeId_emoji: { exchangeId: exchange.id, emoji: input.emoji } },
          create: { exchangeId: exchange.id, emoji: input.emoji, rating, addedAt: now },
          update: { rating, addedAt: now, removedAt: null },
        });
      } else {
        if (!existing || existing.removedAt) return { kind: "ignored", reason: "no_change" } as const;
        await tx.exchangeReaction.update({ where: { id: existing.id }, data: { removedAt: now } });
      }
      return settle(tx, exchange);
    });
  }

  /**
   * A button is always on one of the bot's answers, so a miss is almost always a click that came in
   * between posting the answer and storing its message ids (a fast clicker, or a streamed answer's
   * last edit): look again a few times, for up to about 1.5 s, before calling it not a reply.
   */
  async function findClickedReply(platform: string, messageId: string) {
    for (const wait of BUTTON_LOOKUP_RETRY_MS) {
      const exchange = await findReply(platform, messageId);
      if (exchange) return exchange;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return findReply(platform, messageId);
  }

  /** A rating button: sets the reply's button slot, or takes it back when it already says this. */
  async function rateByButton(input: ButtonRatingInput): Promise<ReactionOutcome> {
    const exchange = await findClickedReply(input.platform, input.messageId);
    if (!exchange) return { kind: "ignored", reason: "not_a_reply" };
    if (exchange.user.externalId !== input.raterExternalId) return { kind: "ignored", reason: "not_owner" };
    if (exchange.user.optedOut) return { kind: "ignored", reason: "opted_out" };
    const now = clock.now();
    return db.$transaction(async (tx) => {
      if (input.eventKey && !(await claimEvent(tx, input.eventKey)))
        return { kind: "ignored", reason: "duplicate" } as const;
      const key = { exchangeId_emoji: { exchangeId: exchange.id, emoji: BUTTON_SLOT } };
      const existing = await tx.exchangeReaction.findUnique({ where: key });
      if (existing && !existing.removedAt && existing.rating === input.rating)
        await tx.exchangeReaction.update({ where: { id: existing.id }, data: { removedAt: now } });
      else
        await tx.exchangeReaction.upsert({
          where: key,
          create: { exchangeId: exchange.id, emoji: BUTTON_SLOT, rating: input.rating, addedAt: now },
          update: { rating: input.rating, addedAt: now, removedAt: null },
        });
      return settle(tx, exchange);
    });
  }

  /** The reply's rating is now its latest rating still present; counters follow. */
  async function settle(tx: Prisma.TransactionClient, exchange: { id: bigint; userId: string }) {
    {
      const before = await tx.exchange.findUniqueOrThrow({
        where: { id: exchange.id },
        select: { rating: true, trainedAt: true, status: true },
      });
      const latest = await tx.exchangeReaction.findFirst({
        where: { exchangeId: exchange.id, removedAt: null },
        orderBy: [{ addedAt: "desc" }, { id: "desc" }],
      });
      const after = latest?.rating ?? null;
      await tx.exchange.update({
        where: { id: exchange.id },
        data: { rating: after, ratedAt: latest?.addedAt ?? null },
      });
      await countRatingChange(tx, exchange.userId, before, before.rating, after, deps.minRating);
      // Few-shot search filters on the rating: in-process copies of the user's vectors must see it.
      if (after !== before.rating) await markMemoryChanged(tx, exchange.id, exchange.userId);
      deps.log.info("rating", { exchangeId: exchange.id, rating: after });
      return { kind: "rated", exchangeId: exchange.id, rating: after } as const;
    }
  }

  return { react, rateByButton };
}

export type Ratings = ReturnType<typeof createRatings>;
