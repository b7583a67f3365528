// The Slack adapter: Bolt in, core calls out. Mentions, DMs and assistant threads -> `mention`,
// reactions -> `reaction`, the App Home tab -> `command` / `buttonClick`,
// `/assistant` -> the command calls, Approve/Decline buttons -> `approvalClick`, the forget button
// -> `forgetConfirm`; the notifier lets the core DM people (text, prompts, files). Over HTTP or
// Socket Mode, as configured. It translates; it decides nothing.
import type { Config } from "../../config.ts";
import type { AdapterDeps, PlatformAdapter, RunningPlatform } from "../platform.ts";
import { InFlight } from "../shared/in-flight.ts";
import { RecentIds } from "../shared/recent-ids.ts";
import { createSlackTransport, identifyWorkspace, webClientOptions } from "./app.ts";
import { APPROVAL_ACTION } from "./approvals.ts";
import { createAssistantThread } from "./assistant-thread.ts";
import { registerClicks } from "./clicks.ts";
import { registerCommands } from "./commands.ts";
import { FORGET_ACTION } from "./forget.ts";
import { registerHome } from "./home.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { registerMessageListeners } from "./messages.ts";
import { createSlackNotifier } from "./notifier.ts";
import { RATE_ACTION } from "./rating-buttons.ts";
import { registerReactionListeners } from "./reactions.ts";

export interface SlackPlatform extends RunningPlatform {
  /** Over HTTP: the port Bolt listens on (the chosen one when SLACK_PORT is 0). */
  readonly httpPort?: number;
  /** The workspace and bot user the token belongs to. */
  readonly workspace: { teamId: string; botUserId: string };
}

/** How long stop() on its own waits for replies under way before giving up on them. */
const DEFAULT_DRAIN_MS = 15_000;

/**
 * Builds the adapter: asks Slack who the token belongs to (a refused token stops the start with
 * what to fix) and builds the Bolt app and its notifier; `connect` attaches the listeners and starts
 * receiving events.
 */
export async function createSlack(
  deps: AdapterDeps<NonNullable<Config["slack"]>>,
): Promise<PlatformAdapter<SlackPlatform>> {
  const { config, log } = deps;
  const clientOptions = webClientOptions(config, log);
  const workspace = await identifyWorkspace(config, clientOptions);
  const transport = createSlackTransport(config, log, workspace, clientOptions);
  const { app } = transport;
  let connecting = false;

  return {
    notifier: createSlackNotifier(app.client),
    async connect(assistant) {
      if (connecting) throw new Error("the Slack adapter is already connected");
      connecting = true;
      const inFlight = new InFlight();
      const recent = new RecentIds();

      // Slack resends an event it believes undelivered (HTTP retries, Socket Mode redelivery). The
      // core is idempotent anyway (exchanges per message ts, ratings per event id); this only skips
      // the work.
      app.use(async ({ body, context, next }) => {
        const eventId = (body as { event_id?: unknown }).event_id;
        if (typeof eventId === "string" && !recent.firstTime(eventId)) {
          log.info("skipped a repeated event delivery", { eventId, retryNum: context.retryNum });
          return;
        }
        await next();
      });

      const listenerDeps: ListenerDeps = { assistant, log, workspace, inFlight };
      const answer = registerMessageListeners(app, listenerDeps, { streamReplies: config.streamReplies });
      // After the repeated-event check above; it takes every DM thread message before `message`.
      app.assistant(createAssistantThread(listenerDeps, answer));
      registerHome(app, listenerDeps);
      registerReactionListeners(app, listenerDeps);
      registerCommands(app, listenerDeps);
      registerClicks(app, listenerDeps, { actions: APPROVAL_ACTION, name: "an approval", carrier: "posted" });
      registerClicks(app, listenerDeps, { actions: FORGET_ACTION, name: "a forget", carrier: "ephemeral" });
      registerClicks(app, listenerDeps, {
        actions: new RegExp(`^${RATE_ACTION}$`),
        name: "a rating",
        carrier: "posted",
        idIn: "value",
      });
      app.error(async (error) => {
        log.error("slack event failed", errorFields(error));
      });

      const started = await transport.start();
      log.info("slack connected", {
        transport: config.socketMode ? "socket" : "http",
        ...(started.port !== undefined ? { port: started.port } : {}),
        team: workspace.teamId,
      });

      let stopped = false;
      let taking = true;
      const stopTaking = async () => {
        if (!taking) return;
        taking = false;
        try {
          await transport.stop();
        } catch (e) {
          log.warn("stopping the Slack receiver failed", errorFields(e));
        }
      };
      return {
        ...(started.port !== undefined ? { httpPort: started.port } : {}),
        workspace: { teamId: workspace.teamId, botUserId: workspace.botUserId },
        connected: () => !stopped && taking && transport.connected(),
        stopTaking,
        drain: (timeoutMs) => inFlight.drain(timeoutMs),
        async stop(drainMs = DEFAULT_DRAIN_MS) {
          if (stopped) return;
          stopped = true;
          await stopTaking();
          if (drainMs > 0) await inFlight.drain(drainMs);
          if (inFlight.size > 0)
            log.warn("stopped with replies still in flight", { inFlight: inFlight.size });
        },
      };
    },
  };
}
