// The launch: from an approved training to a job running at the provider, in steps that each claim a
// state with a conditional update (states.ts), then record the provider's ids: approved ->
// uploading (the dataset files) -> uploaded -> creating (the provider's job) -> running.
//
// A job in "uploading" or "creating" is either being launched right now (the approval's own
// launch, or another replica's monitor) or was left by a process that died in that step. Only
// the second may be taken over: a second upload would leave an orphaned file, and a second
// createJob would start and bill a second training while the first call is still in flight. The
// step's updatedAt is its lease: a launch takes a step over only when the lease is older than any
// one provider call can take, and gives it back at once when its call ended in a retryable error.
import { createHash } from "node:crypto";
import type { FineTuneJobInfo } from "../ports.ts";
import { ProviderError } from "../ports.ts";
import type { StageContext } from "./context.ts";
import { type JobState, transition } from "./states.ts";

/**
 * How long a launch step in flight ("uploading", "creating") is left to the launch that holds it:
 * longer than one provider call can take (the OpenAI SDK gives up after 10 minutes, the Vertex
 * provider after 2), so a step older than this was abandoned by a process that died.
 */
const LAUNCH_LEASE_MS = 15 * 60_000;
/** A lease given back: older than any lease, so the next launch takes the step over at once. */
const LEASE_GIVEN_BACK = new Date(0);

/** A provider-safe suffix: a hash of the user id, never the id itself. */
export function modelSuffix(userId: string): string {
  return `u${createHash("sha256").update(userId).digest("hex").slice(0, 16)}`;
}

/** The name a training's dataset file is uploaded under (the export lists the same name). */
export function datasetFileName(jobId: string, role: "training" | "validation"): string {
  return `ft-${jobId}-${role === "training" ? "train" : "validation"}.jsonl`;
}

export function createLaunch(
  ctx: StageContext,
  stages: { fail(jobId: string, providerReason: string): Promise<void> },
) {
  const { db, clock, log } = ctx;

  async function claimStep(jobId: string, from: JobState, to: JobState): Promise<Date | undefined> {
    const lease = clock.now();
    return (await transition(db, { job: jobId }, from, to, { updatedAt: lease })) ? lease : undefined;
  }

  async function takeOver(jobId: string, state: JobState): Promise<Date | undefined> {
    const lease = clock.now();
    const r = await db.fineTuneJob.updateMany({
      where: { id: jobId, state, updatedAt: { lte: new Date(lease.getTime() - LAUNCH_LEASE_MS) } },
      data: { updatedAt: lease },
    });
    if (r.count === 1) return lease;
    log.debug("launch step in progress elsewhere; left alone", { jobId, state });
    return undefined;
  }

  /** The call of this step ended without a result: the next launch may take it over at once. */
  async function giveBack(jobId: string, state: JobState, lease: Date): Promise<void> {
    await db.fineTuneJob.updateMany({
      where: { id: jobId, state, updatedAt: lease },
      data: { updatedAt: LEASE_GIVEN_BACK },
    });
  }

  /** Runs the launch from whatever step the job is in; safe to call again (see above). */
  async function launch(jobId: string): Promise<void> {
    const provider = ctx.provider;
    if (!provider) return;
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId }, include: { proposal: true } });
    const fail = (e: unknown) => stages.fail(jobId, e instanceof Error ? e.message : String(e));

    if (job.state === "approved" || job.state === "uploading") {
      // Taking over "uploading" uploads again: nothing was recorded (an orphaned file costs nothing,
      // and a job is only ever created from the recorded file id).
      const lease =
        job.state === "approved"
          ? await claimStep(jobId, "approved", "uploading")
          : await takeOver(jobId, "uploading");
      if (!lease) return;
      try {
        const trainingFile = await provider.uploadFile({
          filename: datasetFileName(jobId, "training"),
          content: job.proposal.trainJsonl,
        });
        const validationFile = job.proposal.validationJsonl
          ? await provider.uploadFile({
              filename: datasetFileName(jobId, "validation"),
              content: job.proposal.validationJsonl,
            })
          : null;
        const recorded = await transition(db, { job: jobId, lease }, "uploading", "uploaded", {
          providerFileId: trainingFile,
          providerValidationFileId: validationFile,
          updatedAt: clock.now(),
        });
        // Lost the lease (this call outlived it): the launch that took over goes on.
        if (!recorded) return;
      } catch (e) {
        if (e instanceof ProviderError && e.retryable) {
          await giveBack(jobId, "uploading", lease);
          throw e; // the monitor retries later
        }
        return fail(e);
      }
    }

    const current = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    if (current.state !== "uploaded" && current.state !== "creating") return;
    const resuming = current.state === "creating";
    const lease = resuming
      ? await takeOver(jobId, "creating")
      : await claimStep(jobId, "uploaded", "creating");
    if (!lease) return;
    try {
      if (resuming) {
        // A previous process died after claiming creation: the job may exist at the provider. Look
        // for it by its training file before creating anything, so a crash never launches twice.
        const existing = await provider.findJobByTrainingFile?.(current.providerFileId!);
        if (existing) return await recordCreated(jobId, existing);
      }
      const info = await provider.createJob({
        baseModel: current.baseModel,
        trainingFile: current.providerFileId!,
        ...(current.providerValidationFileId ? { validationFile: current.providerValidationFileId } : {}),
        epochs: job.proposal.epochs,
        suffix: modelSuffix(job.userId),
      });
      await recordCreated(jobId, info);
    } catch (e) {
      if (e instanceof ProviderError && e.retryable) {
        await giveBack(jobId, "creating", lease);
        throw e;
      }
      return fail(e);
    }
  }

  async function recordCreated(jobId: string, info: FineTuneJobInfo): Promise<void> {
    await transition(db, { job: jobId }, "creating", "running", {
      providerJobId: info.providerJobId,
      providerStatus: info.status,
      startedAt: clock.now(),
      attempts: { increment: 1 },
    });
    log.info("fine-tune job created", { jobId, providerJobId: info.providerJobId });
  }

  return { launch };
}

export type Launch = ReturnType<typeof createLaunch>;
