// `/assistant forget`: every row of the person goes in one transaction: their User row, exchanges
// (with the embeddings and reactions), proposals (with their datasets and example links), jobs and
// model versions. The cost ledger is the admins' spend record and the base of the monthly limits,
// so its rows are anonymised rather than deleted (budgets.anonymiseUser): the month's total spend
// stays true. ProcessedEvent keys (platform event ids) cannot be linked to anyone and stay. Work at
// the fine-tuning provider (cancel an unfinished job, delete uploaded files and tuned models) is
// queued in that same transaction (deletions.ts), then carried out; a repeated forget finishes what
// is left.

import { forgetButtonId } from "../button-ids.ts";
import { isFinished } from "../fine-tune/states.ts";
import { claimEvent } from "../idempotency.ts";
import { dataRightsNotices } from "../messages.ts";
import { type ClickOutcome, type Outcome, outcome, settles } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { anonymiseSettingsAuthor } from "../server-settings.ts";
import { type RightsContext, TX_OPTIONS } from "./context.ts";
import {
  type DeletionKind,
  type Deletions,
  type ForgetProgress,
  type PlannedDeletion,
  queueDeletions,
  subjectHash,
} from "./deletions.ts";

export type ForgetResult = Outcome & {
  /** What is still at the provider: "<provider> <kind> <resource id>: <why>", for operators. */
  undeleted: string[];
};

