// Handlers still running (a reply waits on the language model for seconds): stop() lets them
// finish, up to a bound, so a shutdown does not drop an answer half-posted.

export interface InFlight {
  /** Runs `work`, counted until it settles. Never rejects: failures go to `onError`. */
  run(work: () => Promise<void>, onError: (error: unknown) => void | Promise<void>): Promise<void>;
  /** Resolves when nothing is running, or after `timeoutMs`; true when everything finished. */
  drain(timeoutMs: number): Promise<boolean>;
  readonly size: number;
}

export function createInFlight(): InFlight {
  const running = new Set<Promise<void>>();
  return {
    run(work, onError) {
      const p: Promise<void> = work()
        .catch(async (error: unknown) => {
          try {
            await onError(error);
          } catch {
            // The error handler's own failure has nowhere better to go.
          }
        })
        .finally(() => running.delete(p));
      running.add(p);
      return p;
    },
    async drain(timeoutMs) {
      if (running.size === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const done = (async () => {
        while (running.size > 0) await Promise.allSettled([...running]);
        return true as const;
      })();
      const result = await Promise.race([done, timedOut]);
      clearTimeout(timer);
      return result;
    },
    get size() {
      return running.size;
    },
  };
}
