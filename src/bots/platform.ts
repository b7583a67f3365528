// What every platform adapter gives the composition root: built first (its notifier goes into the
// core), then connected with the core's `Assistant` (its events go to the core).
import type { Assistant, Logger, Notifier } from "../core/ports.ts";

export interface PlatformAdapter<P extends RunningPlatform = RunningPlatform> {
  /**
   * DMs and approval prompts for the core and the jobs. Final from the start: it posts through the
   * connection `connect` opens, so the core may hold it before the platform is connected.
   */
  notifier: Notifier;
  /** Attaches the event handlers to `assistant` and connects. */
  connect(assistant: Assistant): Promise<P>;
}

export interface RunningPlatform {
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
  log: Logger;
}
