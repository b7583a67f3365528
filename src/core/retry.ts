// Retries provider calls that may succeed later (429, 5xx, network errors, an attempt that ran out
// of time), honouring the provider's retry-after, with capped exponential backoff. Anything else
// fails at once.
//
// Time budgets: each attempt gets an AbortSignal that fires after `attemptTimeoutMs` (the SDKs
// abandon the request: a hung provider is really let go), and the whole call ends at `deadline`. A
// retry whose wait would leave less than `minAttemptMs` before the deadline is not started: the
// person gets the apology now instead of after a wait that cannot produce an answer. `signal`
// cancels everything (the bot is stopping); that surfaces as CancelledError, never as a provider
// failure.
import { ProviderError } from "./ports.ts";

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest one attempt may take; unset: no limit of its own. */
  attemptTimeoutMs?: number;
  /** A retry starts only if at least this much time is left after its wait (capped at the attempt timeout). */
  minAttemptMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RetryBounds {
  /** When the whole call must be over, in `now()` time. */
  deadline?: number;
  /** Cancels the call (and its waits) when aborted. */
  signal?: AbortSignal;
  now?: () => number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  minAttemptMs: 5_000,
};

/** The provider did not answer in time: one attempt (then retried) or the whole budget. */
export class ProviderTimeoutError extends ProviderError {
  constructor(
    readonly scope: "attempt" | "total",
    readonly afterMs: number,
    readonly attempt: number,
  ) {
    super(
      scope === "attempt"
        ? `no answer within ${Math.round(afterMs)} ms (attempt ${attempt})`
        : `no answer within the ${Math.round(afterMs)} ms budget (${attempt} attempt${attempt === 1 ? "" : "s"})`,
      undefined,
      undefined,
      "timeout",
    );
    this.name = "ProviderTimeoutError";
  }
}

/** The call was cancelled from outside (shutdown): not the provider's fault, and not retried. */
export class CancelledError extends Error {
  constructor() {
    super("cancelled: the bot is stopping");
    this.name = "CancelledError";
  }
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

type AbortWhy = "attempt" | "total" | "cancelled";

export async function withRetry<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  policy: RetryPolicy = defaultRetryPolicy,
  bounds: RetryBounds = {},
): Promise<T> {
  const sleep = policy.sleep ?? realSleep;
  const now = bounds.now ?? Date.now;
  const started = now();
  const deadline = bounds.deadline ?? Number.POSITIVE_INFINITY;
  for (let attempt = 1; ; attempt++) {
    if (bounds.signal?.aborted) throw new CancelledError();
    const left = deadline - now();
    if (left <= 0) throw new ProviderTimeoutError("total", deadline - started, attempt - 1);
    const perAttempt = policy.attemptTimeoutMs ?? Number.POSITIVE_INFINITY;
    const budget = Math.min(perAttempt, left);
    const controller = new AbortController();
    const abort = (why: AbortWhy) => controller.abort(why);
    const timer = Number.isFinite(budget)
      ? setTimeout(() => abort(budget < perAttempt ? "total" : "attempt"), budget)
      : undefined;
    const onCancel = () => abort("cancelled");
    bounds.signal?.addEventListener("abort", onCancel, { once: true });
    // Settles when the signal fires even if `fn` ignores it: a provider that does not honour the
    // signal is abandoned all the same.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    let error: unknown;
    try {
      return await Promise.race([fn(controller.signal), aborted]);
    } catch (e) {
      error = e;
    } finally {
      clearTimeout(timer);
      bounds.signal?.removeEventListener("abort", onCancel);
    }
    const why = controller.signal.aborted ? (controller.signal.reason as AbortWhy) : undefined;
    if (why === "cancelled") throw new CancelledError();
    if (why === "total") throw new ProviderTimeoutError("total", deadline - started, attempt);
    if (why === "attempt") error = new ProviderTimeoutError("attempt", budget, attempt);
    if (!(error instanceof ProviderError) || !error.retryable || attempt >= policy.attempts) {
      if (error instanceof ProviderTimeoutError && error.scope === "attempt")
        throw new ProviderTimeoutError("total", now() - started, attempt);
      throw error;
    }
    const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
    // A provider that says when to come back knows better than our backoff, within reason.
    const wait = error.retryAfterMs !== undefined ? Math.min(policy.maxDelayMs, error.retryAfterMs) : backoff;
    const needed = Math.min(policy.minAttemptMs ?? 0, perAttempt);
    if (deadline - now() - wait < needed) {
      // Not enough time left for another attempt to answer: give up now.
      if (error instanceof ProviderTimeoutError)
        throw new ProviderTimeoutError("total", now() - started, attempt);
      throw error;
    }
    await sleep(wait, bounds.signal);
  }
}

/** Parses `retry-after-ms` / `retry-after` (seconds or an HTTP date) into milliseconds. */
export function retryAfterFromHeaders(get: (name: string) => string | null | undefined): number | undefined {
  const ms = get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const value = get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
