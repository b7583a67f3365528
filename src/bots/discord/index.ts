// The Discord adapter: translates Discord events into `Assistant` calls and posts the answers. It
// decides nothing. Pieces: client.ts (connection, intents), messages.ts (mentions and DMs),
// reactions.ts (ratings), commands.ts (/assistant), approvals.ts (Approve/Decline buttons),
// forget.ts (the forget confirmation button), notifier.ts (DMs and files for the core and the
// jobs), identity.ts (`discord:<userId>`).
import type { Client } from "discord.js";
import type { Config } from "../../config.ts";
import type { AdapterDeps, PlatformAdapter } from "../platform.ts";
import { InFlight } from "../shared/in-flight.ts";
import { RecentIds } from "../shared/recent-ids.ts";
import { type Connection, createDiscordClient, keepConnected } from "./client.ts";
import { registerCommands } from "./commands.ts";
import { attachInteractionHandler } from "./interactions.ts";
import { attachMessageHandler } from "./messages.ts";
import { createNotifier } from "./notifier.ts";
import { attachReactionHandlers } from "./reactions.ts";

/** How long stop() on its own waits for replies under way before closing the connection. */
const DEFAULT_DRAIN_MS = 15_000;

/**
 * Builds the adapter: its notifier now, the connection on `connect`. The notifier posts through
 * whichever client is current (a re-login builds a new one); the app connects every platform
 * before anything that sends DMs (jobs, the recovery sweep) starts.
 */
export function createDiscord(deps: AdapterDeps<NonNullable<Config["discord"]>>): PlatformAdapter {
  const { config, log } = deps;
  let connection: Connection | undefined;
  const notifier = createNotifier(() => {
    if (!connection) throw new Error("Discord is not connected yet");
    return connection.client();
  });

  return {
    notifier,
    async connect(assistant) {
      if (connection) throw new Error("the Discord adapter is already connected");
      const inFlight = new InFlight();
      // Shared by every client this adapter builds, so a replay after a re-login is still recognised.
      const seen = new RecentIds();
      let commandsRegistered = false;

      const build = (): Client => {
        const client = createDiscordClient(config.apiUrl);
        attachMessageHandler(client, { assistant, log, inFlight, seen, streamReplies: config.streamReplies });
        attachReactionHandlers(client, { assistant, log, inFlight });
        attachInteractionHandler(client, { assistant, log, inFlight, seen });
        return client;
      };

      const connected = keepConnected({
        token: config.token,
        log,
        build,
        async onConnected(client) {
          if (commandsRegistered) return;
          await registerCommands(client, config, log);
          commandsRegistered = true;
        },
      });
      connection = connected;
      // Startup waits for the first attempt only: an unreachable Discord is logged and retried in the
      // background, and the rest of the bot starts anyway.
      await connected.firstAttempt;

      return {
        connected: connected.connected,
        async stopTaking() {
          inFlight.stopAccepting();
        },
        drain: (timeoutMs) => inFlight.drain(timeoutMs),
        async stop(drainMs = DEFAULT_DRAIN_MS) {
          inFlight.stopAccepting();
          if (drainMs > 0) await inFlight.drain(drainMs);
          if (inFlight.size > 0) log.warn("closing with replies still running", { count: inFlight.size });
          await connected.stop();
        },
      };
    },
  };
}
