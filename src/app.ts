// Builds the product from its parts (core services, platform adapters, scheduled jobs) for a given
// configuration and database. main.ts and the end-to-end tests both use it, so tests run the same
// graph the bot runs, only with emulator URLs in the configuration.
import { setMaxListeners } from "node:events";
import type { PlatformAdapter, RunningPlatform } from "./bots/platform.ts";
import type { SlackPlatform } from "./bots/slack/index.ts";
import type { Config } from "./config.ts";
import { createBudgets } from "./core/budgets.ts";
import { createCore } from "./core/create-core.ts";
import type { Clock, CoreAssistant, GoogleCredentials, Logger, Notifier, Platform } from "./core/ports.ts";
import { systemClock } from "./core/ports.ts";
import { type Dashboard, startDashboardFor } from "./dashboard/server.ts";
import type { Database } from "./database/open-database.ts";
import { startJobs } from "./jobs/jobs.ts";
import { type HealthServer, startHealthServer } from "./observability/health-server.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";

export interface AppDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock?: Clock;
  /** Vertex AI credentials (tests pass an offline client; production uses ADC). */
  googleAuthOptions?: GoogleCredentials;
  /** Start the scheduled jobs (default true). Tests drive the jobs themselves. */
  schedule?: boolean;
  /** Port of /healthz and /metrics; undefined or 0: no server. */
  healthPort?: number;
  /**
   * Answer the messages a stop left unanswered, at start and then every minute (default true).
   * Tests that drive the sweep themselves turn it off.
   */
  recover?: boolean;
}

/** After the grace, cancelled replies get this long to store their state and say "I'm restarting". */
export const SETTLE_AFTER_CANCEL_MS = 5_000;
/** How often the recovery sweep looks for messages left unanswered (by a process that died). */
const RECOVERY_INTERVAL_MS = 60_000;

export interface App {
  assistant: CoreAssistant;
  platforms: { discord?: RunningPlatform; slack?: SlackPlatform };
  /** The platforms' notifiers, as the core holds them. */
  notifiers: Partial<Record<Platform, Notifier>>;
  core: ReturnType<typeof createCore>;
  metrics: Metrics;
  health?: HealthServer;
  /** The operators' web dashboard, when DASHBOARD_PORT is set. */
  dashboard?: Dashboard;
  /** The recovery sweep's last run (tests wait for it). */
  recovered: Promise<unknown>;
  /**
   * Stops: no new events, replies under way get `SHUTDOWN_GRACE_SECONDS`, then the rest are
   * cancelled (and answered after the restart), then jobs and connections stop. Resolves once the
   * work that uses the database has settled (or was given up on after the bound): the caller closes
   * the database after this.
   */
  stop(): Promise<void>;
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, log } = deps;
  const clock = deps.clock ?? systemClock;
  // The platforms are built first and connected after the core: the core holds their notifiers
  // (DMs, approval prompts), their events go to the core's assistant.
  const adapters: { discord?: PlatformAdapter; slack?: PlatformAdapter<SlackPlatform> } = {};
  if (config.discord) {
    const { createDiscord } = await import("./bots/discord/index.ts");
    adapters.discord = createDiscord({ config: config.discord, log: log.child({ platform: "discord" }) });
  }
  if (config.slack) {
    const { createSlack } = await import("./bots/slack/index.ts");
    adapters.slack = await createSlack({ config: config.slack, log: log.child({ platform: "slack" }) });
  }
  const notifiers: Partial<Record<Platform, Notifier>> = {};
  if (adapters.discord) notifiers.discord = adapters.discord.notifier;
  if (adapters.slack) notifiers.slack = adapters.slack.notifier;
  // Built first: the metrics read it, and the core records spend through it.
  const budgets = createBudgets({ db: deps.db, clock });
  const metrics = createMetrics({ db: deps.db, budgets });
  const stopping = new AbortController();
  // Every provider call in flight listens on it (retry.ts), REPLY_CONCURRENCY replies with an
  // embedding and a chat call each: Node's default of 10 listeners would warn under any burst.
  setMaxListeners(0, stopping.signal);
  const core = createCore({
    ...deps,
    clock,
    notifiers,
    budgets,
    wrapProvider: metrics.instrumentProvider,
    stopping: stopping.signal,
  });
  const assistant = metrics.instrumentAssistant(core.assistant);
  const platforms: App["platforms"] = {};
  if (adapters.discord) platforms.discord = await adapters.discord.connect(assistant);
  if (adapters.slack) platforms.slack = await adapters.slack.connect(assistant);
  const jobs = deps.schedule === false ? undefined : startJobs({ config, db: deps.db, clock, log, core });
  const health =
    deps.healthPort !== undefined && deps.healthPort > 0
      ? await startHealthServer({ port: deps.healthPort, db: deps.db, platforms, metrics })
      : undefined;
  if (health) log.info("health and metrics server listening", { port: health.port });
  const dashboard = await startDashboardFor({ config, db: deps.db, clock, log, core });

  // Messages a stop left unanswered: answered now (or apologised for), then re-checked every minute
  // for those of a process that died (their claims expire). One sweep at a time.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    sweeping = sweeping
      .then(() => core.recovery.sweep())
      .then(
        (outcome) => {
          if (outcome.answered + outcome.apologised + outcome.dropped + outcome.failed > 0)
            log.info("answered messages left unanswered by a stop", { ...outcome });
        },
        (error: unknown) => log.error("the recovery sweep failed", { error }),
      );
    return sweeping;
  };
  const recover = deps.recover !== false;
  if (recover) void sweep();
  const recoveryTimer = recover ? setInterval(() => void sweep(), RECOVERY_INTERVAL_MS) : undefined;
  recoveryTimer?.unref();

  let stopped: Promise<void> | undefined;
  const all = Object.values(platforms);
  const drainAll = async (ms: number) => (await Promise.all(all.map((p) => p.drain(ms)))).every(Boolean);
  async function stop(): Promise<void> {
    clearInterval(recoveryTimer);
    // 1. No new events. Connections stay up so the replies under way can still be posted.
    await Promise.all(all.map((p) => p.stopTaking()));
    // 2. Replies under way get the grace.
    let settled = await drainAll(config.shutdownGraceMs);
    if (!settled) {
      // 3. The rest are cancelled: their provider calls are aborted, their exchanges marked
      // interrupted (the next start answers them), and the person is told the bot is restarting.
      log.warn("replies still running after the grace; cancelling them", {
        graceSeconds: config.shutdownGraceMs / 1000,
      });
      stopping.abort();
      settled = await drainAll(SETTLE_AFTER_CANCEL_MS);
      if (!settled) log.error("replies still running after cancelling them; stopping anyway");
    } else {
      stopping.abort();
    }
    await sweeping;
    // 4. Scheduled jobs, then the connections and the health server. The database is the caller's.
    await jobs?.stop();
    await Promise.all(all.map((p) => p.stop(0)));
    await health?.close();
    await dashboard?.close();
  }
  return {
    assistant,
    platforms,
    notifiers,
    core,
    metrics,
    health,
    dashboard,
    get recovered() {
      return sweeping;
    },
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}
