// Builds the product from its parts (core services, platform adapters, scheduled jobs) for a given
// configuration and database. main.ts and the end-to-end tests both use it, so tests run the same
// graph the bot runs, only with emulator URLs in the configuration.
import type { GoogleGenAIOptions } from "@google/genai";
import type { RunningPlatform } from "./bots/platform.ts";
import type { Config } from "./config.ts";
import type { Assistant } from "./core/assistant.ts";
import { createCore } from "./core/create-core.ts";
import type { Clock, FineTuneProvider, Logger, Notifier } from "./core/ports.ts";
import { systemClock } from "./core/ports.ts";
import type { Database } from "./database/open-database.ts";

export interface AppDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock?: Clock;
  /** Vertex AI credentials (tests pass an offline client; production uses ADC). */
  googleAuthOptions?: GoogleGenAIOptions["googleAuthOptions"];
  /** Start the scheduled jobs (default true). Tests drive the jobs themselves. */
  schedule?: boolean;
}

export interface App {
  assistant: Assistant;
  platforms: Partial<Record<"discord" | "slack", RunningPlatform>>;
  core: ReturnType<typeof createCore>;
  stop(): Promise<void>;
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, log } = deps;
  const clock = deps.clock ?? systemClock;
  const notifiers: Partial<Record<"discord" | "slack", Notifier>> = {};
  const core = createCore({ ...deps, clock, notifiers });
  const platforms: App["platforms"] = {};
  if (config.discord) {
    const { startDiscord } = await import("./bots/discord/index.ts");
    platforms.discord = await startDiscord({
      config: config.discord,
      assistant: core.assistant,
      log: log.child({ platform: "discord" }),
    });
    notifiers.discord = platforms.discord.notifier;
  }
  if (config.slack) {
    const { startSlack } = await import("./bots/slack/index.ts");
    platforms.slack = await startSlack({
      config: config.slack,
      assistant: core.assistant,
      log: log.child({ platform: "slack" }),
    });
    notifiers.slack = platforms.slack.notifier;
  }
  const jobs = deps.schedule === false ? undefined : core.startJobs();
  return {
    assistant: core.assistant,
    platforms,
    core,
    async stop() {
      await jobs?.stop();
      await Promise.all(Object.values(platforms).map((p) => p.stop()));
    },
  };
}

export type { FineTuneProvider };
