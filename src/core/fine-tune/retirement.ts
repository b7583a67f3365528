// Tuned models do not last: providers announce a shutdown date for them (OpenAI's fine-tuned
// gpt-4.1 models stop serving on 2027-01-14). The retirement job reads each active tuned model's
// date, warns its owner ahead of it, and on the day falls back to the base model, which answers
// with the person's memory and best replies as before; their examples stay for a new training.
import { fineTuneNotices } from "../messages.ts";
import type { StageContext } from "./context.ts";

export function createRetirement(ctx: StageContext) {
  const { db, clock, log, settings, notices } = ctx;

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
        await notices.dm(v.userId, fineTuneNotices.retiring(v, shutdown));
      }
    }
  }

  return { retirement };
}
