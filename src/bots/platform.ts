// What every platform adapter gives the composition root once it is connected.
import type { Assistant, Logger, Notifier } from "../core/ports.ts";

export interface RunningPlatform {
  /** DMs and approval prompts for the core and the jobs. */
  notifier: Notifier;
  /** True while connected (for health checks). */
  connected(): boolean;
  /** Stops taking new events; replies under way go on (and can still be posted). */
  stopTaking(): Promise<void>;
  /** Resolves true once every handler under way has settled, false if `timeoutMs` passed first. */
  drain(timeoutMs: number): Promise<boolean>;
  /**
   * Stops taking events, waits up to `drainMs` (default 15 s) for replies under way, then closes
   * the connection. The app passes 0: it has drained (and cancelled) already.
   */
  stop(drainMs?: number): Promise<void>;
}

export interface AdapterDeps<C> {
  config: C;
  assistant: Assistant;
  log: Logger;
}
