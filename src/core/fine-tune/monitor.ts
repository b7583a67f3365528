// Following trainings to their end. `refresh` reads a running job at the provider and applies what it
// says: success (the actual cost replaces the reservation, a new model version answers the person),
// failure or cancellation (the reservation is released); the person gets a DM either way. `monitor`
// is the monitoring job's run: it also resumes interrupted approvals and launches, deletes finished
// trainings' files at the provider and expires old offers.

import { fineTuneNotices } from "../messages.ts";
import type { FineTuneJobInfo } from "../ports.ts";
import { clipStorable } from "../storable-text.ts";
import type { Approval } from "./approval.ts";
import type { StageContext } from "./context.ts";
import type { FileCleanup } from "./file-cleanup.ts";
import type { Launch } from "./launch.ts";
import type { Proposals } from "./proposals.ts";
import { FINISHED_JOB_STATES, isIn, LAUNCH_JOB_STATES, transition, UNFINISHED_JOB_STATES } from "./states.ts";
import type { Versions } from "./versions.ts";

/** How a training ends: succeeded, failed or cancelled, each exactly once however often it is reported. */
export function createJobEndings(ctx: StageContext, stages: { versions: Versions }) {
  const { db, clock, log, budgets, settings, notices } = ctx;

  async function fail(jobId: string, providerReason: string): Promise<void> {
    // The provider's words: stored, and shown to the person, as storable text (storable-text.ts).
    const reason = clipStorable(providerReason, 500);
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    const failed = await transition(db, { job: jobId }, UNFINISHED_JOB_STATES, "failed", {
      error: reason,
      finishedAt: clock.now(),
    });
    if (!failed) return;
    await budgets.releaseTraining({ proposalId: job.proposalId });
    log.warn("fine-tune failed", { jobId });
    await notices.dm(job.userId, fineTuneNotices.failed(reason));
  }

  async function cancelled(job: { id: string; proposalId: string; userId: string }): Promise<void> {
    if (!(await transition(db, { job: job.id }, "running", "cancelled", { finishedAt: clock.now() }))) return;
    await budgets.releaseTraining({ proposalId: job.proposalId });
    await notices.dm(job.userId, fineTuneNotices.cancelled);
  }

  async function succeed(jobId: string, info: FineTuneJobInfo & { fineTunedModel: string }): Promise<void> {
    const now = clock.now();
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    // What the provider says it billed wins (Together's total_price); else its tokens at our rate.
    const actual =
      info.billedUsd !== undefined
        ? info.billedUsd
        : info.trainedTokens !== undefined
          ? Math.round(info.trainedTokens * settings.pricePer1MTokens) / 1_000_000
          : Number(job.estimatedCostUsd);
    const version = await db.$transaction(async (tx) => {
      const claimed = await transition(tx, { job: jobId }, "running", "succeeded", {
        providerStatus: "succeeded",
        fineTunedModel: info.fineTunedModel,
        trainedTokens: info.trainedTokens ?? null,
        actualCostUsd: actual.toFixed(6),
        finishedAt: now,
      });
      if (!claimed) return undefined;
      return stages.versions.addTrained(tx, job, info.fineTunedModel, now, ctx.adapters?.recordFor(info), {
        validationLoss: info.validationLoss,
      });
    });
    if (!version) return;
    await ctx.adapters?.sync(job.userId);
    await budgets.settleTraining({ proposalId: job.proposalId, jobId, actualUsd: actual });
    log.info(
      version.onTrial ? "fine-tune succeeded; model on trial" : "fine-tune succeeded; model activated",
      {
        jobId,
        version: version.version,
      },
    );
    const loss = {
      validationLoss: version.validationLoss ?? undefined,
      previous: version.previousLoss
        ? { version: version.previousLoss.version, loss: version.previousLoss.validationLoss! }
        : undefined,
    };
    const trial = version.onTrial ? settings.canary : undefined;
    await notices.dm(
      job.userId,
      trial
        ? fineTuneNotices.succeededOnTrial(version.version, actual, trial, loss)
        : fineTuneNotices.succeeded(version.version, actual, loss),
    );
  }

  return { fail, cancelled, succeed };
}

export type JobEndings = ReturnType<typeof createJobEndings>;

export function createMonitor(
  ctx: StageContext,
  stages: {
    endings: JobEndings;
    launch: Launch["launch"];
    resumeApprovals: Approval["resumeApprovals"];
    cleanUpFiles: FileCleanup["cleanUpFiles"];
    expireProposals: Proposals["expireProposals"];
  },
) {
  const { db, log } = ctx;

  /** Reads a running job at the provider and applies its news. */
  async function refresh(jobId: string): Promise<void> {
    const provider = ctx.provider;
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    if (!provider || job.state !== "running" || !job.providerJobId) return;
    const info = await provider.getJob(job.providerJobId);
    if (info.status === "succeeded" && info.fineTunedModel)
      return stages.endings.succeed(jobId, { ...info, fineTunedModel: info.fineTunedModel });
    if (info.status === "failed")
      return stages.endings.fail(jobId, info.error ?? "the provider gave no reason");
    if (info.status === "cancelled") return stages.endings.cancelled(job);
    if (info.status !== job.providerStatus)
      await db.fineTuneJob.update({ where: { id: jobId }, data: { providerStatus: info.status } });
  }

  /**
   * The monitoring job: resume interrupted approvals and launches, refresh running jobs, delete
   * finished trainings' files at the provider, expire old offers.
   */
  async function monitor(): Promise<void> {
    await stages.resumeApprovals();
    const jobs = await db.fineTuneJob.findMany({
      where: { state: { notIn: [...FINISHED_JOB_STATES] } },
      select: { id: true, state: true },
    });
    for (const job of jobs) {
      try {
        if (isIn(LAUNCH_JOB_STATES, job.state)) await stages.launch(job.id);
        else await refresh(job.id);
      } catch (e) {
        log.warn("fine-tune job not refreshed; will retry", { jobId: job.id, error: e });
      }
    }
    await stages.cleanUpFiles();
    await stages.expireProposals();
  }

  return { refresh, monitor };
}
