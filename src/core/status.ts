// What `/assistant status` shows a user: what the bot knows about them and where they stand on the
// way to their own fine-tuned model. Read from the user's counters plus two small aggregates.
import type { Database } from "../database/open-database.ts";
import { byLevel, ratingsByLevel } from "./evaluation/ratings-by-level.ts";
import type { Level } from "./evaluation/reply-plan.ts";
import { formatStatus } from "./messages.ts";
import type { UserRef } from "./ports.ts";
import type { HereSettings } from "./server-config-messages.ts";

export interface UserStatus {
  exchanges: number;
  rated: number;
  highlyRated: number;
  /** Highly rated and not yet trained on. */
  readyForFineTune: number;
  threshold: number;
  /** 0..1 */
  progress: number;
  activeModel: { model: string; fineTuned: boolean; version?: number };
  /** Exchanges with an embedding: what memory can search. */
  memorySize: number;
  spend: { chatUsd: number; trainingUsd: number };
  optedOut: boolean;
  /** `/assistant training off`: the bot offers them no training on its own (`train` still works). */
  trainingOffersOff: boolean;
  /** Why level 3 is off for this person (no provider configured, their platform's terms). */
  fineTuneOff?: string;
  /** Mean rating by the level replies were answered with; the holdout apart. */
  ratingsByLevel: Array<{ level: Level; holdout: boolean; n: number; mean: number }>;
  /** Run in a server: the operators' settings that apply where it was run (server-settings.ts). */
  here?: HereSettings;
}

export function createStatus(deps: {
  db: Database;
  settings: { threshold: number; chatModel: string };
  /** Why fine-tuning is off for this person, if it is (fine-tune/training-consent.ts). */
  fineTuneOff?: (ref: UserRef) => string | undefined;
}) {
  const { db } = deps;
  async function status(ref: UserRef): Promise<UserStatus> {
    const off = deps.fineTuneOff?.(ref);
    return off ? { ...(await facts(ref)), fineTuneOff: off } : facts(ref);
  }
  async function facts(ref: UserRef): Promise<UserStatus> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: {
        id: true,
        optedOut: true,
        trainingOffersOff: true,
        exchangeCount: true,
        ratedCount: true,
        highRatedCount: true,
        readyCount: true,
        activeModelVersion: { select: { modelId: true, version: true, status: true } },
      },
    });
    const threshold = deps.settings.threshold;
    if (!user) {
      return {
        exchanges: 0,
        rated: 0,
        highlyRated: 0,
        readyForFineTune: 0,
        threshold,
        progress: 0,
        activeModel: { model: deps.settings.chatModel, fineTuned: false },
        memorySize: 0,
        spend: { chatUsd: 0, trainingUsd: 0 },
        optedOut: false,
        trainingOffersOff: false,
        ratingsByLevel: [],
      };
    }
    const [memorySize, chat, training, levels] = await Promise.all([
      db.exchange.count({ where: { userId: user.id, embeddingModel: { not: null } } }),
      db.exchange.aggregate({ where: { userId: user.id }, _sum: { costUsd: true } }),
      db.costLedgerEntry.aggregate({
        where: { userId: user.id, kind: "training", status: { in: ["reserved", "settled"] } },
        _sum: { amountUsd: true },
      }),
      ratingsByLevel(db, user.id),
    ]);
    const active = user.activeModelVersion?.status === "available" ? user.activeModelVersion : undefined;
    return {
      exchanges: user.exchangeCount,
      rated: user.ratedCount,
      highlyRated: user.highRatedCount,
      readyForFineTune: user.readyCount,
      threshold,
      progress: Math.min(1, user.readyCount / threshold),
      activeModel: active
        ? { model: active.modelId, fineTuned: true, version: active.version }
        : { model: deps.settings.chatModel, fineTuned: false },
      memorySize,
      spend: { chatUsd: Number(chat._sum.costUsd ?? 0), trainingUsd: Number(training._sum.amountUsd ?? 0) },
      optedOut: user.optedOut,
      trainingOffersOff: user.trainingOffersOff,
      ratingsByLevel: byLevel(levels),
    };
  }

  return { status, formatStatus };
}
