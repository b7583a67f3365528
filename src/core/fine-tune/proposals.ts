// Offers: a snapshot of the person's training examples with a cost estimate, stored as a pending
// FineTuneProposal and delivered as an approval prompt by DM. Made on request (`/assistant train`)
// or by the readiness job for everyone who reached FINETUNE_THRESHOLD; expired by the monitoring job.

import { fineTuneNotices, LIMIT_OUTCOME } from "../messages.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { FineTuneProvider, UserRef } from "../ports.ts";
import { readyExchanges } from "../user-counters.ts";
import type { StageContext } from "./context.ts";
import { estimateCost } from "./cost-estimate.ts";
import { buildDataset, type Dataset } from "./dataset.ts";
import { deleteQuietly, type ProviderQuote, quoteWithProvider } from "./provider-quote.ts";
import { logRefusal, providerRefusal } from "./provider-refusals.ts";
import { FINISHED_JOB_STATES, isUniqueViolation, transition } from "./states.ts";

/** A stored offer, or why none could be made (a refusal outcome). */
export type ProposeResult = { ok: true; proposalId: string } | (Outcome & { ok: false });

export function createProposals(ctx: StageContext) {
  const { db, clock, log, budgets, settings, notices } = ctx;

  /**
   * The examples of an offer: the ready ones, plus, for a retrain, those a retiring model learned
   * from (`examplesOfJob`), so the new model starts from the same curated set.
   */
  async function readySources(userId: string, examplesOfJob?: string) {
    const ready = readyExchanges(settings.minRating);
    return db.exchange.findMany({
      where: examplesOfJob
        ? {
            userId,
            OR: [
              ready,
              { trainedInJobId: examplesOfJob, status: "answered", rating: { gte: settings.minRating } },
            ],
          }
        : { userId, ...ready },
      select: { id: true, userText: true, replyText: true, status: true, rating: true, createdAt: true },
      orderBy: { id: "asc" },
    });
  }

  function buildFor(sources: Awaited<ReturnType<typeof readySources>>, provider: FineTuneProvider): Dataset {
    return buildDataset(sources, {
      provider: provider.name,
      systemPrompt: settings.systemPrompt,
      minReplyChars: settings.minReplyChars,
      privacy: ctx.privacy,
    });
  }

  /** Builds the dataset snapshot and estimate and stores a pending proposal (not yet delivered). */
  async function propose(
    userId: string,
    origin: "scheduled" | "requested" | "retrain",
    options: { examplesOfJob?: string } = {},
  ): Promise<ProposeResult> {
    const refuse = (refusal: Outcome) => ({ ...refusal, ok: false }) as const;
    const provider = ctx.provider;
    if (!provider) return refuse(outcome("train.disabled"));
    if (ctx.consent) {
      const owner = await db.user.findUnique({ where: { id: userId }, select: { platform: true } });
      const off = owner && ctx.consent.offReason(owner.platform as "discord" | "slack");
      if (off) return refuse(outcome("train.platform_not_allowed", off));
    }
    const refused = await providerRefusal(ctx, provider);
    if (refused) {
      logRefusal(log, provider);
      return refuse(outcome("train.provider_refuses", refused));
    }
    const sources = await readySources(userId, options.examplesOfJob);
    const dataset = buildFor(sources, provider);
    if (dataset.stats.examples < provider.minExamples)
      return refuse(outcome("train.not_enough_examples", dataset.stats.examples, provider.minExamples));
    const estimate = estimateCost({
      provider: provider.name,
      trainJsonl: dataset.trainJsonl,
      examples: dataset.stats.trainExamples,
      epochs: settings.epochs,
      pricePer1MTokens: settings.pricePer1MTokens,
      ...(settings.trainer ? { trainer: settings.trainer } : {}),
    });
    // A provider that quotes (Together) prices the uploaded files itself; the higher price is reserved.
    let quoted: ProviderQuote | undefined;
    try {
      quoted = await quoteWithProvider(
        provider,
        dataset,
        { baseModel: settings.baseModel, epochs: estimate.epochs },
        { log, ...ctx.quoteOptions },
      );
    } catch (e) {
      log.warn("the provider could not price the training; no offer made", { userId, error: e });
      return refuse(outcome("train.quote_failed", e instanceof Error ? e.message : String(e)));
    }
    const quoteFiles = quoted
      ? [quoted.trainingFile, ...(quoted.validationFile ? [quoted.validationFile] : [])]
      : [];
    const abandon = () => deleteQuietly(provider, quoteFiles, log);
    if (quoted?.quote.allowedToProceed === false) {
      await abandon();
      return refuse(outcome("train.provider_credit", provider.name));
    }
    const reservedUsd = Math.max(estimate.costUsd, quoted?.quote.usd ?? 0);
    const fits = await budgets.wouldFitTraining({ userId, amountUsd: reservedUsd });
    if (!fits.ok) {
      await abandon();
      return refuse(outcome(LIMIT_OUTCOME[fits.reason], fits));
    }
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
            estimatedCostUsd: reservedUsd.toFixed(6),
            ...(quoted
              ? {
                  quotedUsd: quoted.quote.usd.toFixed(6),
                  quotedTokens: quoted.quote.tokens ?? null,
                  quoteFileId: quoted.trainingFile,
                  quoteValidationFileId: quoted.validationFile ?? null,
                }
              : {}),
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
      if (!proposal) {
        await abandon();
        return refuse(outcome("train.training_running"));
      }
      return { ok: true, proposalId: proposal.id };
    } catch (e) {
      await abandon();
      // The partial unique index: another proposal for this user is already pending.
      if (isUniqueViolation(e)) return refuse(outcome("train.offer_pending"));
      throw e;
    }
  }

  /** DMs a stored proposal's approval prompt and records where it went. */
  async function deliver(proposalId: string): Promise<boolean> {
    const p = await db.fineTuneProposal.findUniqueOrThrow({
      where: { id: proposalId },
      include: { user: { select: { externalId: true, platform: true } } },
    });
    const notifier = notices.notifierFor(p.user.platform);
    if (!notifier) {
      log.warn("no notifier for platform; proposal not delivered", { proposalId, platform: p.user.platform });
      return false;
    }
    const cost = Number(p.estimatedCostUsd);
    const quote =
      p.quotedUsd !== null
        ? {
            provider: p.provider,
            usd: Number(p.quotedUsd),
            tokens: p.quotedTokens ?? undefined,
            ownUsd: Math.round(p.tokens * settings.pricePer1MTokens) / 1_000_000,
          }
        : undefined;
    const ref = await notifier.sendApprovalPrompt(p.user.externalId, {
      proposalId,
      text: fineTuneNotices.offer({ ...p, estimatedCostUsd: cost, quote }),
      approveLabel: fineTuneNotices.approveLabel(cost),
      declineLabel: fineTuneNotices.declineLabel,
    });
    await db.fineTuneProposal.update({
      where: { id: proposalId },
      data: { notification: ref, notifiedAt: clock.now() },
    });
    log.info("proposal delivered", { proposalId });
    return true;
  }

  /** `/assistant train`: an offer now (or the waiting one again), by DM. */
  async function train(ref: UserRef): Promise<Outcome> {
    const user = await db.user.findUnique({ where: { externalId: ref.externalId } });
    if (!user) return outcome("train.unknown_user");
    if (user.optedOut) return outcome("train.opted_out");
    const pending = await db.fineTuneProposal.findFirst({
      where: { userId: user.id, state: "pending", expiresAt: { gt: clock.now() } },
      select: { id: true },
    });
    if (pending) {
      await deliver(pending.id);
      return outcome("train.offer_resent");
    }
    const result = await propose(user.id, "requested");
    if (!result.ok) return result;
    return (await deliver(result.proposalId)) ? outcome("train.offer_sent") : outcome("train.dm_failed");
  }

  /**
   * The readiness job: offers for everyone with enough ready examples who has no offer or training
   * open and has not declined recently. One set-based query finds them (an index scan on readyCount
   * and two anti-joins), so the cost grows with the number of people over the threshold, not with
   * users or exchanges; then each candidate is proposed to, one at a time.
   */
  async function readiness(): Promise<{ proposed: number }> {
    if (!ctx.provider) return { proposed: 0 };
    let proposed = 0;
    for (const userId of await readinessCandidates()) {
      try {
        const r = await propose(userId, "scheduled");
        if (r.ok && (await deliver(r.proposalId))) proposed++;
        else if (!r.ok) log.info("no proposal", { userId, reason: r.code });
      } catch (e) {
        log.warn("proposal failed", { userId, error: e });
      }
    }
    return { proposed };
  }

  /**
   * Who the readiness job offers a training to. Offers nobody asked for go only to people who rate
   * replies (so they know the bot) and have not turned them off, on platforms the operator may train
   * on (training-consent.ts), and not while an offer or a training of theirs is open.
   */
  async function readinessCandidates(): Promise<string[]> {
    const platforms = ctx.consent ? [...ctx.consent.platforms] : null;
    const rows = await db.$queryRaw<Array<{ id: string }>>`
      SELECT u."id"::text AS id FROM "User" u
      WHERE u."readyCount" >= ${settings.threshold}::int
        AND u."readyCount" >= u."proposalBlockedUntilReady"
        AND NOT u."optedOut" AND NOT u."trainingOffersOff" AND u."ratedCount" >= 1
        AND (${platforms}::text[] IS NULL OR u."platform" = ANY(${platforms}::text[]))
        AND NOT EXISTS (SELECT 1 FROM "FineTuneProposal" p WHERE p."userId" = u."id" AND p."state" = 'pending')
        AND NOT EXISTS (SELECT 1 FROM "FineTuneJob" j WHERE j."userId" = u."id"
                          AND NOT (j."state" = ANY(${[...FINISHED_JOB_STATES]}::text[])))
      ORDER BY u."id"`;
    return rows.map((r) => r.id);
  }

  /** Offers past their expiry become expired, and their prompt says so. */
  async function expireProposals(): Promise<void> {
    const now = clock.now();
    const due = await db.fineTuneProposal.findMany({
      where: { state: "pending", expiresAt: { lte: now } },
      select: { id: true },
    });
    for (const p of due) {
      if (await transition(db, { proposal: p.id }, "pending", "expired"))
        await notices.closePrompt(p.id, fineTuneNotices.offerExpired);
    }
  }

  return { propose, deliver, train, readiness, expireProposals };
}

export type Proposals = ReturnType<typeof createProposals>;
