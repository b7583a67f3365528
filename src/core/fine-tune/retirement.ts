// Tuned models do not last: providers announce a shutdown date for them (OpenAI's fine-tuned
// gpt-4.1 models stop serving on 2027-01-14). The retirement job reads each active tuned model's
// date, warns its owner ahead of it, and on the day falls back to the base model, which answers
// with the person's memory and best replies as before; their examples stay for a new training.
//
// When the configured provider is another one (FINETUNE_PROVIDER moved to together, say), the warning
// comes with an offer to retrain there: the same curated examples, a new estimate, the usual
// Approve / Decline DM. The person's versions keep both models.
import { fineTuneNotices } from "../messages.ts";
import type { StageContext } from "./context.ts";
import type { Proposals } from "./proposals.ts";
import { knownShutdownDate } from "./provider-refusals.ts";

export function createRetirement(ctx: StageContext, stages: { proposals: Proposals }) {
  const { db, clock, log, settings, notices } = ctx;

  /** An offer to train the retiring model's examples on the configured provider; true when sent. */
  async function offerRetrain(v: { id: string; userId: string; jobId: string | null }): Promise<boolean> {
    const provider = ctx.provider;
    const owner = await db.user.findUnique({
      where: { id: v.userId },
      select: { optedOut: true, trainingOffersOff: true },
    });
    if (!provider || !v.jobId || !owner || owner.optedOut || owner.trainingOffersOff) return false;
    try {
      const r = await stages.proposals.propose(v.userId, "retrain", { examplesOfJob: v.jobId });
      if (!r.ok) {
        log.info("no retrain offer", { version: v.id, reason: r.code });
        return false;
      }
      return await stages.proposals.deliver(r.proposalId);
    } catch (e) {
      log.warn("retrain offer failed", { version: v.id, error: e });
      return false;
    }
  }

  /** Daily: read each active tuned model's shutdown date; warn ahead; fall back to the base model on the day. */
  async function retirement(): Promise<void> {
    const provider = ctx.provider;
    const now = clock.now();
    const active = await db.modelVersion.findMany({
      where: { status: "available", activeFor: { isNot: null } },
    });
    for (const v of active) {
      let shutdown = v.shutdownDate;
      if (provider && provider.name === v.provider) {
        try {
          shutdown = (await provider.modelShutdownDate(v.modelId)) ?? shutdown;
        } catch (e) {
          log.warn("could not read shutdown date", { version: v.id, error: e });
        }
      }
      // A provider no longer configured cannot be asked: what it announced is known here.
      if (provider?.name !== v.provider) shutdown ??= knownShutdownDate(v.provider, v.baseModel) ?? null;
      if (shutdown?.getTime() !== v.shutdownDate?.getTime())
        await db.modelVersion.update({ where: { id: v.id }, data: { shutdownDate: shutdown } });
      if (!shutdown) continue;
      if (shutdown <= now) {
        await db.$transaction([
          db.modelVersion.update({ where: { id: v.id }, data: { status: "retired" } }),
          db.user.updateMany({ where: { activeModelVersionId: v.id }, data: { activeModelVersionId: null } }),
        ]);
        await notices.dm(v.userId, fineTuneNotices.retired(v, shutdown));
      } else if (
        !v.retirementNoticeAt &&
        shutdown.getTime() - now.getTime() <= settings.retirementNoticeDays * 86_400_000
      ) {
        await db.modelVersion.update({ where: { id: v.id }, data: { retirementNoticeAt: now } });
        const elsewhere = ctx.provider && ctx.provider.name !== v.provider ? ctx.provider.name : undefined;
        const offered = elsewhere ? await offerRetrain(v) : false;
        await notices.dm(
          v.userId,
          offered && elsewhere
            ? fineTuneNotices.retiringWithRetrain(v, shutdown, elsewhere)
            : fineTuneNotices.retiring(v, shutdown),
        );
      }
    }
  }

  return { retirement };
}
