// A finished training's files are deleted at the provider: they were needed only to train, and the
// person's data should not stay there longer than that. The deletions go through the one deletion
// queue that forget also uses (DeletionRecord, under the owner's subject hash).
import { transactionOptions } from "../../database/open-database.ts";
import { queueDeletions, subjectHash } from "../data-rights/deletions.ts";
import { ProviderError } from "../ports.ts";
import type { StageContext } from "./context.ts";
import { FINISHED_JOB_STATES } from "./states.ts";

export function createFileCleanup(ctx: StageContext) {
  const { db, clock, log } = ctx;

  /**
   * Deletes finished trainings' files at the provider: the uploaded training and validation files
   * (they were needed only to train) and the result files the provider wrote for the job (OpenAI's
   * `result_files`). Per job, one transaction marks it and queues the files as DeletionRecords under
   * its owner's subject hash (the queue forget uses, so `/assistant forget` also finds what is left);
   * then the queue is carried out. A deletion that fails stays queued and is retried by the
   * deletions job; a job whose result files cannot be listed right now is tried again next run.
   */
  async function cleanUpFiles(): Promise<{ queued: number }> {
    const provider = ctx.provider;
    const due = await db.fineTuneJob.findMany({
      where: { state: { in: [...FINISHED_JOB_STATES] }, filesCleanupQueuedAt: null },
      select: {
        id: true,
        provider: true,
        providerJobId: true,
        providerFileId: true,
        providerValidationFileId: true,
        user: { select: { externalId: true } },
      },
      orderBy: { finishedAt: "asc" },
      // Bounded per run: after an upgrade every earlier training is due once.
      take: 50,
    });
    const subjects = new Set<string>();
    let queued = 0;
    for (const job of due) {
      const files = [job.providerFileId, job.providerValidationFileId];
      if (job.providerJobId && provider?.name === job.provider) {
        try {
          files.push(...((await provider.getJob(job.providerJobId)).resultFiles ?? []));
        } catch (e) {
          // Gone at the provider: it has no result files left either.
          if (!(e instanceof ProviderError && e.status === 404)) {
            log.warn("could not list a finished job's result files; will retry", { jobId: job.id, error: e });
            continue;
          }
        }
      }
      const resourceIds = [...new Set(files.filter((f): f is string => !!f))];
      const hash = subjectHash(job.user.externalId);
      const now = clock.now();
      const marked = await db.$transaction(async (tx) => {
        const r = await tx.fineTuneJob.updateMany({
          where: { id: job.id, filesCleanupQueuedAt: null },
          data: { filesCleanupQueuedAt: now },
        });
        if (r.count === 0) return false;
        await queueDeletions(
          tx,
          hash,
          resourceIds.map((resourceId) => ({ provider: job.provider, kind: "file", resourceId })),
          now,
        );
        return true;
      }, transactionOptions);
      if (!marked) continue;
      queued += resourceIds.length;
      if (resourceIds.length) subjects.add(hash);
    }
    for (const hash of subjects) {
      try {
        await ctx.deleteQueued?.(hash);
      } catch (e) {
        log.warn("provider file deletions not carried out; the deletions job retries them", { error: e });
      }
    }
    if (queued) log.info("finished trainings' files queued for deletion", { files: queued });
    return { queued };
  }

  return { cleanUpFiles };
}

export type FileCleanup = ReturnType<typeof createFileCleanup>;
