// The fine-tuning lifecycle: propose (dataset snapshot + estimate, DM with Approve/Decline), approve
// (budget reservation, launch), monitor (activation or failure), rollback and retirement.
//
// Money safety rests on the database, not on timing: every step is a conditional update of a state
// column (`UPDATE ... WHERE state = 'x'`), so a double click, two replicas or a crash resume or do
// nothing instead of launching twice; partial unique indexes allow one pending proposal and one
// unfinished job per user; budgets are reserved atomically (src/core/budgets.ts).
import { createHash } from "node:crypto";
import { type Database, transactionOptions } from "../../database/open-database.ts";
import type { Prisma } from "../../generated/prisma/client.ts";
import type { ButtonOutcome, CommandReply } from "../assistant.ts";
import type { Budgets, TrainingRefusal, TrainingTx } from "../budgets.ts";
import { formatUsd } from "../budgets.ts";
import { subjectHash } from "../data-rights.ts";
import { claimEvent } from "../idempotency.ts";
import type { Clock, FineTuneJobInfo, FineTuneProvider, Logger, Notifier } from "../ports.ts";
import { ProviderError } from "../ports.ts";
import type { PrivacyFilter } from "../privacy-filter.ts";
import { clipStorable } from "../storable-text.ts";
import { countTrained, holdOffers, readyExchanges } from "../user-counters.ts";
import type { UserRef } from "../users.ts";
import { estimateCost } from "./cost-estimate.ts";
import { buildDataset, type Dataset } from "./dataset.ts";
import {
  FINISHED_JOB_STATES,
  isIn,
  type JobState,
  LAUNCH_JOB_STATES,
  transition,
  UNFINISHED_JOB_STATES,
} from "./states.ts";

export interface LifecycleSettings {
  baseModel: string;
  threshold: number;
  minRating: number;
  epochs: "auto" | number;
  pricePer1MTokens: number;
  minReplyChars: number;
  proposalTtlHours: number;
  declineCooldown: number;
  systemPrompt: string;
  /** Days before a model's shutdown date that its user is told. */
  retirementNoticeDays: number;
}

export interface LifecycleDeps {
  db: Database;
  /**
   * Carries out the provider deletions queued for one person (DeletionRecord, by subject hash): the
   * data-rights module's retryDeletions, shared with forget so there is one deletion queue.
   */
  deleteQueued?: (subjectHash: string) => Promise<unknown>;
  clock: Clock;
  log: Logger;
  budgets: Budgets;
  /** Undefined when FINETUNE_PROVIDER=none. */
  provider?: FineTuneProvider;
  notifiers: Partial<Record<string, Notifier>>;
  privacy: PrivacyFilter;
  settings: LifecycleSettings;
}

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

function refusalText(r: TrainingRefusal): string {
  const what = {
    user_month_spend: "your monthly training budget",
    total_month_spend: "this bot's monthly training budget",
    user_month_trainings: "the number of trainings per person this month",
  }[r.reason];
  const amounts =
    r.reason === "user_month_trainings"
      ? `(${r.used} of ${r.limit} used)`
      : `(${formatUsd(r.used)} of ${formatUsd(r.limit)} used, this one needs ${formatUsd(r.needed)})`;
  return `This training would go over ${what} set by the admins ${amounts}. It can run next month, or when an admin raises the limit.`;
}

function duration(seconds: number): string {
  if (seconds < 3600) return `about ${Math.max(1, Math.round(seconds / 60))} minutes`;
  return `about ${(seconds / 3600).toFixed(1)} hours`;
}

