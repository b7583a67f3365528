// A person's model versions: each successful training adds one (v1, v2, ...), which goes on trial
// against the model it would replace (canary.ts), or answers them at once when trials are off;
// `/assistant models` lists them with their ratings; `/assistant rollback` and `/assistant models
// use vN` pick which one answers (or the base model), ending a trial. Which model answers a given
// message is evaluation/reply-plan.ts's business; it reads the choice made here
// (User.activeModelVersionId, ModelVersion.canaryState).
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { countTrained } from "../user-counters.ts";
import type { AdapterRecord } from "./adapters.ts";
import type { Canary } from "./canary.ts";
import type { StageContext } from "./context.ts";

/** What `/assistant rollback` goes back to when the person names nothing. */
export const DEFAULT_ROLLBACK_TARGET = "previous";

export function createVersions(ctx: StageContext, stages: { canary: Canary }) {
  const { db, settings } = ctx;

  /**
   * Inside the transaction that marks `job` succeeded: its model becomes the person's next version,
   * on trial (`onTrial`) or answering them from their next message; the examples it learned from are
   * no longer ready, so they don't count towards the next training.
   */
  async function addTrained(
    tx: Prisma.TransactionClient,
    job: { id: string; userId: string; provider: string; baseModel: string; proposalId: string },
    modelId: string,
    now: Date,
    adapter?: AdapterRecord,
    losses?: { validationLoss?: number },
  ) {
    const last = await tx.modelVersion.aggregate({ where: { userId: job.userId }, _max: { version: true } });
    const created = await tx.modelVersion.create({
      data: {
        userId: job.userId,
        jobId: job.id,
        provider: job.provider,
        modelId,
        baseModel: job.baseModel,
        version: (last._max.version ?? 0) + 1,
        createdAt: now,
        validationLoss: losses?.validationLoss ?? null,
        ...adapter,
      },
    });
    const used = await tx.proposalExample.findMany({
      where: { proposalId: job.proposalId },
      select: { exchangeId: true },
    });
    const trained = await tx.exchange.updateMany({
      where: {
        id: { in: used.map((u) => u.exchangeId) },
        trainedAt: null,
        rating: { gte: settings.minRating },
      },
      data: { trainedAt: now, trainedInJobId: job.id },
    });
    const onTrial = await stages.canary.start(tx, job.userId, created.id, now);
    if (!onTrial)
      await tx.user.update({ where: { id: job.userId }, data: { activeModelVersionId: created.id } });
    await countTrained(tx, job.userId, trained.count);
    // The previous version's validation loss, for the "worse than before" flag.
    const previous = await tx.modelVersion.findFirst({
      where: { userId: job.userId, version: { lt: created.version }, validationLoss: { not: null } },
      orderBy: { version: "desc" },
      select: { version: true, validationLoss: true },
    });
    return { ...created, onTrial, previousLoss: previous ?? undefined };
  }

  /** Ratings received by each of the person's versions (key: version id; "" for the base model). */
  async function ratingsByVersion(userId: string): Promise<Map<string, RatingSummary>> {
    const [all, high] = await Promise.all([
      db.exchange.groupBy({
        by: ["modelVersionId"],
        where: { userId, rating: { not: null } },
        _count: { rating: true },
        _avg: { rating: true },
      }),
      db.exchange.groupBy({
        by: ["modelVersionId"],
        where: { userId, rating: { gte: settings.minRating } },
        _count: { rating: true },
      }),
    ]);
    const up = new Map(high.map((h) => [h.modelVersionId ?? "", h._count.rating]));
    return new Map(
      all.map((a) => {
        const key = a.modelVersionId ?? "";
        const n = a._count.rating;
        return [key, { n, mean: a._avg.rating ?? 0, upShare: n ? (up.get(key) ?? 0) / n : 0 }];
      }),
    );
  }

  /** `/assistant models`; `/assistant models use vN` (or `base`) picks the one that answers. */
  async function models(ref: UserRef, args?: string): Promise<Outcome> {
    const wanted = args?.trim().replace(/^use\s+/i, "");
    if (wanted) return rollback(ref, wanted);
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersionId: true },
    });
    if (!user) return outcome("models.none");
    const versions = await db.modelVersion.findMany({
      where: { userId: user.id },
      orderBy: { version: "asc" },
      include: { job: { select: { actualCostUsd: true } } },
    });
    if (!versions.length) return outcome("models.base_only");
    const ratings = await ratingsByVersion(user.id);
    const none: RatingSummary = { n: 0, mean: 0, upShare: 0 };
    let lastLoss: number | undefined;
    const lines = versions.map((v) => {
      const loss = v.validationLoss ?? undefined;
      const worse = loss !== undefined && lastLoss !== undefined && loss > lastLoss;
      if (loss !== undefined) lastLoss = loss;
      return {
        ...v,
        active: v.id === user.activeModelVersionId,
        ratings: ratings.get(v.id) ?? none,
        validationLoss: loss,
        validationWorse: worse,
        costUsd: v.job?.actualCostUsd != null ? Number(v.job.actualCostUsd) : undefined,
        canaryState: v.canaryState ?? undefined,
        canaryShare: settings.canary?.share,
      };
    });
    return outcome("models.listed", lines, !user.activeModelVersionId, ratings.get("") ?? none);
  }

  /** `/assistant rollback [previous|base|<version>]`; nothing named means the previous version. */
  async function rollback(ref: UserRef, target?: string): Promise<Outcome> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersion: { select: { version: true } } },
    });
    if (!user) return outcome("rollback.no_models");
    const t = target?.trim().toLowerCase() || DEFAULT_ROLLBACK_TARGET;
    const available = await db.modelVersion.findMany({
      where: { userId: user.id, status: "available" },
      orderBy: { version: "desc" },
    });
    const named =
      t === "base" || t === "previous"
        ? undefined
        : available.find((v) => v.version === Number(t.replace(/^v/, "")));
    // A typo changes nothing, a running trial included.
    if (t !== "base" && t !== "previous" && !named) return outcome("rollback.unknown_version", target ?? t);
    // Choosing ends a trial; plain `rollback` during one means "keep what I had".
    const trial = await stages.canary.endByPerson(user.id);
    if (trial && t === DEFAULT_ROLLBACK_TARGET) {
      await ctx.adapters?.sync(user.id);
      return outcome("rollback.trial_ended", trial.version, trial.incumbent);
    }
    const answerWith = async (id: string | null) => {
      await db.user.update({ where: { id: user.id }, data: { activeModelVersionId: id } });
      // An adapter server loads the chosen version's adapter and unloads the one it replaces.
      await ctx.adapters?.sync(user.id);
    };
    if (t === "base") {
      await answerWith(null);
      return outcome("rollback.to_base");
    }
    let chosen = named;
    if (t === "previous") {
      const current = user.activeModelVersion?.version ?? Number.POSITIVE_INFINITY;
      chosen = available.find((v) => v.version < current);
      if (!chosen) {
        await answerWith(null);
        return outcome("rollback.no_earlier");
      }
    }
    if (!chosen) return outcome("rollback.unknown_version", target ?? t);
    await answerWith(chosen.id);
    return outcome("rollback.done", chosen.version, chosen.modelId);
  }

  return { addTrained, models, rollback };
}

export interface RatingSummary {
  n: number;
  mean: number;
  /** Share rated at least FINETUNE_MIN_RATING (👍). */
  upShare: number;
}

export type Versions = ReturnType<typeof createVersions>;
