// When a trial of a new model version ends, and how (pure; the README's "How a new model proves
// itself" states the same rule). Ratings are 1-5; each arm's ratings are those of replies assigned
// to it during the trial and answered by its model.
//
//  * Fewer than `minRatings` rated replies in either arm: no decision, until `maxDays`; then the
//    incumbent stays (an admin would rather keep what people already rate than switch on no data),
//    and the person is told they can still choose the new version.
//  * Enough in both: Welch's one-sided t-tests of the difference of means d = candidate - incumbent
//    against the margin m, at planned looks only: when the smaller arm holds exactly k x minRatings
//    ratings, k = 1..maxLooks. Each look tests at alpha / maxLooks (alpha = 1 - confidence), so by
//    Bonferroni's inequality the chance of a wrong decision over all looks stays within alpha, although
//    the rule is consulted after every rating:
//      promote   when H0 "d <= -m" (worse by more than the margin) is rejected;
//      roll back when H0 "d >= -m" is rejected (it is shown worse by more than the margin);
//      otherwise keep collecting; at `maxDays`, the estimate decides: promote when d >= -m.
import { type Sample, summarise, welch } from "./welch.ts";

export interface CanaryRule {
  minRatings: number;
  maxDays: number;
  margin: number;
  confidence: number;
  /** Planned looks (tests) of a trial; each tests at (1 - confidence) / maxLooks. */
  maxLooks: number;
}

export interface ArmFigures {
  n: number;
  mean: number;
  /** Share of ratings at or above the high-rating bar (👍, 4 and 5). */
  upShare: number;
}

export type CanaryBasis = "test" | "estimate_at_max_days" | "too_few_at_max_days";

export type CanaryVerdict =
  | { kind: "wait"; reason: "too_few_ratings" | "between_looks" | "inconclusive" }
  | { kind: "promote" | "roll_back"; basis: CanaryBasis };

export interface CanaryFigures {
  candidate: ArmFigures;
  incumbent: ArmFigures;
  difference: number;
  /** One-sided p-values (see welch.ts); undefined with too few ratings. */
  pNotWorse?: number;
  pWorse?: number;
  margin: number;
  confidence: number;
  minRatings: number;
  days: number;
  /** Which planned look this was (1..maxLooks), when the ratings fell on one. */
  look?: number;
  /** The level each look tests at: (1 - confidence) / maxLooks. */
  alphaPerLook: number;
}

export function armFigures(ratings: readonly number[], highRating: number): ArmFigures {
  const s: Sample = summarise(ratings);
  return { n: s.n, mean: s.mean, upShare: s.n ? ratings.filter((r) => r >= highRating).length / s.n : 0 };
}

export function judgeCanary(
  candidate: readonly number[],
  incumbent: readonly number[],
  days: number,
  rule: CanaryRule,
  highRating: number,
): { verdict: CanaryVerdict; figures: CanaryFigures } {
  const c = summarise(candidate);
  const i = summarise(incumbent);
  const base = {
    candidate: armFigures(candidate, highRating),
    incumbent: armFigures(incumbent, highRating),
    difference: c.n && i.n ? c.mean - i.mean : 0,
    margin: rule.margin,
    confidence: rule.confidence,
    minRatings: rule.minRatings,
    days,
    alphaPerLook: (1 - rule.confidence) / rule.maxLooks,
  };
  const late = days >= rule.maxDays;
  if (c.n < rule.minRatings || i.n < rule.minRatings) {
    return {
      verdict: late
        ? { kind: "roll_back", basis: "too_few_at_max_days" }
        : { kind: "wait", reason: "too_few_ratings" },
      figures: base,
    };
  }
  const w = welch(c, i, rule.margin);
  const figures = { ...base, difference: w.difference, pNotWorse: w.pNotWorse, pWorse: w.pWorse };
  const smaller = Math.min(c.n, i.n);
  const look = smaller % rule.minRatings === 0 ? smaller / rule.minRatings : undefined;
  if (!late) {
    // Between planned looks, or past the last one: nothing is tested until the last day.
    if (look === undefined || look > rule.maxLooks)
      return { verdict: { kind: "wait", reason: "between_looks" }, figures };
    const atLook = { ...figures, look };
    if (w.pNotWorse <= base.alphaPerLook)
      return { verdict: { kind: "promote", basis: "test" }, figures: atLook };
    if (w.pWorse <= base.alphaPerLook)
      return { verdict: { kind: "roll_back", basis: "test" }, figures: atLook };
    return { verdict: { kind: "wait", reason: "inconclusive" }, figures: atLook };
  }
  return {
    verdict: { kind: w.difference >= -rule.margin ? "promote" : "roll_back", basis: "estimate_at_max_days" },
    figures,
  };
}