export function createFineTuneLifecycle(deps: LifecycleDeps) {
  const { db, clock, log, budgets, settings } = deps;

  function notifierFor(platform: string): Notifier | undefined {
    return deps.notifiers[platform];
  }

  async function readySources(userId: string) {
    return db.exchange.findMany({
      where: { userId, ...readyExchanges(settings.minRating) },
      select: { id: true, userText: true, replyText: true, status: true, rating: true, createdAt: true },
      orderBy: { id: "asc" },
    });
  }

  function buildFor(sources: Awaited<ReturnType<typeof readySources>>, provider: FineTuneProvider): Dataset {
    return buildDataset(sources, {
      provider: provider.name,
      systemPrompt: settings.systemPrompt,
      minReplyChars: settings.minReplyChars,
      privacy: deps.privacy,
    });
  }

  type ProposeResult =
    | { ok: true; proposalId: string }
    | { ok: false; reason: "not_enough" | "busy" | "over_budget" | "disabled" | "opted_out"; text: string };

  /** Builds the dataset snapshot and estimate and stores a pending proposal (not yet delivered). */
  async function propose(userId: string, origin: "scheduled" | "requested"): Promise<ProposeResult> {
    const provider = deps.provider;
    if (!provider) return { ok: false, reason: "disabled", text: "Fine-tuning is switched off on this bot." };
    const sources = await readySources(userId);
    const dataset = buildFor(sources, provider);
    if (dataset.stats.examples < provider.minExamples) {
      return {
        ok: false,
        reason: "not_enough",
        text: `You have ${dataset.stats.examples} usable highly rated replies; training needs at least ${provider.minExamples}. Rate more of my replies with 👍 (or 4️⃣/5️⃣) to get there.`,
      };
    }
    const estimate = estimateCost({
      provider: provider.name,
      trainJsonl: dataset.trainJsonl,
      examples: dataset.stats.trainExamples,
      epochs: settings.epochs,
      pricePer1MTokens: settings.pricePer1MTokens,
    });
    const fits = await budgets.wouldFitTraining({ userId, amountUsd: estimate.costUsd });
    if (!fits.ok) return { ok: false, reason: "over_budget", text: refusalText(fits) };
    const now = clock.now();
    try {
      const proposal = await db.$transaction(async (tx) => {
        const active = await tx.fineTuneJob.count({
          where: { userId, state: { notIn: [...FINISHED_JOB_STATES] } },
        });
        if (active > 0) return undefined;
        const created = await tx.fineTuneProposal.create({
          data: {
            userId,
            origin,
            provider: provider.name,
            baseModel: settings.baseModel,
            examples: dataset.stats.examples,
            trainExamples: dataset.stats.trainExamples,
            validationExamples: dataset.stats.validationExamples,
            tokens: estimate.trainedTokens,
            epochs: estimate.epochs,
            redactions: dataset.stats.redactions,
            drops: dataset.stats.drops,
            estimatedCostUsd: estimate.costUsd.toFixed(6),
            estimatedSeconds: estimate.estimatedSeconds,
            trainJsonl: dataset.trainJsonl,
            validationJsonl: dataset.validationJsonl ?? null,
            datasetSha256: dataset.sha256,
            createdAt: now,
            expiresAt: new Date(now.getTime() + settings.proposalTtlHours * 3_600_000),
          },
          select: { id: true },
        });
        await tx.proposalExample.createMany({
          data: dataset.usedIds.map((exchangeId) => ({ proposalId: created.id, exchangeId })),
        });
        return created;
      });
      if (!proposal) return { ok: false, reason: "busy", text: "A training of yours is already running." };
      return { ok: true, proposalId: proposal.id };
    } catch (e) {
      // The partial unique index: another proposal for this user is already pending.
      if (isUniqueViolation(e))
        return { ok: false, reason: "busy", text: "You already have a pending proposal: check your DMs." };
      throw e;
    }
  }

  function promptText(p: {
    examples: number;
    tokens: number;
    epochs: number;
    estimatedCostUsd: unknown;
    estimatedSeconds: number;
    baseModel: string;
    redactions: number;
    expiresAt: Date;
  }): string {
    return [
      "**I can train a model of your own** from the replies you rated highly.",
      `• Examples: ${p.examples}`,
      `• Training tokens: ${p.tokens.toLocaleString("en")} (${p.epochs} epochs)`,
      `• Estimated cost: ${formatUsd(Number(p.estimatedCostUsd))}, paid by this bot's admins within their limits`,
      `• Estimated time: ${duration(p.estimatedSeconds)}`,
      `• Base model: ${p.baseModel}`,
      `• Personal data removed before upload: ${p.redactions} item${p.redactions === 1 ? "" : "s"}`,
      `This offer expires ${p.expiresAt.toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    ].join("\n");
  }

  /** DMs a stored proposal's approval prompt and records where it went. */
  async function deliver(proposalId: string): Promise<boolean> {
    const p = await db.fineTuneProposal.findUniqueOrThrow({
      where: { id: proposalId },
      include: { user: { select: { externalId: true, platform: true } } },
    });
    const notifier = notifierFor(p.user.platform);
    if (!notifier) {
      log.warn("no notifier for platform; proposal not delivered", { proposalId, platform: p.user.platform });
      return false;
    }
    const ref = await notifier.sendApprovalPrompt(p.user.externalId, {
      proposalId,
      text: promptText(p),
      approveLabel: `Approve (${formatUsd(Number(p.estimatedCostUsd))})`,
      declineLabel: "Decline",
    });
    await db.fineTuneProposal.update({
      where: { id: proposalId },
      data: { notification: ref, notifiedAt: clock.now() },
    });
    log.info("proposal delivered", { proposalId });
    return true;
  }

  async function closePrompt(proposalId: string, text: string): Promise<void> {
    const p = await db.fineTuneProposal.findUnique({
      where: { id: proposalId },
      select: { notification: true, user: { select: { platform: true } } },
    });
    const ref = p?.notification as Record<string, string> | null | undefined;
    if (!p || !ref) return;
    await notifierFor(p.user.platform)
      ?.closeApprovalPrompt(ref, text)
      .catch((e: unknown) => log.warn("could not edit approval prompt", { proposalId, error: e }));
  }

  async function dm(userId: string, text: string): Promise<void> {
    const user = await db.user.findUnique({
      where: { id: userId },
      select: { externalId: true, platform: true },
    });
    if (!user) return;
    await notifierFor(user.platform)
      ?.sendDirectMessage(user.externalId, text)
      .catch((e: unknown) => log.warn("could not DM user", { userId, error: e }));
  }

  // ------------------------------------------------------------------------------------------
  // Commands

  async function train(ref: UserRef): Promise<CommandReply> {
    const user = await db.user.findUnique({ where: { externalId: ref.externalId } });
    if (!user) return { ok: false, text: "I don't know you yet: mention me with a question first." };
    if (user.optedOut) return { ok: false, text: "You opted out, so nothing of yours is used for training." };
    const pending = await db.fineTuneProposal.findFirst({
      where: { userId: user.id, state: "pending", expiresAt: { gt: clock.now() } },
      select: { id: true },
    });
    if (pending) {
      await deliver(pending.id);
      return { ok: true, text: "You already have a training offer waiting: I've sent it to your DMs again." };
    }
    const result = await propose(user.id, "requested");
    if (!result.ok) return { ok: false, text: result.text };
    const delivered = await deliver(result.proposalId);
    return delivered
      ? { ok: true, text: "I've sent you a DM with the cost estimate and Approve / Decline buttons." }
      : {
          ok: false,
          text: "I prepared an offer but couldn't DM you. Please allow DMs from me and try again.",
        };
  }

  type StartOutcome =
    | { kind: "started"; jobId: string }
    | { kind: "taken" }
    | { kind: "busy" }
    | { kind: "refused"; refusal: TrainingRefusal };

  function startRefusalText(start: Exclude<StartOutcome, { kind: "started" | "taken" }>): string {
    return start.kind === "busy"
      ? "Another training of yours is still running; this one was not started."
      : refusalText(start.refusal);
  }

  /**
   * For an approved proposal, inside the budgets' lock: reserve its estimate and create its job, or
   * cancel it (another training running, a limit in the way). Part of the caller's transaction.
   */
  async function startTraining(
    tx: TrainingTx,
    p: {
      id: string;
      userId: string;
      provider: string;
      baseModel: string;
      estimatedCostUsd: Prisma.Decimal;
    },
    now: Date,
  ): Promise<StartOutcome> {
    const cancel = () => transition(tx, { proposal: p.id }, "approved", "cancelled");
    // Jobs are only created under this lock, so the count is exact; the unique index backs it up.
    const unfinished = await tx.fineTuneJob.count({
      where: { userId: p.userId, state: { notIn: [...FINISHED_JOB_STATES] } },
    });
    if (unfinished > 0) {
      await budgets.releaseTraining({ proposalId: p.id }, tx);
      await cancel();
      return { kind: "busy" };
    }
    const reservation = await budgets.reserveTraining(
      { userId: p.userId, proposalId: p.id, amountUsd: Number(p.estimatedCostUsd) },
      tx,
    );
    if (!reservation.ok) {
      await cancel();
      return { kind: "refused", refusal: reservation };
    }
    const job = await tx.fineTuneJob.create({
      data: {
        proposalId: p.id,
        userId: p.userId,
        provider: p.provider,
        baseModel: p.baseModel,
        estimatedCostUsd: p.estimatedCostUsd,
        createdAt: now,
      },
      select: { id: true },
    });
    return { kind: "started", jobId: job.id };
  }

  async function approvalClick(input: {
    user: UserRef;
    proposalId: string;
    action: "approve" | "decline";
    eventKey?: string;
  }): Promise<ButtonOutcome> {
    const p = await db.fineTuneProposal.findUnique({
      where: { id: input.proposalId },
      include: { user: { select: { externalId: true, readyCount: true } } },
    });
    if (!p) return { text: "This training offer no longer exists." };
    if (p.user.externalId !== input.user.externalId)
      return { text: "Only the person this offer was made for can approve or decline it. Nothing changed." };
    if (input.eventKey && !(await claimEvent(db, input.eventKey))) return { text: "Already handled." };
    if (p.state !== "pending") return { text: `This offer was already ${p.state}. Nothing changed.` };
    const now = clock.now();
    if (p.expiresAt <= now) {
      await transition(db, { proposal: p.id }, "pending", "expired");
      const text = "This offer expired. Use /assistant train to get a fresh one.";
      return { text, promptText: text };
    }
    if (input.action === "decline") {
      const claimed = await transition(db, { proposal: p.id }, "pending", "declined", { decidedAt: now });
      if (!claimed) return { text: "This offer was already answered. Nothing changed." };
      await holdOffers(db, p.userId, p.user.readyCount, settings.declineCooldown);
      const text = `Declined: no training. I won't ask again until you have ${settings.declineCooldown} more highly rated replies; /assistant train works any time.`;
      return { text, promptText: text };
    }
    // Approve: the claim, the reservation and the job row commit together, under the budgets' lock,
    // or not at all. A crash anywhere before the commit leaves the offer pending with nothing
    // reserved (the person can click again); after it, the job exists and the monitor resumes it.
    let start: StartOutcome;
    try {
      start = await budgets.withTrainingLock(async (tx) => {
        const claimed = await transition(tx, { proposal: p.id }, "pending", "approved", { decidedAt: now });
        if (!claimed) return { kind: "taken" } as const;
        return startTraining(tx, p, now);
      });
    } catch (e) {
      // The partial unique index (one unfinished job per user) caught what the count under the
      // lock did not: everything above was rolled back, so only the offer is left to close.
      if (!isUniqueViolation(e)) throw e;
      await transition(db, { proposal: p.id }, "pending", "cancelled", { decidedAt: now });
      start = { kind: "busy" };
    }
    if (start.kind === "taken") return { text: "This offer was already answered. Nothing changed." };
    if (start.kind !== "started") {
      const text = startRefusalText(start);
      return { text, promptText: start.kind === "refused" ? `Not started. ${text}` : text };
    }
    const jobId = start.jobId;
    log.info("fine-tune approved", { proposalId: p.id, jobId });
    // Launch now; if this process dies, the monitoring job resumes from the recorded state.
    await launch(jobId).catch((e: unknown) =>
      log.warn("launch interrupted; monitor will resume", { jobId, error: e }),
    );
    const text = `Approved. Training has started (${duration(p.estimatedSeconds)}); I'll DM you when your model is ready.`;
    return { text, promptText: text };
  }

  // ------------------------------------------------------------------------------------------
  // Launch: each step claims a state with a conditional update, then records the provider's ids.
  //
  // A job in "uploading" or "creating" is either being launched right now (the approval's own
  // launch, or another replica's monitor) or was left by a process that died in that step. Only
  // the second may be taken over: a second upload would leave an orphaned file, and a second
  // createJob would start and bill a second training while the first call is still in flight. The
  // step's updatedAt is its lease: a launch takes a step over only when the lease is older than any
  // one provider call can take, and gives it back at once when its call ended in a retryable error.

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

  async function launch(jobId: string): Promise<void> {
    const provider = deps.provider;
    if (!provider) return;
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId }, include: { proposal: true } });
    const fail = (e: unknown) => failJob(jobId, e instanceof Error ? e.message : String(e));

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
          filename: `ft-${jobId}-train.jsonl`,
          content: job.proposal.trainJsonl,
        });
        const validationFile = job.proposal.validationJsonl
          ? await provider.uploadFile({
              filename: `ft-${jobId}-validation.jsonl`,
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

  async function failJob(jobId: string, providerReason: string): Promise<void> {
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
    await dm(
      job.userId,
      `Your model's training failed: ${reason}. Nothing was charged for it; you can try again with /assistant train.`,
    );
  }

  // ------------------------------------------------------------------------------------------
  // Monitoring

  async function refresh(jobId: string): Promise<void> {
    const provider = deps.provider;
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    if (!provider || job.state !== "running" || !job.providerJobId) return;
    const info = await provider.getJob(job.providerJobId);
    if (info.status === "succeeded" && info.fineTunedModel) return succeed(jobId, info);
    if (info.status === "failed") return failJob(jobId, info.error ?? "the provider gave no reason");
    if (info.status === "cancelled") {
      if (await transition(db, { job: jobId }, "running", "cancelled", { finishedAt: clock.now() })) {
        await budgets.releaseTraining({ proposalId: job.proposalId });
        await dm(job.userId, "Your model's training was cancelled. Nothing was charged for it.");
      }
      return;
    }
    if (info.status !== job.providerStatus)
      await db.fineTuneJob.update({ where: { id: jobId }, data: { providerStatus: info.status } });
  }

  async function succeed(jobId: string, info: FineTuneJobInfo): Promise<void> {
    const now = clock.now();
    const job = await db.fineTuneJob.findUniqueOrThrow({ where: { id: jobId } });
    const actual =
      info.trainedTokens !== undefined
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
      const last = await tx.modelVersion.aggregate({
        where: { userId: job.userId },
        _max: { version: true },
      });
      const created = await tx.modelVersion.create({
        data: {
          userId: job.userId,
          jobId,
          provider: job.provider,
          modelId: info.fineTunedModel!,
          baseModel: job.baseModel,
          version: (last._max.version ?? 0) + 1,
          createdAt: now,
        },
      });
      // The examples it learned from are no longer "ready": they don't count towards the next one.
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
        data: { trainedAt: now, trainedInJobId: jobId },
      });
      await tx.user.update({ where: { id: job.userId }, data: { activeModelVersionId: created.id } });
      await countTrained(tx, job.userId, trained.count);
      return created;
    });
    if (!version) return;
    await budgets.settleTraining({ proposalId: job.proposalId, jobId, actualUsd: actual });
    log.info("fine-tune succeeded; model activated", { jobId, version: version.version });
    await dm(
      job.userId,
      `Your own model (v${version.version}) is ready and now answers you. It cost ${formatUsd(actual)}. Use /assistant models to see your versions, /assistant rollback to go back.`,
    );
  }

  /**
   * Approved offers that have no job. An approval commits its claim, reservation and job together,
   * so none arises from a crash now; this finishes those left by versions that committed them one
   * by one, and anything else that approves without starting. A recent one is started as its owner
   * asked; one older than an offer's lifetime (or for a provider no longer configured) is closed and
   * its reservation released, so no money stays held for a training that never runs.
   */
  async function resumeApprovals(): Promise<void> {
    const stranded = await db.fineTuneProposal.findMany({
      where: { state: "approved", job: { is: null } },
      select: {
        id: true,
        userId: true,
        provider: true,
        baseModel: true,
        estimatedCostUsd: true,
        estimatedSeconds: true,
        decidedAt: true,
      },
      orderBy: { decidedAt: "asc" },
    });
    for (const p of stranded) {
      const now = clock.now();
      const decided = p.decidedAt ?? now;
      const resumable =
        deps.provider?.name === p.provider &&
        now.getTime() - decided.getTime() < settings.proposalTtlHours * 3_600_000;
      let outcome: StartOutcome | { kind: "closed" };
      try {
        outcome = await budgets.withTrainingLock(async (tx) => {
          // Under the lock an approval in flight has either committed its job or not claimed yet.
          const still = await tx.fineTuneProposal.count({
            where: { id: p.id, state: "approved", job: { is: null } },
          });
          if (!still) return { kind: "taken" } as const;
          if (resumable) return startTraining(tx, p, now);
          await budgets.releaseTraining({ proposalId: p.id }, tx);
          await transition(tx, { proposal: p.id }, "approved", "cancelled");
          return { kind: "closed" } as const;
        });
      } catch (e) {
        log.warn("approved offer without a job not resumed; will retry", { proposalId: p.id, error: e });
        continue;
      }
      if (outcome.kind === "taken") continue;
      log.info("approved offer without a job", { proposalId: p.id, outcome: outcome.kind });
      const day = decided.toISOString().slice(0, 10);
      const text =
        outcome.kind === "started"
          ? `The training you approved was interrupted before it started; it has started now (${duration(p.estimatedSeconds)}). I'll DM you when your model is ready.`
          : outcome.kind === "closed"
            ? `The training you approved on ${day} was never started (the bot stopped while starting it). Nothing was charged; /assistant train makes a fresh offer.`
            : `The training you approved could not start: ${startRefusalText(outcome)}`;
      await closePrompt(p.id, text);
      await dm(p.userId, text);
    }
  }

  /**
   * Deletes finished trainings' files at the provider: the uploaded training and validation files
   * (they were needed only to train) and the result files the provider wrote for the job (OpenAI's
   * `result_files`). Per job, one transaction marks it and queues the files as DeletionRecords under
   * its owner's subject hash (the queue forget uses, so `/assistant forget` also finds what is left);
   * then the queue is carried out. A deletion that fails stays queued and is retried by the
   * deletions job; a job whose result files cannot be listed right now is tried again next run.
   */
  async function cleanUpFiles(): Promise<{ queued: number }> {
    const provider = deps.provider;
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
        await tx.deletionRecord.createMany({
          data: resourceIds.map((resourceId) => ({
            subjectHash: hash,
            provider: job.provider,
            kind: "file",
            resourceId,
            createdAt: now,
          })),
          skipDuplicates: true,
        });
        return true;
      }, transactionOptions);
      if (!marked) continue;
      queued += resourceIds.length;
      if (resourceIds.length) subjects.add(hash);
    }
    for (const hash of subjects) {
      try {
        await deps.deleteQueued?.(hash);
      } catch (e) {
        log.warn("provider file deletions not carried out; the deletions job retries them", { error: e });
      }
    }
    if (queued) log.info("finished trainings' files queued for deletion", { files: queued });
    return { queued };
  }

  /**
   * The monitoring job: resume interrupted approvals and launches, refresh running jobs, delete
   * finished trainings' files at the provider, expire old offers.
   */
  async function monitor(): Promise<void> {
    await resumeApprovals();
    const jobs = await db.fineTuneJob.findMany({
      where: { state: { notIn: [...FINISHED_JOB_STATES] } },
      select: { id: true, state: true },
    });
    for (const job of jobs) {
      try {
        if (isIn(LAUNCH_JOB_STATES, job.state)) await launch(job.id);
        else await refresh(job.id);
      } catch (e) {
        log.warn("fine-tune job not refreshed; will retry", { jobId: job.id, error: e });
      }
    }
    await cleanUpFiles();
    await expireProposals();
  }

  async function expireProposals(): Promise<void> {
    const now = clock.now();
    const due = await db.fineTuneProposal.findMany({
      where: { state: "pending", expiresAt: { lte: now } },
      select: { id: true },
    });
    for (const p of due) {
      if (await transition(db, { proposal: p.id }, "pending", "expired"))
        await closePrompt(p.id, "This offer expired. Use /assistant train to get a fresh one.");
    }
  }

  // ------------------------------------------------------------------------------------------
  // Readiness: scheduled proposals. Candidates come from the users' counters (an index scan on
  // readyCount), so the cost grows with the number of ready users, not with exchanges.

  async function readiness(): Promise<{ proposed: number }> {
    if (!deps.provider) return { proposed: 0 };
    let proposed = 0;
    let cursor: string | undefined;
    for (;;) {
      const users = await db.user.findMany({
        where: { readyCount: { gte: settings.threshold }, optedOut: false },
        select: { id: true, readyCount: true, proposalBlockedUntilReady: true },
        orderBy: { id: "asc" },
        take: 200,
        ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
      });
      if (!users.length) break;
      cursor = users.at(-1)!.id;
      const ids = users.filter((u) => u.readyCount >= u.proposalBlockedUntilReady).map((u) => u.id);
      const [openProposals, openJobs] = await Promise.all([
        db.fineTuneProposal.findMany({
          where: { userId: { in: ids }, state: "pending" },
          select: { userId: true },
        }),
        db.fineTuneJob.findMany({
          where: { userId: { in: ids }, state: { notIn: [...FINISHED_JOB_STATES] } },
          select: { userId: true },
        }),
      ]);
      const busy = new Set([...openProposals, ...openJobs].map((r) => r.userId));
      for (const userId of ids) {
        if (busy.has(userId)) continue;
        try {
          const r = await propose(userId, "scheduled");
          if (r.ok && (await deliver(r.proposalId))) proposed++;
          else if (!r.ok) log.info("no proposal", { userId, reason: r.reason });
        } catch (e) {
          log.warn("proposal failed", { userId, error: e });
        }
      }
    }
    return { proposed };
  }

  // ------------------------------------------------------------------------------------------
  // Model versions, rollback, retirement

  async function models(ref: UserRef): Promise<CommandReply> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersionId: true },
    });
    if (!user) return { ok: true, text: "You have no models of your own yet." };
    const versions = await db.modelVersion.findMany({
      where: { userId: user.id },
      orderBy: { version: "asc" },
    });
    if (!versions.length)
      return { ok: true, text: "You have no models of your own yet; the base model answers you." };
    const lines = versions.map(
      (v) =>
        `v${v.version}: ${v.modelId} (${v.status}${v.shutdownDate ? `, provider shutdown ${v.shutdownDate.toISOString().slice(0, 10)}` : ""})${v.id === user.activeModelVersionId ? " ← answering you" : ""}`,
    );
    if (!user.activeModelVersionId) lines.push("The base model is answering you.");
    return { ok: true, text: lines.join("\n") };
  }

  async function rollback(ref: UserRef, target: string): Promise<CommandReply> {
    const user = await db.user.findUnique({
      where: { externalId: ref.externalId },
      select: { id: true, activeModelVersion: { select: { version: true } } },
    });
    if (!user) return { ok: false, text: "You have no models of your own yet." };
    const t = target.trim().toLowerCase() || "previous";
    if (t === "base") {
      await db.user.update({ where: { id: user.id }, data: { activeModelVersionId: null } });
      return { ok: true, text: "Done: the base model answers you now (with your memory and examples)." };
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
        await db.user.update({ where: { id: user.id }, data: { activeModelVersionId: null } });
        return { ok: true, text: "There is no earlier version: the base model answers you now." };
      }
    } else {
      const n = Number(t.replace(/^v/, ""));
      chosen = available.find((v) => v.version === n);
      if (!chosen)
        return {
          ok: false,
          text: `There is no available version "${target}". /assistant models lists yours.`,
        };
    }
    await db.user.update({ where: { id: user.id }, data: { activeModelVersionId: chosen.id } });
    return { ok: true, text: `Done: v${chosen.version} (${chosen.modelId}) answers you now.` };
  }

  /** Daily: read each active tuned model's shutdown date; warn ahead; fall back to the base model on the day. */
  async function retirement(): Promise<void> {
    const provider = deps.provider;
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
      const day = shutdown.toISOString().slice(0, 10);
      if (shutdown <= now) {
        await db.$transaction([
          db.modelVersion.update({ where: { id: v.id }, data: { status: "retired" } }),
          db.user.updateMany({ where: { activeModelVersionId: v.id }, data: { activeModelVersionId: null } }),
        ]);
        await dm(
          v.userId,
          `Your model v${v.version} was shut down by ${v.provider} on ${day}. The base model answers you now, still with your memory and your best replies as examples. Your training examples are kept: /assistant train can train a new model.`,
        );
      } else if (
        !v.retirementNoticeAt &&
        shutdown.getTime() - now.getTime() <= settings.retirementNoticeDays * 86_400_000
      ) {
        await db.modelVersion.update({ where: { id: v.id }, data: { retirementNoticeAt: now } });
        await dm(
          v.userId,
          `Heads-up: ${v.provider} will stop serving your model v${v.version} on ${day}. From then on the base model answers you, with your memory and best replies. Your examples are kept, so you can retrain with /assistant train.`,
        );
      }
    }
  }

  return {
    propose,
    deliver,
    train,
    approvalClick,
    launch,
    monitor,
    refresh,
    readiness,
    models,
    rollback,
    retirement,
    expireProposals,
    resumeApprovals,
    cleanUpFiles,
  };
}

export type FineTuneLifecycle = ReturnType<typeof createFineTuneLifecycle>;

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: { originalCode?: string } };
  return (
    err?.code === "P2002" ||
    err?.cause?.originalCode === "23505" ||
    /unique constraint|duplicate key value/i.test(err?.message ?? "")
  );
}