export function createForget(ctx: RightsContext, stages: { deletions: Deletions }) {
  const { db, clock, log, budgets } = ctx;
  const { retryDeletions } = stages.deletions;

  /** The confirmation button: only the person it was shown to can use it. */
  const confirmButtonFor = (ref: UserRef) => forgetButtonId(subjectHash(ref.externalId));

  /** Unfinished jobs that crashed between "create" and "record the id" may exist at the provider. */
  async function findUnrecordedJobs(userId: string): Promise<PlannedDeletion[]> {
    const provider = ctx.provider;
    if (!provider?.findJobByTrainingFile) return [];
    const creating = await db.fineTuneJob.findMany({
      where: { userId, state: "creating", providerJobId: null, providerFileId: { not: null } },
      select: { provider: true, providerFileId: true },
    });
    const found: PlannedDeletion[] = [];
    for (const job of creating) {
      if (job.provider !== provider.name) continue;
      try {
        const info = await provider.findJobByTrainingFile(job.providerFileId!);
        if (info) found.push({ provider: job.provider, kind: "job", resourceId: info.providerJobId });
      } catch (e) {
        log.warn("could not look up a job being created; its files are still deleted", { error: e });
      }
    }
    return found;
  }

  /** The one transaction: plans the provider deletions, anonymises the ledger, deletes every row. */
  async function deleteUserRows(userId: string, externalId: string, hash: string) {
    const extra = await findUnrecordedJobs(userId);
    return db.$transaction(async (tx) => {
      const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
      if (!user) return undefined;
      const jobs = await tx.fineTuneJob.findMany({ where: { userId } });
      const versions = await tx.modelVersion.findMany({ where: { userId } });
      const planned: PlannedDeletion[] = [...extra];
      const plan = (provider: string, kind: DeletionKind, resourceId: string | null) => {
        const seen = planned.some(
          (p) => p.provider === provider && p.kind === kind && p.resourceId === resourceId,
        );
        if (resourceId && !seen) planned.push({ provider, kind, resourceId });
      };
      for (const job of jobs) {
        if (!isFinished(job.state)) plan(job.provider, "job", job.providerJobId);
        // A finished training's files were queued already (fine-tune/file-cleanup.ts): what is left of
        // them is in DeletionRecord under this hash, and the sweep below finishes it.
        if (!job.filesCleanupQueuedAt) {
          plan(job.provider, "file", job.providerFileId);
          plan(job.provider, "file", job.providerValidationFileId);
        }
        plan(job.provider, "model", job.fineTunedModel);
      }
      for (const v of versions) plan(v.provider, "model", v.modelId);
      // Offers priced by their provider uploaded their files already (fine-tune/provider-quote.ts).
      const offers = await tx.fineTuneProposal.findMany({
        where: { userId, job: { is: null } },
        select: { provider: true, quoteFileId: true, quoteValidationFileId: true },
      });
      for (const o of offers) {
        plan(o.provider, "file", o.quoteFileId);
        plan(o.provider, "file", o.quoteValidationFileId);
      }
      const now = clock.now();
      await queueDeletions(tx, hash, planned, now);
      // The spend record stays true for the month's totals but nothing in it points back to them.
      const ledger = await budgets.anonymiseUser(tx, { userId, externalId });
      // Server settings an operator made stay; who made them does not.
      await anonymiseSettingsAuthor(tx, externalId);
      // Explicit order instead of one cascade, so no foreign-key action ever touches a row being deleted.
      await tx.user.update({ where: { id: userId }, data: { activeModelVersionId: null } });
      const exchanges = await tx.exchange.deleteMany({ where: { userId } }); // reactions, example links
      const proposals = await tx.fineTuneProposal.deleteMany({ where: { userId } }); // datasets, jobs
      await tx.fineTuneJob.deleteMany({ where: { userId } });
      const models = await tx.modelVersion.deleteMany({ where: { userId } });
      await tx.user.delete({ where: { id: userId } });
      return {
        exchanges: exchanges.count,
        proposals: proposals.count,
        jobs: jobs.length,
        models: models.count,
        ledger,
        planned: planned.length,
      };
    }, TX_OPTIONS);
  }

  async function forget(ref: UserRef, onProgress?: (p: ForgetProgress) => void): Promise<ForgetResult> {
    const hash = subjectHash(ref.externalId);
    const user = await db.user.findUnique({ where: { externalId: ref.externalId }, select: { id: true } });
    let removed: Awaited<ReturnType<typeof deleteUserRows>>;
    if (user) {
      onProgress?.({ phase: "database", done: 0, total: 1 });
      await ctx.beforeForget?.(user.id);
      removed = await deleteUserRows(user.id, ref.externalId, hash);
      onProgress?.({ phase: "database", done: 1, total: 1 });
    }
    const hadRecords =
      removed !== undefined || (await db.deletionRecord.count({ where: { subjectHash: hash } })) > 0;
    if (!hadRecords) return { ...outcome("forget.nothing"), undeleted: [] };

    const sweep = await retryDeletions({ subjectHash: hash, ...(onProgress ? { onProgress } : {}) });
    const left = await db.deletionRecord.findMany({ where: { subjectHash: hash }, orderBy: { id: "asc" } });
    const retryable = left.filter((r) => r.status !== "unsupported");
    const manual = left.filter((r) => r.status === "unsupported");
    const facts = {
      ...(removed ? { removed } : {}),
      deleted: sweep.byKind,
      retryable: retryable.length,
      manual: manual.map((r) => `${r.provider} ${r.kind}`),
    };
    log.info("forgotten", {
      subject: hash.slice(0, 12),
      exchanges: removed?.exchanges,
      providerDeleted: sweep.deleted,
      providerLeft: retryable.length,
      manual: manual.length,
    });
    return {
      ...outcome(retryable.length === 0 ? "forget.done" : "forget.unfinished", facts),
      undeleted: left.map(dataRightsNotices.undeleted),
    };
  }

  /** `/assistant forget`: the warning, and the id of the confirmation button to show with it. */
  async function forgetRequest(ref: UserRef): Promise<Outcome & { confirmButtonId: string }> {
    return { ...outcome("forget.confirm"), confirmButtonId: confirmButtonFor(ref) };
  }

  /** The confirmation button (`eventKey`: the platform's interaction id, so a double click counts once). */
  async function forgetConfirm(input: {
    user: UserRef;
    buttonId: string;
    eventKey?: string;
  }): Promise<ClickOutcome> {
    if (input.buttonId !== confirmButtonFor(input.user)) return outcome("forget.not_owner");
    if (input.eventKey && !(await claimEvent(db, input.eventKey))) return outcome("event.duplicate");
    const { undeleted: _forOperators, ...result } = await forget(input.user);
    return settles(result);
  }

  return { forget, forgetRequest, forgetConfirm };
}
