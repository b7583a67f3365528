// The pure parts of the evaluation: arm assignment by hash, Welch's test, and the trial's rule.
import { describe, expect, it } from "vitest";
import { inShare, unitHash } from "../src/core/evaluation/assignment.ts";
import { judgeCanary } from "../src/core/evaluation/canary-rule.ts";
import { studentT, summarise, welch } from "../src/core/evaluation/welch.ts";

const rule = { minRatings: 10, maxDays: 14, margin: 0.25, confidence: 0.9, maxLooks: 5 };

describe("arm assignment", () => {
  it("puts about the share of exchanges in the arm, the same exchange always in the same one", () => {
    let inside = 0;
    for (let i = 1; i <= 20_000; i++) if (inShare("canary", BigInt(i), 0.3)) inside++;
    expect(inside / 20_000).toBeGreaterThan(0.29);
    expect(inside / 20_000).toBeLessThan(0.31);
    expect(inShare("canary", 42n, 0.3)).toBe(inShare("canary", "42", 0.3));
    expect(inShare("canary", 42n, 0)).toBe(false);
    // Experiments split the same exchanges independently.
    expect(unitHash("canary", "7")).not.toBe(unitHash("personalisation-holdout", "7"));
  });
});

describe("Welch's t-test", () => {
  it("matches Student's t table values", () => {
    // t(0.975, 9) = 2.262, t(0.95, 20) = 1.725, t(0.9, 5) = 1.476
    expect(studentT(2.262, 9)).toBeCloseTo(0.975, 3);
    expect(studentT(1.725, 20)).toBeCloseTo(0.95, 3);
    expect(studentT(-1.476, 5)).toBeCloseTo(0.1, 3);
    expect(studentT(0, 7)).toBeCloseTo(0.5, 10);
  });

  it("computes the Welch-Satterthwaite degrees of freedom and both one-sided p-values", () => {
    const c = summarise([5, 5, 4, 5, 5, 4, 5, 5, 4, 5]);
    const i = summarise([1, 2, 3, 2, 1, 2, 3, 2, 1, 2]);
    const w = welch(c, i, 0.25);
    expect(w.difference).toBeCloseTo(4.7 - 1.9, 10);
    expect(w.degreesOfFreedom).toBeGreaterThan(9);
    expect(w.degreesOfFreedom).toBeLessThan(18);
    expect(w.pNotWorse).toBeLessThan(0.001);
    expect(w.pNotWorse + w.pWorse).toBeCloseTo(1, 10);
  });
});

describe("the trial's rule", () => {
  const ten = (x: number) => Array.from({ length: 10 }, () => x);
  it("decides nothing on too few ratings, until the last day: then the incumbent stays", () => {
    expect(judgeCanary(ten(5).slice(0, 9), ten(1), 3, rule, 4).verdict).toEqual({
      kind: "wait",
      reason: "too_few_ratings",
    });
    expect(judgeCanary(ten(5).slice(0, 9), ten(1), 14, rule, 4).verdict).toEqual({
      kind: "roll_back",
      basis: "too_few_at_max_days",
    });
  });

  it("promotes within the margin, rolls back beyond it, waits when unclear, and at the end goes by the estimate", () => {
    expect(judgeCanary(ten(4), ten(4), 1, rule, 4).verdict.kind).toBe("promote");
    expect(judgeCanary(ten(3), ten(4), 1, rule, 4).verdict.kind).toBe("roll_back");
    const noisyC = [5, 1, 5, 1, 5, 1, 5, 1, 5, 4];
    const noisyI = [5, 1, 5, 1, 5, 1, 5, 1, 5, 5];
    expect(judgeCanary(noisyC, noisyI, 1, rule, 4).verdict).toEqual({ kind: "wait", reason: "inconclusive" });
    expect(judgeCanary(noisyC, noisyI, 14, rule, 4).verdict).toEqual({
      kind: "promote",
      basis: "estimate_at_max_days",
    });
    const f = judgeCanary(noisyC, noisyI, 1, rule, 4).figures;
    expect(f.candidate).toEqual({ n: 10, mean: 3.3, upShare: 0.6 });
  });

  it("tests only at planned looks, each at alpha / looks, so checking after every rating costs no error rate", () => {
    // d = +0.8, p(not worse) between 0.02 and 0.1: enough at alpha 0.1, not at 0.1 / 5.
    const c = [5, 4, 5, 3, 5, 4, 5, 2, 5, 4];
    const i = [4, 3, 5, 2, 4, 3, 5, 1, 4, 3];
    const single = judgeCanary(c, i, 1, { ...rule, maxLooks: 1 }, 4);
    expect(single.figures.pNotWorse).toBeGreaterThan(0.02);
    expect(single.verdict).toEqual({ kind: "promote", basis: "test" });
    expect(single.figures).toMatchObject({ look: 1, alphaPerLook: expect.closeTo(0.1, 10) });
    const five = judgeCanary(c, i, 1, rule, 4);
    expect(five.verdict).toEqual({ kind: "wait", reason: "inconclusive" });
    expect(five.figures.alphaPerLook).toBeCloseTo(0.02, 10);
    // 11 in the smaller arm is between looks (10 and 20): not tested, however clear the data.
    expect(judgeCanary([...ten(5), 5], [...ten(1), 1], 1, rule, 4).verdict).toEqual({
      kind: "wait",
      reason: "between_looks",
    });
    // The second look, at 20 each, tests again.
    expect(judgeCanary([...ten(5), ...ten(4)], [...ten(1), ...ten(2)], 1, rule, 4)).toMatchObject({
      verdict: { kind: "promote", basis: "test" },
      figures: { look: 2 },
    });
    // Past the last look nothing is tested until the last day, when the estimate decides.
    const many = (x: number) => Array.from({ length: 60 }, () => x);
    expect(judgeCanary(many(5), many(1), 1, rule, 4).verdict).toEqual({
      kind: "wait",
      reason: "between_looks",
    });
    expect(judgeCanary(many(5), many(1), 14, rule, 4).verdict).toEqual({
      kind: "promote",
      basis: "estimate_at_max_days",
    });
  });
});
