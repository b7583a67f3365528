// The Discord adapter: translates Discord events into `Assistant` calls and posts the answers. It
// decides nothing. Pieces: client.ts (connection, intents), messages.ts (mentions and DMs),
// reactions.ts (ratings), commands.ts (/assistant), approvals.ts (Approve/Decline buttons),
// forget.ts (the forget confirmation button), notifier.ts (DMs and files for the core and the
// jobs), identity.ts (`discord:<userId>`).
import type { Client } from "discord.js";
import type { Config } from "../../config.ts";
import type { AdapterDeps, RunningPlatform } from "../platform.ts";
import { InFlight } from "../shared/in-flight.ts";
import { RecentIds } from "../shared/recent-ids.ts";
import { createDiscordClient, keepConnected } from "./client.ts";
import { registerCommands } from "./commands.ts";
import { attachInteractionHandler } from "./interactions.ts";
import { attachMessageHandler } from "./messages.ts";
import { createNotifier } from "./notifier.ts";
import { attachReactionHandlers } from "./reactions.ts";

/** How long stop() on its own waits for replies under way before closing the connection. */
const DEFAULT_DRAIN_MS = 15_000;

export async function startDiscord(
  deps: AdapterDeps<NonNullable<Config["discord"]>>,
): Promise<RunningPlatform> {
  const { config, assistant, log } = deps;
  const inFlight = new InFlight();
  // Shared by every client this adapter builds, so a replay after a re-login is still recognised.
  const seen = new RecentIds();
  let commandsRegistered = false;

  const build = (): Client => {
    const client = createDiscordClient(config.apiUrl);
    attachMessageHandler(client, { assistant, log, inFlight, seen });
    attachReactionHandlers(client, { assistant, log, inFlight });
    attachInteractionHandler(client, { assistant, log, inFlight, seen });
    return client;
  };

  const connection = keepConnected({
    token: config.token,
    log,
    build,
    async onConnected(client) {
      if (commandsRegistered) return;
      await registerCommands(client, config, log);
      commandsRegistered = true;
    },
  });
  // Startup waits for the first attempt only: an unreachable Discord is logged and retried in the
  // background, and the rest of the bot starts anyway.
  await connection.firstAttempt;

  return {
    notifier: createNotifier(connection.client),
    connected: connection.connected,
    async stopTaking() {
      inFlight.stopAccepting();
    },
    drain: (timeoutMs) => inFlight.drain(timeoutMs),
    async stop(drainMs = DEFAULT_DRAIN_MS) {
      inFlight.stopAccepting();
      if (drainMs > 0) await inFlight.drain(drainMs);
      if (inFlight.size > 0) log.warn("closing with replies still running", { count: inFlight.size });
      await connection.stop();
    },
  };
}
