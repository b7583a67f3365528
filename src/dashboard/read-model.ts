// What the dashboard's pages show, read from the database (as the metrics are): daily series for the
// charts, people by their opaque id, trainings, the limits' audit trail, deletions owed. Read only:
// every change goes through the core (operators.ts, data-rights/deletions.ts).
import type { Budgets } from "../core/budgets.ts";
import { utcDay } from "../core/budgets.ts";
import { byLevel, ratingsByLevel } from "../core/evaluation/ratings-by-level.ts";
import { modelSuffix } from "../core/fine-tune/launch.ts";
import type { Clock } from "../core/ports.ts";
import type { Database } from "../database/open-database.ts";

/** The charts cover this many UTC days, today included. */
export const DAYS = 30;

export interface DayValue {
  day: string;
  value: number;
}

/** The last DAYS UTC days (oldest first) and the instant the window starts. */
export function window(now: Date): { days: string[]; start: Date; end: Date } {
  const today = utcDay(now);
  const start = new Date(today.start.getTime() - (DAYS - 1) * 86_400_000);
  const days = Array.from({ length: DAYS }, (_, i) =>
    new Date(start.getTime() + i * 86_400_000).toISOString().slice(0, 10),
  );
  return { days, start, end: today.end };
}

/** A value for every day of the window (0 where the database has none). */
function fill(days: string[], rows: Array<{ day: string; value: string | number | null }>): DayValue[] {
  const by = new Map(rows.map((r) => [r.day, Number(r.value ?? 0)]));
  return days.map((day) => ({ day, value: by.get(day) ?? 0 }));
}

/** Which of a person's models answered: "base", or the version number of their own model. */
export interface ModelRatings {
  label: string;
  version: number | null;
  rated: number;
  mean: number | null;
}

