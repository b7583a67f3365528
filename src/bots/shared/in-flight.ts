// Every event handler of an adapter runs through one of these: it counts what is under way, so a
// shutdown can stop taking events and wait (bounded) for the replies already being written, and
// it keeps a handler's failure from reaching the platform SDK's emitter (an unhandled rejection
// there would end the process).
import type { Logger } from "../../core/ports.ts";

export class InFlight {
  private accepting = true;
  private readonly running = new Set<Promise<void>>();

  get isAccepting(): boolean {
    return this.accepting;
  }

  get size(): number {
    return this.running.size;
  }

  /**
   * Runs `work`, counted until it settles; after `stopAccepting()` it is not run at all. Never
   * rejects: a failure goes to `onError` (which may answer the person; its own failure is dropped,
   * having nowhere better to go). Resolves once the work and its error handling are done.
   */
  run(work: () => Promise<void>, onError: (error: unknown) => void | Promise<void>): Promise<void> {
    if (!this.accepting) return Promise.resolve();
    const task: Promise<void> = work()
      .catch(async (error: unknown) => {
        try {
          await onError(error);
        } catch {
          // See above.
        }
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
    return task;
  }

  /** No new event is taken from now on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Resolves true once nothing is running (work started meanwhile included), false when
   * `timeoutMs` passed first.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = (async () => {
      while (this.running.size > 0) await Promise.allSettled([...this.running]);
      return true as const;
    })();
    const result = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    return result;
  }
}

/** The failure of an event no one waits on an answer to: logged with its ids, nothing posted. */
export function logFailure(
  log: Logger,
  event: string,
  fields: Record<string, unknown>,
): (error: unknown) => void {
  return (error) => log.error(`${event} failed`, { ...fields, error });
}
