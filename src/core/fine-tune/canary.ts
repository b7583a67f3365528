// A new model version's trial (canary): when a training succeeds, the new version answers
// CANARY_SHARE of its owner's messages beside the model it would replace (the incumbent: their
// active version, or the base model with memory and few-shot), and their ratings decide whether it
// is promoted or rolled back (evaluation/canary-rule.ts). The decision runs in the monitoring job
// and after each rating of a reply in a trial; the person gets a DM with the outcome and the
// figures. Which arm answers a reply is evaluation/reply-plan.ts's business.
import type { Prisma } from "../../generated/prisma/client.ts";
import { type CanaryFigures, type CanaryRule, judgeCanary } from "../evaluation/canary-rule.ts";
import { fineTuneNotices } from "../messages.ts";
import type { StageContext } from "./context.ts";

export interface CanarySettings extends CanaryRule {
  /** CANARY_SHARE; 0: a new version takes over at once. */
  share: number;
}

const DAY_MS = 86_400_000;

export function createCanary(ctx: StageContext) {
  const { db, clock, log, notices, settings } = ctx;
  const rule = settings.canary;

  /**
   * Inside the transaction that adds version `candidateId`: starts its trial against the person's
   * current model, ending (superseding) a trial still running. False when trials are off: the
   * caller activates the version at once.
   */
  async function start(tx: Prisma.TransactionClient, userId: string, candidateId: string, now: Date) {
    if (!rule || rule.share <= 0) return false;
    await tx.modelVersion.updateMany({
      where: { userId, canaryState: "running" },
      data: { canaryState: "superseded", canaryEndedAt: now },
    });
    const user = await tx.user.findUniqueOrThrow({
      where: { id: userId },
      select: { activeModelVersion: { select: { id: true, status: true } } },
    });
    const incumbent = user.activeModelVersion?.status === "available" ? user.activeModelVersion.id : null;
    await tx.modelVersion.update({
      where: { id: candidateId },
      data: { canaryState: "running", canaryStartedAt: now, canaryIncumbentId: incumbent },
    });
    return true;
  }

  /** The ratings of each arm of a running trial. */
  async function armRatings(v: {
    id: string;
    userId: string;
    canaryStartedAt: Date | null;
    canaryIncumbentId: string | null;
  }) {
    const rows = await db.exchange.findMany({
      where: {
        userId: v.userId,
        arm: { not: null },
        rating: { not: null },
        createdAt: { gte: v.canaryStartedAt ?? new Date(0) },
      },
      select: { arm: true, modelVersionId: true, rating: true },
    });
    const candidate: number[] = [];
    const incumbent: number[] = [];
    for (const r of rows) {
      // A reply the base model answered because the tuned model was not served counts for neither.
      if (r.arm === "candidate" && r.modelVersionId === v.id) candidate.push(r.rating!);
      if (r.arm === "incumbent" && r.modelVersionId === v.canaryIncumbentId) incumbent.push(r.rating!);
    }
    return { candidate, incumbent };
  }

  const runningSelect = {
    id: true,
    userId: true,
    version: true,
    canaryStartedAt: true,
    canaryIncumbentId: true,
  } as const;

  /** Decides one running trial if its ratings (or its age) allow; returns what happened. */
  async function decide(versionId: string): Promise<"promoted" | "rolled_back" | "waiting" | "not_running"> {
    if (!rule) return "not_running";
    const v = await db.modelVersion.findFirst({
      where: { id: versionId, canaryState: "running" },
      select: runningSelect,
    });
    if (!v) return "not_running";
    const { candidate, incumbent } = await armRatings(v);
    const now = clock.now();
    const days = (now.getTime() - (v.canaryStartedAt ?? now).getTime()) / DAY_MS;
    const { verdict, figures } = judgeCanary(candidate, incumbent, days, rule, settings.minRating);
    if (verdict.kind === "wait") return "waiting";
    const promote = verdict.kind === "promote";
    const result = { ...figures, basis: verdict.basis } as unknown as Prisma.InputJsonValue;
    const applied = await db.$transaction(async (tx) => {
      const moved = await tx.modelVersion.updateMany({
        where: { id: v.id, canaryState: "running" },
        data: { canaryState: promote ? "promoted" : "rolled_back", canaryEndedAt: now, canaryResult: result },
      });
      if (moved.count !== 1) return false;
      if (promote) await tx.user.update({ where: { id: v.userId }, data: { activeModelVersionId: v.id } });
      return true;
    });
    if (!applied) return "not_running";
    // The adapter server keeps only the adapter that answers now.
    await ctx.adapters?.sync(v.userId);
    const incumbentLabel = await labelOf(v.canaryIncumbentId);
    log.info(promote ? "canary promoted" : "canary rolled back", {
      userId: v.userId,
      version: v.version,
      basis: verdict.basis,
      candidate: figures.candidate,
      incumbent: figures.incumbent,
    });
    await notices.dm(
      v.userId,
      promote
        ? fineTuneNotices.canaryPromoted(v.version, incumbentLabel, figures)
        : fineTuneNotices.canaryRolledBack(v.version, incumbentLabel, figures, verdict.basis),
    );
    return promote ? "promoted" : "rolled_back";
  }

  async function labelOf(versionId: string | null): Promise<string> {
    if (!versionId) return "the base model";
    const v = await db.modelVersion.findUnique({ where: { id: versionId }, select: { version: true } });
    return v ? `v${v.version}` : "the base model";
  }

  /** The monitoring job's part: every running trial, decided where it can be. */
  async function decideAll(): Promise<{ promoted: number; rolledBack: number; waiting: number }> {
    const counts = { promoted: 0, rolledBack: 0, waiting: 0 };
    const running = await db.modelVersion.findMany({
      where: { canaryState: "running" },
      select: { id: true },
    });
    for (const r of running) {
      try {
        const d = await decide(r.id);
        if (d === "promoted") counts.promoted++;
        else if (d === "rolled_back") counts.rolledBack++;
        else if (d === "waiting") counts.waiting++;
      } catch (e) {
        log.warn("canary not decided; the next run tries again", { versionId: r.id, error: e });
      }
    }
    return counts;
  }

  /** After a rating: if it rated a reply of a running trial, see whether the trial can be decided. */
  async function afterRating(exchangeId: bigint): Promise<void> {
    const x = await db.exchange.findUnique({
      where: { id: exchangeId },
      select: { userId: true, arm: true },
    });
    if (!x?.arm) return;
    const v = await db.modelVersion.findFirst({
      where: { userId: x.userId, canaryState: "running" },
      select: { id: true },
    });
    if (v) await decide(v.id);
  }

  /**
   * The person chose (`/assistant rollback`, `/assistant models use vN`): their running trial ends
   * without a decision. Returns the version that was on trial, if any.
   */
  async function endByPerson(userId: string): Promise<{ version: number; incumbent: string } | undefined> {
    const v = await db.modelVersion.findFirst({
      where: { userId, canaryState: "running" },
      select: runningSelect,
    });
    if (!v) return undefined;
    const { candidate, incumbent } = await armRatings(v);
    const now = clock.now();
    const days = (now.getTime() - (v.canaryStartedAt ?? now).getTime()) / DAY_MS;
    const figures: CanaryFigures | undefined = rule
      ? judgeCanary(candidate, incumbent, days, rule, settings.minRating).figures
      : undefined;
    const moved = await db.modelVersion.updateMany({
      where: { id: v.id, canaryState: "running" },
      data: {
        canaryState: "ended",
        canaryEndedAt: now,
        ...(figures
          ? { canaryResult: { ...figures, basis: "person" } as unknown as Prisma.InputJsonValue }
          : {}),
      },
    });
    if (moved.count !== 1) return undefined;
    return { version: v.version, incumbent: await labelOf(v.canaryIncumbentId) };
  }

  return { start, decide, decideAll, afterRating, endByPerson };
}

export type Canary = ReturnType<typeof createCanary>;
