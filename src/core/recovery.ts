// Messages a stop left unanswered get their answer after the restart. A stop cancels the replies
// still running at the end of its grace and marks their exchanges "interrupted"; a process that
// died leaves them "pending" under a claim nobody renews. This sweep (at start, then every minute)
// claims each such exchange with a conditional update and answers it in its conversation through
// the platform's Notifier; a redelivered event of the same message (Slack retries after a restart)
// goes through the same claim in `respond`, so whichever comes first answers and the other does
// nothing. Too old to be worth answering: an apology asking to ask again; older still: nothing is
// posted (days-old pings help nobody) and the exchange is marked failed.
import type { Database } from "../database/open-database.ts";
import type { Conversation } from "./conversation.ts";
import { replyNotices } from "./messages.ts";
import type { Clock, Logger, Notifier, Platform } from "./ports.ts";

/** Answered when younger than this. */
export const ANSWER_WITHIN_MS = 10 * 60_000;
/** Between ANSWER_WITHIN_MS and this: an apology. Older: marked failed, nothing posted. */
export const APOLOGISE_WITHIN_MS = 24 * 3600_000;
/** Exchanges taken per sweep (the next sweep takes the rest). */
const BATCH = 20;

export interface RecoveryDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  conversation: Conversation;
  notifiers: Partial<Record<Platform, Notifier>>;
}

export interface SweepOutcome {
  answered: number;
  apologised: number;
  dropped: number;
  /** Claimed but could not be posted (the platform refused); logged. */
  failed: number;
}

export function createRecovery(deps: RecoveryDeps) {
  const { db, clock, log, conversation } = deps;

  async function sweep(): Promise<SweepOutcome> {
    const outcome: SweepOutcome = { answered: 0, apologised: 0, dropped: 0, failed: 0 };
    const now = clock.now();
    const candidates = await db.exchange.findMany({
      where: {
        OR: [
          { status: "interrupted" },
          {
            status: "pending",
            OR: [{ claimedAt: null }, { claimedAt: { lt: new Date(now.getTime() - conversation.leaseMs) } }],
          },
        ],
      },
      orderBy: { createdAt: "asc" },
      take: BATCH,
      select: {
        id: true,
        userId: true,
        platform: true,
        serverId: true,
        channelId: true,
        threadId: true,
        userMessageId: true,
        userText: true,
        createdAt: true,
      },
    });
    for (const x of candidates) {
      const notifier = deps.notifiers[x.platform as Platform];
      // That platform is not configured on this process: leave the exchange for one that has it.
      if (!notifier) continue;
      if (!(await conversation.claim(x.id))) continue;
      const age = now.getTime() - x.createdAt.getTime();
      const place = {
        channelId: x.channelId,
        ...(x.threadId !== null ? { threadId: x.threadId } : {}),
        messageId: x.userMessageId,
      };
      if (age > APOLOGISE_WITHIN_MS) {
        await db.exchange.update({
          where: { id: x.id },
          data: { status: "failed", claimedAt: null, error: "interrupted by a stop; too old to answer" },
        });
        outcome.dropped++;
        continue;
      }
      if (age > ANSWER_WITHIN_MS) {
        await db.exchange.update({
          where: { id: x.id },
          data: {
            status: "failed",
            claimedAt: null,
            error: "interrupted by a stop; apologised after restart",
          },
        });
        try {
          await notifier.postReply(place, replyNotices.tooLateAfterRestart);
          outcome.apologised++;
        } catch (error) {
          log.warn("could not post the apology for a message left unanswered", { exchangeId: x.id, error });
          outcome.failed++;
        }
        continue;
      }
      const result = await conversation.answerClaimed({
        exchangeId: x.id,
        userId: x.userId,
        text: x.userText,
        channelId: x.channelId,
        threadId: x.threadId,
        platform: x.platform as Platform,
        serverId: x.serverId,
      });
      // Stopping again already: the next start's sweep has it.
      if (result.kind !== "reply") continue;
      try {
        const ids = await notifier.postReply(place, result.text);
        if (result.exchangeId !== undefined) await conversation.recordReplyMessages(result.exchangeId, ids);
        outcome.answered++;
        log.info("answered a message a stop left unanswered", { exchangeId: x.id, failed: result.failed });
      } catch (error) {
        log.warn("could not post the answer to a message left unanswered", { exchangeId: x.id, error });
        outcome.failed++;
      }
    }
    return outcome;
  }

  return { sweep };
}

export type Recovery = ReturnType<typeof createRecovery>;
