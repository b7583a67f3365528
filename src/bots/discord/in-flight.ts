// Every Discord event handler runs through here: after `stop()` begins no new event is taken, and
// stop waits (bounded) for the replies already under way. Errors are logged with the event's ids
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

  /** Stops taking events; resolves when running work is done or `timeoutMs` has passed. */
  async drain(timeoutMs: number): Promise<void> {
    this.accepting = false;
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const result = await Promise.race([Promise.allSettled([...this.running]), timedOut]);
    clearTimeout(timer);
    if (result === "timeout")
      this.log.warn("stopped with replies still running", { count: this.running.size });
  }
}
