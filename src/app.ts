// Builds the product from its parts (core services, platform adapters, scheduled jobs) for a given
// configuration and database. main.ts and the end-to-end tests both use it, so tests run the same
// graph the bot runs, only with emulator URLs in the configuration.
import type { GoogleGenAIOptions } from "@google/genai";
import type { RunningPlatform } from "./bots/platform.ts";
import type { Config } from "./config.ts";
import type { Assistant } from "./core/assistant.ts";
import { createCore } from "./core/create-core.ts";
import type { Clock, Logger, Notifier } from "./core/ports.ts";
import { systemClock } from "./core/ports.ts";
import type { Database } from "./database/open-database.ts";
import { type HealthServer, startHealthServer } from "./observability/health-server.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";

export interface AppDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock?: Clock;
  /** Vertex AI credentials (tests pass an offline client; production uses ADC). */
  googleAuthOptions?: GoogleGenAIOptions["googleAuthOptions"];
  /** Start the scheduled jobs (default true). Tests drive the jobs themselves. */
  schedule?: boolean;
  /** Port of /healthz and /metrics; undefined or 0: no server. */
  healthPort?: number;
}

export interface App {
  assistant: Assistant;
  platforms: Partial<Record<"discord" | "slack", RunningPlatform>>;
  core: ReturnType<typeof createCore>;
  metrics: Metrics;
  health?: HealthServer;
  stop(): Promise<void>;
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, log } = deps;
  const clock = deps.clock ?? systemClock;
  const notifiers: Partial<Record<"discord" | "slack", Notifier>> = {};
  let budgets: ReturnType<typeof createCore>["budgets"] | undefined;
  const metrics = createMetrics({ db: deps.db, budgets: () => budgets! });
  const core = createCore({ ...deps, clock, notifiers, wrapProvider: metrics.instrumentProvider });
  budgets = core.budgets;
  const assistant = metrics.instrumentAssistant(core.assistant);
  const platforms: App["platforms"] = {};
  if (config.discord) {
    const { startDiscord } = await import("./bots/discord/index.ts");
    platforms.discord = await startDiscord({
      config: config.discord,
      assistant,
      log: log.child({ platform: "discord" }),
    });
    notifiers.discord = platforms.discord.notifier;
  }
  if (config.slack) {
    const { startSlack } = await import("./bots/slack/index.ts");
    platforms.slack = await startSlack({
      config: config.slack,
      assistant,
      log: log.child({ platform: "slack" }),
    });
    notifiers.slack = platforms.slack.notifier;
  }
  const jobs = deps.schedule === false ? undefined : core.startJobs();
  const health =
    deps.healthPort !== undefined && deps.healthPort > 0
      ? await startHealthServer({ port: deps.healthPort, db: deps.db, platforms, metrics })
      : undefined;
  if (health) log.info("health and metrics server listening", { port: health.port });
  return {
    assistant,
    platforms,
    core,
    metrics,
    health,
    async stop() {
      // Stop taking new events first (adapters wait for replies in flight), then the jobs.
      await Promise.all(Object.values(platforms).map((p) => p.stop()));
      await jobs?.stop();
      await health?.close();
    },
  };
}
