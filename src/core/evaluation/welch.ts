// The statistics of a trial (pure): summaries of two samples of ratings and Welch's t-test on the
// difference of their means, one-sided, against a margin. Student's t distribution through the
// regularised incomplete beta function (Numerical Recipes' continued fraction), so no dependency.

export interface Sample {
  n: number;
  mean: number;
  /** Unbiased variance (n - 1); 0 for fewer than two ratings. */
  variance: number;
}

export function summarise(values: readonly number[]): Sample {
  const n = values.length;
  if (!n) return { n: 0, mean: 0, variance: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { n, mean, variance };
}

export interface WelchResult {
  /** candidate mean - incumbent mean */
  difference: number;
  standardError: number;
  degreesOfFreedom: number;
  /** P-value of H0 "candidate worse by more than the margin" (small: it is not). */
  pNotWorse: number;
  /** P-value of H0 "candidate not worse by more than the margin" (small: it is worse). */
  pWorse: number;
}

/**
 * Welch's t-test of candidate against incumbent with margin m, both ways:
 * t = (difference + m) / SE, SE = sqrt(s_c^2/n_c + s_i^2/n_i), Welch-Satterthwaite degrees of freedom.
 * Both samples without variance (every rating the same): the difference is known exactly.
 */
export function welch(candidate: Sample, incumbent: Sample, margin: number): WelchResult {
  const difference = candidate.mean - incumbent.mean;
  const vc = candidate.variance / candidate.n;
  const vi = incumbent.variance / incumbent.n;
  const se = Math.sqrt(vc + vi);
  if (!(se > 0)) {
    const notWorse = difference >= -margin;
    return {
      difference,
      standardError: 0,
      degreesOfFreedom: Number.POSITIVE_INFINITY,
      pNotWorse: notWorse ? 0 : 1,
      pWorse: notWorse ? 1 : 0,
    };
  }
  const df =
    (vc + vi) ** 2 /
    ((candidate.n > 1 ? vc ** 2 / (candidate.n - 1) : 0) +
      (incumbent.n > 1 ? vi ** 2 / (incumbent.n - 1) : 0) || Number.MIN_VALUE);
  const t = (difference + margin) / se;
  const upper = 1 - studentT(t, df);
  return { difference, standardError: se, degreesOfFreedom: df, pNotWorse: upper, pWorse: 1 - upper };
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentT(t: number, df: number): number {
  if (!Number.isFinite(df)) return normalCdf(t);
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26 on erf: enough for a decision rule.
  const x = Math.abs(z) / Math.SQRT2;
  const k = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * k - 1.453152027) * k + 1.421413741) * k - 0.284496736) * k + 0.254829592) *
      k *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-12) break;
  }
  return h;
}

function logGamma(z: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let a = g[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += g[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
