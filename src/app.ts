// Builds the product from its parts (core services, platform adapters, scheduled jobs) for a given
// configuration and database. main.ts and the end-to-end tests both use it, so tests run the same graph.
import type { Config } from "./config.ts";
import type { Logger } from "./core/ports.ts";
import type { Database } from "./database/open-database.ts";

export interface App {
  stop(): Promise<void>;
}

export async function startApp(deps: { config: Config; db: Database; log: Logger }): Promise<App> {
  const { log, config } = deps;
  for (const platform of ["discord", "slack"] as const) {
    if (config[platform]) log.warn("platform adapter not available yet", { platform });
  }
  return { stop: async () => {} };
}
