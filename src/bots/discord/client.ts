// The discord.js client and its connection: what we ask Discord for (intents, partials), safe
// defaults for everything we post, and a login that never takes the process down. If Discord is
// unreachable or refuses us, the error is logged with what to do, and the login is retried with
// backoff while the rest of the bot (other platforms, health checks) keeps running.
import {
  Client,
  DiscordjsErrorCodes,
  Events,
  GatewayCloseCodes,
  GatewayIntentBits,
  type MessageMentionOptions,
  Partials,
} from "discord.js";
import type { Logger } from "../../core/ports.ts";

/**
 * Never ping anyone: a model's reply could contain "@everyone", "<@&role>" or "<@user>", and
 * replying to the asker needs no notification on top of the reply itself.
 */
export const NO_PINGS: MessageMentionOptions = { parse: [], repliedUser: false };

const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.DirectMessageReactions,
  // Privileged (Developer Portal > Bot > Message Content Intent). Discord sends the text of a guild
  // message without it only when the message @mentions the bot user. People also address the bot
  // by replying to one of its messages with the reply ping switched off, or by picking the bot's
  // role from the mention autocomplete; without the intent those arrive with empty content and the
  // bot could only answer "your message was empty". DMs carry their text either way.
  GatewayIntentBits.MessageContent,
];

/**
 * Partials let events about things the client never cached (messages from before a restart, DM
 * channels) reach us as stubs we can fetch, instead of being dropped.
 */
const PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

export function createDiscordClient(apiUrl: string): Client {
  return new Client({
    intents: INTENTS,
    partials: PARTIALS,
    rest: { api: apiUrl },
    allowedMentions: NO_PINGS,
    // A reply to a message deleted meanwhile is posted without the reference rather than failing.
    failIfNotExists: false,
  });
}

export interface Connection {
  /** Settles after the first login attempt, connected or not (retries go on in the background). */
  firstAttempt: Promise<void>;
  connected(): boolean;
  /** The current client. REST works on it even while its gateway is down. */
  client(): Client;
  /** Cancels retries and destroys the client. */
  stop(): Promise<void>;
}

export interface ConnectionOptions {
  token: string;
  log: Logger;
  /** A new client with the event handlers attached: a client that failed to log in is not reused. */
  build(): Client;
  /** After each successful login (command registration). Errors are logged, not retried here. */
  onConnected(client: Client): Promise<void>;
  retry?: { firstDelayMs: number; maxDelayMs: number };
}

/** Gateway close codes after which discord.js gives up: we log why and retry the login later. */
const FATAL_CLOSE: Partial<Record<number, string>> = {
  [GatewayCloseCodes.AuthenticationFailed]:
    "Discord rejected the bot token: set DISCORD_TOKEN to the token from the Developer Portal (Bot > Reset Token)",
  [GatewayCloseCodes.DisallowedIntents]:
    "Discord refused the Message Content intent: enable it in the Developer Portal (Bot > Privileged Gateway Intents > Message Content Intent)",
  [GatewayCloseCodes.InvalidIntents]: "Discord refused the gateway intents",
  [GatewayCloseCodes.InvalidShard]: "Discord refused the shard configuration",
  [GatewayCloseCodes.ShardingRequired]: "Discord requires sharding for this many servers",
  [GatewayCloseCodes.InvalidAPIVersion]: "Discord refused the gateway API version",
};

class FatalClose extends Error {
  constructor(readonly code: number) {
    super(FATAL_CLOSE[code] ?? `gateway closed with code ${code}`);
  }
}

export function keepConnected(options: ConnectionOptions): Connection {
  const { token, log } = options;
  const retry = options.retry ?? { firstDelayMs: 5_000, maxDelayMs: 5 * 60_000 };
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let current = prepare(options.build());
  let fresh = true;

  function prepare(client: Client): Client {
    client.on(Events.Error, (error) => log.error("discord client error", { error }));
    client.on(Events.ShardError, (error) => log.warn("discord gateway error", { error }));
    client.on(Events.Warn, (message) => log.warn("discord warning", { message }));
    // REST (DMs, command registration) works before, and without, the gateway.
    client.rest.setToken(token);
    return client;
  }

  function fail(error: unknown) {
    // A login cut short by stop() is not worth an error line.
    if (stopped) return;
    failures++;
    log.error(describeFailure(error), { failures, error: error instanceof FatalClose ? undefined : error });
    if (timer) return;
    const delayMs = Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** (failures - 1));
    log.info("retrying the Discord login", { inSeconds: Math.round(delayMs / 1000) });
    timer = setTimeout(() => {
      timer = undefined;
      void attempt();
    }, delayMs);
  }

  async function attempt(): Promise<void> {
    if (stopped) return;
    if (!fresh) current = prepare(options.build());
    fresh = false;
    const client = current;
    const ready = readyOrFatal(client);
    try {
      const login = client.login(token);
      login.catch(() => {});
      await Promise.race([login, ready.promise]);
      await ready.promise;
    } catch (error) {
      ready.cancel();
      // login() destroys the client when it fails itself; after a fatal close we do.
      await client.destroy().catch(() => {});
      client.rest.setToken(token);
      fail(error);
      return;
    }
    ready.cancel();
    failures = 0;
    log.info("connected to Discord", { user: client.user?.id, guilds: client.guilds.cache.size });
    // Once a session is up discord.js resumes and reconnects by itself, except after these codes.
    client.on(Events.ShardDisconnect, (event) => {
      if (stopped || client !== current || !(event.code in FATAL_CLOSE)) return;
      void client
        .destroy()
        .catch(() => {})
        .then(() => {
          client.rest.setToken(token);
          fail(new FatalClose(event.code));
        });
    });
    await options.onConnected(client).catch((error: unknown) => log.error("Discord setup failed", { error }));
  }

  return {
    firstAttempt: attempt(),
    connected: () => !stopped && current.isReady(),
    client: () => current,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await current.destroy();
    },
  };
}

/** Resolves on `clientReady` (guilds cached); rejects if the gateway closes for good first. */
function readyOrFatal(client: Client): { promise: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const promise = new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cancel();
      resolve();
    };
    const onDisconnect = (event: { code: number }) => {
      cancel();
      reject(new FatalClose(event.code));
    };
    client.once(Events.ClientReady, onReady);
    client.on(Events.ShardDisconnect, onDisconnect);
    cancel = () => {
      client.off(Events.ClientReady, onReady);
      client.off(Events.ShardDisconnect, onDisconnect);
    };
  });
  promise.catch(() => {});
  return { promise, cancel };
}

function describeFailure(error: unknown): string {
  if (error instanceof FatalClose) return error.message;
  if (error instanceof Error && "code" in error && error.code === DiscordjsErrorCodes.TokenInvalid) {
    return "Discord rejected the bot token: set DISCORD_TOKEN to the token from the Developer Portal (Bot > Reset Token)";
  }
  return "could not connect to Discord (is DISCORD_API_URL reachable?)";
}