export function createReadModel(deps: {
  db: Database;
  clock: Clock;
  budgets: Pick<Budgets, "getLimits" | "spend">;
  settings: { threshold: number; chatModel: string };
}) {
  const { db, clock } = deps;

  async function overview() {
    const { days, start, end } = window(clock.now());
    const [replies, active, ratings, chat, training, totals, limits, spend] = await Promise.all([
      db.$queryRaw<Array<{ day: string; value: number }>>`
        SELECT to_char("createdAt", 'YYYY-MM-DD') AS "day", COUNT(*)::int AS "value"
        FROM "Exchange" WHERE "status" = 'answered' AND "createdAt" >= ${start} AND "createdAt" < ${end}
        GROUP BY 1`,
      db.$queryRaw<Array<{ day: string; value: number }>>`
        SELECT to_char("createdAt", 'YYYY-MM-DD') AS "day", COUNT(DISTINCT "userId")::int AS "value"
        FROM "Exchange" WHERE "createdAt" >= ${start} AND "createdAt" < ${end}
        GROUP BY 1`,
      db.$queryRaw<Array<{ day: string; n: number; mean: number }>>`
        SELECT to_char("ratedAt", 'YYYY-MM-DD') AS "day", COUNT(*)::int AS "n", AVG("rating")::float8 AS "mean"
        FROM "Exchange" WHERE "rating" IS NOT NULL AND "ratedAt" >= ${start} AND "ratedAt" < ${end}
        GROUP BY 1`,
      db.$queryRaw<Array<{ day: string; value: string }>>`
        SELECT to_char("createdAt", 'YYYY-MM-DD') AS "day", SUM("amountUsd")::text AS "value"
        FROM "CostLedgerEntry"
        WHERE "kind" = 'chat' AND "createdAt" >= ${start} AND "createdAt" < ${end}
        GROUP BY 1`,
      // Training counts against the month it was reserved in (its period), on the day it was reserved.
      db.$queryRaw<Array<{ day: string; value: string }>>`
        SELECT to_char("createdAt", 'YYYY-MM-DD') AS "day", SUM("amountUsd")::text AS "value"
        FROM "CostLedgerEntry"
        WHERE "kind" = 'training' AND "status" IN ('reserved', 'settled')
          AND "period" = ${clock.now().toISOString().slice(0, 7)}
        GROUP BY 1`,
      db.$queryRaw<Array<{ people: number; rated: number; mean: number | null; replies: number }>>`
        SELECT COUNT(DISTINCT "userId")::int AS "people",
               (SELECT COUNT(*)::int FROM "Exchange" WHERE "rating" IS NOT NULL AND "ratedAt" >= ${start}) AS "rated",
               (SELECT AVG("rating")::float8 FROM "Exchange" WHERE "rating" IS NOT NULL AND "ratedAt" >= ${start}) AS "mean",
               COUNT(*) FILTER (WHERE "status" = 'answered')::int AS "replies"
        FROM "Exchange" WHERE "createdAt" >= ${start} AND "createdAt" < ${end}`,
      deps.budgets.getLimits(),
      deps.budgets.spend(),
    ]);
    const month = clock.now().toISOString().slice(0, 7);
    const monthDays = days.filter((d) => d.startsWith(month));
    let running = 0;
    const trainingByDay = new Map(training.map((r) => [r.day, Number(r.value)]));
    const trainingCumulative = monthDays.map((day) => {
      running += trainingByDay.get(day) ?? 0;
      return { day, value: running };
    });
    const ratingRows = ratings.map((r) => ({ day: r.day, n: r.n, mean: r.mean }));
    return {
      days,
      replies: fill(days, replies),
      active: fill(days, active),
      ratings: fill(
        days,
        ratingRows.map((r) => ({ day: r.day, value: r.n })),
      ),
      ratingMeans: ratingRows
        .filter((r) => days.includes(r.day))
        .sort((a, b) => a.day.localeCompare(b.day))
        .map((r) => ({ day: r.day, value: r.mean })),
      chatSpend: fill(days, chat),
      trainingCumulative,
      totals: totals[0] ?? { people: 0, rated: 0, mean: null, replies: 0 },
      limits,
      spend,
      modelComparison: await modelComparison(),
    };
  }

  /** Ratings by the model that answered, for everyone with a model of their own. */
  async function modelComparison() {
    const versions = await db.modelVersion.findMany({
      select: { userId: true, version: true, modelId: true, adapterName: true },
      orderBy: [{ userId: "asc" }, { version: "asc" }],
    });
    const owners = [...new Set(versions.map((v) => v.userId))];
    if (!owners.length) return [];
    const grouped = await db.exchange.groupBy({
      by: ["userId", "model"],
      where: { userId: { in: owners }, rating: { not: null } },
      _count: { rating: true },
      _avg: { rating: true },
    });
    return owners.map((userId) => {
      const mine = versions.filter((v) => v.userId === userId);
      const versionOf = (model: string | null) =>
        mine.find((v) => v.adapterName === model || v.modelId === model)?.version ?? null;
      const rows = grouped.filter((g) => g.userId === userId);
      const sum = (version: number | null) => {
        const picked = rows.filter((g) => versionOf(g.model) === version);
        const rated = picked.reduce((n, g) => n + g._count.rating, 0);
        const total = picked.reduce((n, g) => n + (g._avg.rating ?? 0) * g._count.rating, 0);
        return { rated, mean: rated ? total / rated : null };
      };
      const latest = mine.at(-1)!.version;
      return { person: modelSuffix(userId), base: sum(null), own: sum(latest), version: latest };
    });
  }

  async function people() {
    const users = await db.user.findMany({
      orderBy: [{ exchangeCount: "desc" }, { createdAt: "asc" }],
      take: 500,
      select: {
        id: true,
        platform: true,
        exchangeCount: true,
        ratedCount: true,
        highRatedCount: true,
        readyCount: true,
        optedOut: true,
        activeModelVersion: { select: { version: true, status: true } },
      },
    });
    const ids = users.map((u) => u.id);
    const [spend, means, total] = await Promise.all([
      db.costLedgerEntry.groupBy({
        by: ["userId", "kind"],
        where: { userId: { in: ids }, status: { in: ["reserved", "settled"] } },
        _sum: { amountUsd: true },
      }),
      db.exchange.groupBy({
        by: ["userId"],
        where: { userId: { in: ids }, rating: { not: null } },
        _avg: { rating: true },
      }),
      db.user.count(),
    ]);
    const usd = (id: string, kind: string) =>
      Number(spend.find((s) => s.userId === id && s.kind === kind)?._sum.amountUsd ?? 0);
    return {
      total,
      threshold: deps.settings.threshold,
      rows: users.map((u) => ({
        person: modelSuffix(u.id),
        platform: u.platform,
        exchanges: u.exchangeCount,
        rated: u.ratedCount,
        highlyRated: u.highRatedCount,
        ready: u.readyCount,
        optedOut: u.optedOut,
        meanRating: means.find((m) => m.userId === u.id)?._avg.rating ?? null,
        model:
          u.activeModelVersion?.status === "available" ? `v${u.activeModelVersion.version}` : "base model",
        chatUsd: usd(u.id, "chat"),
        trainingUsd: usd(u.id, "training"),
      })),
    };
  }

  /** The internal id behind an opaque id (a hash of it: found by hashing every id, as the admin CLI does). */
  async function findPerson(opaque: string): Promise<string | undefined> {
    if (!/^u[0-9a-f]{16}$/.test(opaque)) return undefined;
    const ids = await db.user.findMany({ select: { id: true } });
    return ids.find((u) => modelSuffix(u.id) === opaque)?.id;
  }

  async function person(opaque: string) {
    const id = await findPerson(opaque);
    if (!id) return undefined;
    const [user, versions, jobs, ratings, levels] = await Promise.all([
      db.user.findUniqueOrThrow({
        where: { id },
        select: {
          platform: true,
          exchangeCount: true,
          ratedCount: true,
          highRatedCount: true,
          readyCount: true,
          optedOut: true,
          trainingOffersOff: true,
          activeModelVersionId: true,
        },
      }),
      db.modelVersion.findMany({
        where: { userId: id },
        orderBy: { version: "asc" },
        include: { job: { select: { actualCostUsd: true, estimatedCostUsd: true, trainedTokens: true } } },
      }),
      trainings({ userId: id }),
      db.exchange.groupBy({
        by: ["model"],
        where: { userId: id, rating: { not: null } },
        _count: { rating: true },
        _avg: { rating: true },
      }),
      ratingsByLevel(db, id),
    ]);
    const versionOf = (model: string | null) =>
      versions.find((v) => v.adapterName === model || v.modelId === model)?.version ?? null;
    const byModel: ModelRatings[] = [];
    for (const g of ratings) {
      const version = versionOf(g.model);
      const label = version === null ? "base model" : `v${version}`;
      const row = byModel.find((r) => r.label === label);
      const n = g._count.rating;
      const mean = g._avg.rating ?? 0;
      if (row) {
        row.mean = ((row.mean ?? 0) * row.rated + mean * n) / (row.rated + n);
        row.rated += n;
      } else byModel.push({ label, version, rated: n, mean });
    }
    byModel.sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
    return {
      person: opaque,
      user,
      threshold: deps.settings.threshold,
      versions: versions.map((v) => ({
        version: v.version,
        provider: v.provider,
        model: v.adapterName ?? v.modelId,
        baseModel: v.baseModel,
        status: v.status,
        active: v.id === user.activeModelVersionId,
        createdAt: v.createdAt,
        costUsd: v.job ? Number(v.job.actualCostUsd ?? v.job.estimatedCostUsd) : null,
        trainedTokens: v.job?.trainedTokens ?? null,
        trial: v.canaryState,
        trialResult: trialResult(v.canaryResult),
        validationLoss: v.validationLoss,
      })),
      byModel,
      byLevel: byLevel(levels),
      jobs,
    };
  }

  /** Every offer, with its training when it was approved; newest first. */
  async function trainings(where: { userId?: string } = {}) {
    const proposals = await db.fineTuneProposal.findMany({
      where,
      orderBy: { createdAt: "desc" },
      take: 300,
      select: {
        id: true,
        userId: true,
        state: true,
        origin: true,
        provider: true,
        baseModel: true,
        examples: true,
        tokens: true,
        epochs: true,
        estimatedCostUsd: true,
        estimatedSeconds: true,
        quotedUsd: true,
        createdAt: true,
        expiresAt: true,
        decidedAt: true,
        job: {
          select: {
            id: true,
            state: true,
            providerStatus: true,
            estimatedCostUsd: true,
            actualCostUsd: true,
            trainedTokens: true,
            error: true,
            createdAt: true,
            startedAt: true,
            finishedAt: true,
            trainerJob: { select: { progress: true, state: true, heartbeatAt: true } },
          },
        },
      },
    });
    return proposals.map((p) => ({
      person: modelSuffix(p.userId),
      offer: {
        state: p.state,
        origin: p.origin,
        provider: p.provider,
        baseModel: p.baseModel,
        examples: p.examples,
        tokens: p.tokens,
        epochs: p.epochs,
        estimatedUsd: Number(p.estimatedCostUsd),
        estimatedSeconds: p.estimatedSeconds,
        quotedUsd: p.quotedUsd === null ? null : Number(p.quotedUsd),
        createdAt: p.createdAt,
        expiresAt: p.expiresAt,
        decidedAt: p.decidedAt,
      },
      job: p.job
        ? {
            id: p.job.id,
            state: p.job.state,
            providerStatus: p.job.providerStatus,
            estimatedUsd: Number(p.job.estimatedCostUsd),
            billedUsd: p.job.actualCostUsd === null ? null : Number(p.job.actualCostUsd),
            trainedTokens: p.job.trainedTokens,
            error: p.job.error,
            createdAt: p.job.createdAt,
            startedAt: p.job.startedAt,
            finishedAt: p.job.finishedAt,
            progress: progressOf(p.job.trainerJob?.progress),
          }
        : undefined,
    }));
  }

  /** The limits, this month's spend, and what the per-person limits meet first (the top spender). */
  async function limits() {
    const [current, spend] = await Promise.all([deps.budgets.getLimits(), deps.budgets.spend()]);
    const top = await db.$queryRaw<Array<{ usd: string; trainings: number }>>`
      SELECT COALESCE(MAX("usd"), 0)::text AS "usd", COALESCE(MAX("n"), 0)::int AS "trainings"
      FROM (SELECT SUM("amountUsd") AS "usd", COUNT(*) AS "n" FROM "CostLedgerEntry"
            WHERE "kind" = 'training' AND "status" IN ('reserved', 'settled') AND "period" = ${spend.period}
              AND "userId" IS NOT NULL
            GROUP BY "userId") AS per_person`;
    return {
      limits: current,
      spend,
      topPerson: { usd: Number(top[0]?.usd ?? 0), trainings: top[0]?.trainings ?? 0 },
    };
  }

  async function limitChanges() {
    return db.limitChange.findMany({ orderBy: [{ changedAt: "desc" }, { id: "desc" }], take: 50 });
  }

  async function deletions() {
    return db.deletionRecord.findMany({ orderBy: { id: "asc" }, take: 500 });
  }

  return { overview, people, person, trainings, limits, limitChanges, deletions };
}

