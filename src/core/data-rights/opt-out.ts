// `/assistant opt-out` and `/assistant opt-in`.
//
// Opting out deletes nothing by itself: what was stored stays (visible with `memory`, exportable,
// erasable with `forget`, and it ages out with retention, no longer protected as a training example)
// but nothing of it is used: answers come from the base model without memory or examples
// (conversation.ts stores nothing for an opted-out person), no offer is made, a pending offer is
// cancelled, an unfinished training is cancelled. Opting back in starts fresh: the exchanges stored
// before (and datasets of offers that never trained) are deleted, the counters restart at zero and
// the base model answers until a new model is trained. Past trainings and model versions stay
// listed (a rollback can re-activate one); `forget` removes them.
import {
  isIn,
  type JobState,
  NOT_LAUNCHED_JOB_STATES,
  transition,
  UNFINISHED_JOB_STATES,
} from "../fine-tune/states.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { ZERO_COUNTERS } from "../user-counters.ts";
import { ensureUser } from "../users.ts";
import { type RightsContext, TX_OPTIONS } from "./context.ts";

export function createOptOut(ctx: RightsContext) {
  const { db, clock, log, budgets } = ctx;

  async function optOut(ref: UserRef): Promise<Outcome> {
    // Created when unknown, so that even their first message afterwards is not stored.
    const user = await ensureUser(db, ref);
    if (user.optedOut) return outcome("opt_out.already");
    const now = clock.now();
    await db.user.update({
      where: { id: user.id },
      // Their tuned model is not used while they are out (conversation.ts answers with the base model).
      data: { optedOut: true, optedOutAt: now, activeModelVersionId: null },
    });
    // An offer still on screen must not be approvable any more.
    let withdrawn = 0;
    for (const offer of await db.fineTuneProposal.findMany({
      where: { userId: user.id, state: "pending" },
      select: { id: true },
    }))
      if (await transition(db, { proposal: offer.id }, "pending", "cancelled", { decidedAt: now }))
        withdrawn++;
    const { cancelled, stillRunning } = await stopTrainings(user.id);
    // Their adapters leave the adapter server (opting back in and choosing a version loads it again).
    await ctx.afterOptOut?.(user.id);
    log.info("opted out", { userId: user.id, offers: withdrawn, cancelled, stillRunning });
    return outcome("opt_out.done", { withdrawn, cancelled, stillRunning });
  }

  /** Cancels the person's unfinished trainings (opt-out). Running ones only when the provider agrees. */
  async function stopTrainings(userId: string): Promise<{ cancelled: number; stillRunning: number }> {
    const jobs = await db.fineTuneJob.findMany({
      where: { userId, state: { in: [...UNFINISHED_JOB_STATES] } },
      select: { id: true, state: true, provider: true, providerJobId: true, proposalId: true },
    });
    let cancelled = 0;
    let stillRunning = 0;
    for (const job of jobs) {
      let from: JobState | undefined;
      if (isIn(NOT_LAUNCHED_JOB_STATES, job.state)) from = job.state;
      else if (job.state === "running" && job.providerJobId && ctx.provider?.name === job.provider) {
        try {
          await ctx.provider.cancelJob(job.providerJobId);
          from = "running";
        } catch (e) {
          log.warn("could not cancel a training at the provider", { jobId: job.id, error: e });
        }
      }
      if (!from) {
        stillRunning++;
        continue;
      }
      // Conditional: a launch step or the monitor moving it on in the meantime wins, and then says so.
      const stopped = await transition(db, { job: job.id }, from, "cancelled", {
        error: "cancelled: the user opted out",
        finishedAt: clock.now(),
      });
      if (stopped) {
        await budgets.releaseTraining({ proposalId: job.proposalId });
        cancelled++;
      } else stillRunning++;
    }
    return { cancelled, stillRunning };
  }

  async function optIn(ref: UserRef): Promise<Outcome> {
    const user = await db.user.findUnique({ where: { externalId: ref.externalId } });
    if (!user?.optedOut) return outcome("opt_in.not_opted_out");
    const result = await db.$transaction(async (tx) => {
      const exchanges = await tx.exchange.deleteMany({ where: { userId: user.id } });
      // Offers that never trained are just copies of those exchanges; trained ones are the record of
      // what a model was built from (forget removes them with the models).
      const offers = await tx.fineTuneProposal.deleteMany({ where: { userId: user.id, job: { is: null } } });
      await tx.user.update({
        where: { id: user.id },
        data: { optedOut: false, optedOutAt: null, activeModelVersionId: null, ...ZERO_COUNTERS },
      });
      return { exchanges: exchanges.count, offers: offers.count };
    }, TX_OPTIONS);
    const versions = await db.modelVersion.count({ where: { userId: user.id } });
    log.info("opted in", { userId: user.id, ...result });
    return outcome("opt_in.done", { ...result, versions });
  }

  return { optOut, optIn };
}
