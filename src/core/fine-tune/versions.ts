// A person's model versions: each successful training adds one (v1, v2, ...) and makes it answer
// them; `/assistant models` lists them; `/assistant rollback` picks which one answers (or the base
// model). Which model answers a given message is conversation.ts's business; it reads the choice
// made here (User.activeModelVersionId).
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { countTrained } from "../user-counters.ts";
import type { AdapterRecord } from "./adapters.ts";
import type { StageContext } from "./context.ts";

/** What `/assistant rollback` goes back to when the person names nothing. */
export const DEFAULT_ROLLBACK_TARGET = "previous";

export function createVersions(ctx: StageContext) {
  const { db, settings } = ctx;

  /**
   * Inside the transaction that marks `job` succeeded: its model becomes the person's next version
   * and answers them from their next message; the examples it learned from are no longer ready, so
   * they don't count towards the next training.
   */
  async function addTrained(
    tx: Prisma.TransactionClient,
    job: { id: string; userId: string; provider: string; baseModel: string; proposalId: string },
    modelId: string,
    now: Date,
    adapter?: AdapterRecord,
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
    await tx.user.update({ where: { id: job.userId }, data: { activeModelVersionId: created.id } });
    await countTrained(tx, job.userId, trained.count);
    return created;
  }

  /** `/assistant models`. */
  async function models(ref: UserRef): Promise<Outcome> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersionId: true },
    });
    if (!user) return outcome("models.none");
    const versions = await db.modelVersion.findMany({
      where: { userId: user.id },
      orderBy: { version: "asc" },
    });
    if (!versions.length) return outcome("models.base_only");
    return outcome(
      "models.listed",
      versions.map((v) => ({ ...v, active: v.id === user.activeModelVersionId })),
      !user.activeModelVersionId,
    );
  }

  /** `/assistant rollback [previous|base|<version>]`; nothing named means the previous version. */
  async function rollback(ref: UserRef, target?: string): Promise<Outcome> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersion: { select: { version: true } } },
    });
    if (!user) return outcome("rollback.no_models");
    const t = target?.trim().toLowerCase() || DEFAULT_ROLLBACK_TARGET;
    const answerWith = async (id: string | null) => {
      await db.user.update({ where: { id: user.id }, data: { activeModelVersionId: id } });
      // An adapter server loads the chosen version's adapter and unloads the one it replaces.
      await ctx.adapters?.sync(user.id);
    };
    if (t === "base") {
      await answerWith(null);
      return outcome("rollback.to_base");
    }
    const available = await db.modelVersion.findMany({
      where: { userId: user.id, status: "available" },
      orderBy: { version: "desc" },
    });
    let chosen: (typeof available)[number] | undefined;
    if (t === "previous") {
      const current = user.activeModelVersion?.version ?? Number.POSITIVE_INFINITY;
      chosen = available.find((v) => v.version < current);
      if (!chosen) {
        await answerWith(null);
        return outcome("rollback.no_earlier");
      }
    } else {
      const n = Number(t.replace(/^v/, ""));
      chosen = available.find((v) => v.version === n);
      if (!chosen) return outcome("rollback.unknown_version", target ?? t);
    }
    await answerWith(chosen.id);
    return outcome("rollback.done", chosen.version, chosen.modelId);
  }

  return { addTrained, models, rollback };
}

export type Versions = ReturnType<typeof createVersions>;
