// withRetry's time budgets on their own: an attempt that hangs is abandoned after its budget (its
// signal aborted), a retry is not started when it could not finish before the deadline, and a
// cancel from outside (shutdown) ends it at once as CancelledError, not a provider failure.
import { describe, expect, it } from "vitest";
import { ProviderError } from "../src/core/ports.ts";
import { CancelledError, ProviderTimeoutError, withRetry } from "../src/core/retry.ts";

/** A provider call that never answers; records its signal and rejects when it is aborted. */
function hangingCall() {
  const signals: AbortSignal[] = [];
  const fn = (signal: AbortSignal) =>
    new Promise<string>((_, reject) => {
      signals.push(signal);
      signal.addEventListener("abort", () => reject(new Error("aborted")));
    });
  return { fn, signals };
}

const policy = {
  attempts: 3,
  baseDelayMs: 50,
  maxDelayMs: 1_000,
  attemptTimeoutMs: 200,
  minAttemptMs: 5_000,
};

describe("withRetry budgets", () => {
  it("abandons each hanging attempt after its budget and gives up when another could not finish", async () => {
    const call = hangingCall();
    const started = Date.now();
    const error = await withRetry(call.fn, policy, { deadline: started + 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderTimeoutError);
    expect((error as ProviderTimeoutError).scope).toBe("total");
    // 200 ms, a 50 ms wait, 200 ms: a third attempt would have had under 200 ms, so none was started.
    expect(call.signals).toHaveLength(2);
    expect(call.signals.every((s) => s.aborted)).toBe(true);
  });

  it("cuts the last attempt at the deadline", async () => {
    const call = hangingCall();
    const started = Date.now();
    const error = await withRetry(
      call.fn,
      { ...policy, attemptTimeoutMs: 10_000 },
      { deadline: started + 150 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderTimeoutError);
    expect(call.signals).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("does not wait out a retry-after that ends past the deadline", async () => {
    let calls = 0;
    const error = await withRetry(
      async () => {
        calls++;
        throw new ProviderError("busy", 429, 800);
      },
      policy,
      { deadline: Date.now() + 500 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toMatchObject({ status: 429 });
  });

  it("ends at once as CancelledError when the outer signal fires, even mid-wait", async () => {
    const stopping = new AbortController();
    const call = hangingCall();
    const pending = withRetry(call.fn, { ...policy, attemptTimeoutMs: 10_000 }, { signal: stopping.signal });
    setTimeout(() => stopping.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(CancelledError);
    expect(call.signals[0]!.aborted).toBe(true);

    // During the wait before a retry (the provider asked for 5 s).
    const stoppingLater = new AbortController();
    const waitStarted = Date.now();
    const waiting = withRetry(
      async () => {
        throw new ProviderError("down", 503, 5_000);
      },
      { ...policy, maxDelayMs: 5_000 },
      { signal: stoppingLater.signal },
    );
    setTimeout(() => stoppingLater.abort(), 50);
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - waitStarted).toBeLessThan(4_000);
  });

  it("abandons a call that ignores its signal", async () => {
    const ignoring = () => new Promise<string>(() => {});
    const error = await withRetry(ignoring, { ...policy, attempts: 1 }, { deadline: Date.now() + 100 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderTimeoutError);
  });
});
