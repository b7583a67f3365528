// What every platform adapter gives the composition root once it is connected.
import type { Assistant } from "../core/assistant.ts";
import type { Logger, Notifier } from "../core/ports.ts";

export interface RunningPlatform {
  /** DMs and approval prompts for the core and the jobs. */
  notifier: Notifier;
  /** True while connected (for health checks). */
  connected(): boolean;
  /** Stops taking events; resolves when in-flight replies are done. */
  stop(): Promise<void>;
}

export interface AdapterDeps<C> {
  config: C;
  assistant: Assistant;
  log: Logger;
}
