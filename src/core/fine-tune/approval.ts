// Approve / Decline on an offer. Approving claims the offer, reserves its estimate against the
// admins' limits and creates the training in one transaction under the budgets' lock, then starts
// the launch; a crash anywhere before the commit leaves the offer pending with nothing reserved, so
// clicking again works. Declining closes the offer and holds off new ones for a while.
import type { Prisma } from "../../generated/prisma/client.ts";
import type { TrainingRefusal, TrainingTx } from "../budgets.ts";
import { claimEvent } from "../idempotency.ts";
import { fineTuneNotices, LIMIT_OUTCOME } from "../messages.ts";
import { type ClickOutcome, type Outcome, outcome, settles } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { holdOffers } from "../user-counters.ts";
import type { StageContext } from "./context.ts";
import type { Launch } from "./launch.ts";
import { FINISHED_JOB_STATES, isUniqueViolation, transition } from "./states.ts";

type StartOutcome =
  | { kind: "started"; jobId: string }
  | { kind: "taken" }
  | { kind: "busy" }
  | { kind: "refused"; refusal: TrainingRefusal };

/** Why an approved offer did not start. */
function notStarted(start: Exclude<StartOutcome, { kind: "started" | "taken" }>): Outcome {
  return start.kind === "busy"
    ? outcome("approval.training_running")
    : outcome(LIMIT_OUTCOME[start.refusal.reason], start.refusal);
}

export function createApproval(ctx: StageContext, stages: { launch: Launch["launch"] }) {
  const { db, clock, log, budgets, settings, notices } = ctx;

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
  }): Promise<ClickOutcome> {
    const p = await db.fineTuneProposal.findUnique({
      where: { id: input.proposalId },
      include: { user: { select: { externalId: true, readyCount: true } } },
    });
    if (!p) return outcome("approval.gone");
    if (p.user.externalId !== input.user.externalId) return outcome("approval.not_owner");
    // The click's delivery id is claimed in the same transaction as what the click does, so a
    // crash in between leaves neither: the platform's redelivery is then handled, not dropped.
    const claim = (tx: Prisma.TransactionClient) =>
      input.eventKey ? claimEvent(tx, input.eventKey) : Promise.resolve(true);
    if (p.state !== "pending") return outcome("approval.already_decided", p.state);
    const now = clock.now();
    if (p.expiresAt <= now) {
      await transition(db, { proposal: p.id }, "pending", "expired");
      return settles(outcome("approval.expired"));
    }
    if (input.action === "decline") {
      const declined = await db.$transaction(async (tx) => {
        if (!(await claim(tx))) return "duplicate" as const;
        if (!(await transition(tx, { proposal: p.id }, "pending", "declined", { decidedAt: now })))
          return "taken" as const;
        await holdOffers(tx, p.userId, p.user.readyCount, settings.declineCooldown);
        return "declined" as const;
      });
      if (declined === "duplicate") return outcome("event.duplicate");
      if (declined === "taken") return outcome("approval.already_answered");
      return settles(outcome("approval.declined", settings.declineCooldown));
    }
    // Approve: the claim, the reservation and the job row commit together, under the budgets' lock,
    // or not at all. A crash anywhere before the commit leaves the offer pending with nothing
    // reserved (the person can click again); after it, the job exists and the monitor resumes it.
    // "duplicate": the same click (delivery id) was handled before.
    let start: StartOutcome | { kind: "duplicate" };
    try {
      start = await budgets.withTrainingLock(async (tx) => {
        if (!(await claim(tx))) return { kind: "duplicate" } as const;
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
    if (start.kind === "duplicate") return outcome("event.duplicate");
    if (start.kind === "taken") return outcome("approval.already_answered");
    if (start.kind !== "started") {
      const refused = notStarted(start);
      return settles(
        refused,
        start.kind === "refused" ? fineTuneNotices.notStarted(refused.text) : refused.text,
      );
    }
    const jobId = start.jobId;
    log.info("fine-tune approved", { proposalId: p.id, jobId });
    // Launch now; if this process dies, the monitoring job resumes from the recorded state.
    await stages
      .launch(jobId)
      .catch((e: unknown) => log.warn("launch interrupted; monitor will resume", { jobId, error: e }));
    return settles(outcome("approval.started", p.estimatedSeconds));
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
        ctx.provider?.name === p.provider &&
        now.getTime() - decided.getTime() < settings.proposalTtlHours * 3_600_000;
      let result: StartOutcome | { kind: "closed" };
      try {
        result = await budgets.withTrainingLock(async (tx) => {
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
      if (result.kind === "taken") continue;
      log.info("approved offer without a job", { proposalId: p.id, outcome: result.kind });
      const text =
        result.kind === "started"
          ? fineTuneNotices.resumedStarted(p.estimatedSeconds)
          : result.kind === "closed"
            ? fineTuneNotices.resumedClosed(decided)
            : fineTuneNotices.resumedRefused(notStarted(result).text);
      await notices.closePrompt(p.id, text);
      await notices.dm(p.userId, text);
    }
  }

  return { approvalClick, resumeApprovals };
}

export type Approval = ReturnType<typeof createApproval>;
