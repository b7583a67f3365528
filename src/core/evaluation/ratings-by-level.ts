// Mean rating by personalisation level (base, + memory, + few-shot, own model), by trial arm and
// by holdout, for one person (`/assistant status`) or everyone (admin CLI `lift`, Prometheus): the
// figures that show whether memory, few-shot and a person's own model make replies better.
import type { Database } from "../../database/open-database.ts";
import { LEVELS, type Level } from "./reply-plan.ts";

export interface LevelRatings {
  level: Level;
  /** "incumbent" | "candidate" while a trial ran, else null. */
  arm: string | null;
  /** Answered without memory and few-shot on purpose (PERSONALISATION_HOLDOUT). */
  holdout: boolean;
  n: number;
  mean: number;
}

/** Rated replies grouped by level, arm and holdout; one person's with `userId`. */
export async function ratingsByLevel(db: Database, userId?: string): Promise<LevelRatings[]> {
  const rows = await db.exchange.groupBy({
    by: ["level", "arm", "holdout"],
    where: { rating: { not: null }, level: { not: null }, ...(userId ? { userId } : {}) },
    _count: { rating: true },
    _avg: { rating: true },
  });
  return rows
    .map((r) => ({
      level: r.level as Level,
      arm: r.arm,
      holdout: r.holdout,
      n: r._count.rating,
      mean: r._avg.rating ?? 0,
    }))
    .sort(
      (a, b) => LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level) || Number(a.holdout) - Number(b.holdout),
    );
}

/** Merged over arms: one line per level, holdout apart (what `/assistant status` shows). */
export function byLevel(
  rows: readonly LevelRatings[],
): Array<{ level: Level; holdout: boolean; n: number; mean: number }> {
  const out = new Map<string, { level: Level; holdout: boolean; n: number; sum: number }>();
  for (const r of rows) {
    const key = `${r.level}:${r.holdout}`;
    const e = out.get(key) ?? { level: r.level, holdout: r.holdout, n: 0, sum: 0 };
    e.n += r.n;
    e.sum += r.mean * r.n;
    out.set(key, e);
  }
  return [...out.values()].map((e) => ({
    level: e.level,
    holdout: e.holdout,
    n: e.n,
    mean: e.n ? e.sum / e.n : 0,
  }));
}