/** A self-hosted trainer's progress ({step, totalSteps, ...}), when it reported one. */
function progressOf(value: unknown): { step: number; totalSteps: number; loss?: number } | undefined {
  if (!value || typeof value !== "object") return undefined;
  const p = value as Record<string, unknown>;
  if (typeof p.step !== "number" || typeof p.totalSteps !== "number" || p.totalSteps <= 0) return undefined;
  return { step: p.step, totalSteps: p.totalSteps, loss: typeof p.loss === "number" ? p.loss : undefined };
}

export type ReadModel = ReturnType<typeof createReadModel>;
export type Overview = Awaited<ReturnType<ReadModel["overview"]>>;
export type People = Awaited<ReturnType<ReadModel["people"]>>;
export type Person = NonNullable<Awaited<ReturnType<ReadModel["person"]>>>;
export type Training = Awaited<ReturnType<ReadModel["trainings"]>>[number];

/** What the dashboard shows of a decided trial. */
export interface TrialResult {
  candidate: { n: number; mean: number };
  incumbent: { n: number; mean: number };
  pNotWorse?: number;
  pWorse?: number;
  basis: string;
}

/** The figures a decided trial stored (canary.ts's canaryResult), or null when there are none. */
function trialResult(raw: unknown): TrialResult | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  const arm = (a: unknown) => {
    const x = (a ?? {}) as { n?: unknown; mean?: unknown };
    return typeof x.n === "number" && typeof x.mean === "number" ? { n: x.n, mean: x.mean } : null;
  };
  const candidate = arm(r.candidate);
  const incumbent = arm(r.incumbent);
  if (!candidate || !incumbent || typeof r.basis !== "string") return null;
  return {
    candidate,
    incumbent,
    ...(typeof r.pNotWorse === "number" ? { pNotWorse: r.pNotWorse } : {}),
    ...(typeof r.pWorse === "number" ? { pWorse: r.pWorse } : {}),
    basis: r.basis,
  };
}
