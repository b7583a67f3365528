// Every Discord event handler runs through here: after `stopAccepting()` no new event is taken, and
// `drain` waits (bounded) for the replies already under way. Errors are logged with the event's ids
// and never reach discord.js's emitter (an unhandled rejection there would end the process).
import type { Logger } from "../../core/ports.ts";

export class InFlight {
  private accepting = true;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  get isAccepting(): boolean {
    return this.accepting;
  }

  /** Runs `work` unless stopping. `fields`: ids for the log line if it fails. */
  run(event: string, fields: Record<string, unknown>, work: () => Promise<void>): void {
    if (!this.accepting) return;
    const task = work().catch((error: unknown) => {
      this.log.error("discord event failed", { event, ...fields, error });
    });
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }

  get size(): number {
    return this.running.size;
  }

  /** No new event is taken from now on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Resolves true when running work is done, false when `timeoutMs` passed first. */
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
