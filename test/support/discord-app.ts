// The whole bot on Discord, for end-to-end tests: the Discord emulator (driven by the real
// discord.js client inside the app), the OpenAI emulator, a fresh migrated database, and the app
// graph main.ts builds (`startApp`), with helpers that act like people on Discord and wait for
// what the bot does in answer.
//
//   const h = await startDiscordApp();
//   const { replies } = await h.mention(ALICE, "hello");
//   await h.rate(ALICE, replies[0]!.id, "👍");
//   const { reply } = await h.command(ALICE, "status");
//   await h.stop();
import type { APIMessage } from "discord.js";
import { vi } from "vitest";
import { type App, startApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Clock } from "../../src/core/ports.ts";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import {
  type DiscordEmulator,
  type InteractionResponse,
  type SendMessageOptions,
  type SlashCommandOptions,
  startDiscordEmulator,
} from "../emulators/discord/index.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "../emulators/openai/index.ts";
import { memoryLogger } from "./core.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export const APP_ID = "1000";
export const GUILD_ID = "2000";
export const GENERAL = "2001";
export const RANDOM = "2002";
export const ALICE = "3001";
export const BOB = "3002";
export const OTHER_BOT = "3900";

export interface DiscordAppOptions {
  /** Extra configuration (environment variable names), e.g. FINETUNE_THRESHOLD. */
  env?: Record<string, string>;
  clock?: Clock;
}

export interface MentionResult {
  /** The user's message as Discord stored it. */
  message: APIMessage;
  /** The bot's messages answering it, in order (the parts of a long reply). */
  replies: APIMessage[];
}

export interface CommandResult {
  id: string;
  responses: InteractionResponse[];
  /** The last edit of the deferred reply (what the user ends up seeing). */
  reply: Record<string, unknown>;
}

export interface DiscordApp {
  emu: DiscordEmulator;
  openai: OpenAIEmulator;
  database: TestDatabase;
  db: PrismaClient;
  log: ReturnType<typeof memoryLogger>;
  /** The running app (replaced by `restart`). */
  app: App;
  /** Posts as `userId` (mentioning the bot unless `mentionsBot: false`) and waits for the answer. */
  mention(
    userId: string,
    text: string,
    options?: {
      channelId?: string;
      dm?: boolean;
      mentionsBot?: boolean;
      replyTo?: string;
      attachments?: SendMessageOptions["attachments"];
    },
  ): Promise<MentionResult>;
  /** The bot's messages that reply to `messageId`. */
  repliesTo(messageId: string): APIMessage[];
  /** Adds (or removes) a reaction; does not wait (the bot may rightly ignore it). */
  react(userId: string, messageId: string, emoji: string, action?: "add" | "remove"): void;
  /** Reacts and waits until the rating reached the database. */
  rate(userId: string, messageId: string, emoji: string, action?: "add" | "remove"): Promise<void>;
  /** `/assistant <sub>` (or `<group> <sub>`), in GENERAL unless `dm`; waits for the edited reply. */
  command(
    userId: string,
    sub: string,
    options?: {
      group?: string;
      options?: SlashCommandOptions["options"];
      dm?: boolean;
      memberPermissions?: bigint | string;
      /** As a user-installed app, in a DM between `userId` and this person (the bot is not in it). */
      userInstallDmWith?: string;
    },
  ): Promise<CommandResult>;
  /** Clicks a button and waits for the ephemeral follow-up to the clicker. */
  click(
    userId: string,
    messageId: string,
    customId: string,
  ): Promise<{ id: string; responses: InteractionResponse[] }>;
  /** The DM channel between the bot and a user (created in the emulator if new). */
  dmChannelOf(userId: string): string;
  /** Stops the app (its Discord client included) and starts a new one on the same database. */
  restart(): Promise<App>;
  stop(): Promise<void>;
}

/** The configuration `npm start` would read, pointed at the emulators. */
export function discordAppConfig(
  emu: DiscordEmulator,
  openai: OpenAIEmulator,
  env: Record<string, string> = {},
): Config {
  return loadConfig({
    DISCORD_TOKEN: emu.token,
    DISCORD_APPLICATION_ID: emu.applicationId,
    DISCORD_API_URL: emu.apiUrl,
    OPENAI_API_KEY: "test",
    OPENAI_BASE_URL: `${openai.url}/v1`,
    FINETUNE_PROVIDER: "none",
    EMBEDDING_DIMENSIONS: "256",
    // Answers posted whole, so tests read one post per part; test/streaming-discord.test.ts streams.
    STREAM_REPLIES: "false",
    ...env,
  });
}

export async function startDiscordApp(options: DiscordAppOptions = {}): Promise<DiscordApp> {
  const emu = await startDiscordEmulator({ token: "test-token", applicationId: APP_ID, botUserId: APP_ID });
  emu.addUser({ id: ALICE, username: "alice", globalName: "Alice" });
  emu.addUser({ id: BOB, username: "bob" });
  emu.addUser({ id: OTHER_BOT, username: "otherbot", bot: true });
  emu.addGuild({
    id: GUILD_ID,
    name: "Test Guild",
    channels: [
      { id: GENERAL, name: "general" },
      { id: RANDOM, name: "random" },
    ],
    members: [ALICE, BOB, OTHER_BOT],
  });
  const openai = await startOpenAIEmulator();
  const database = await createTestDatabase();
  const log = memoryLogger();
  const config = discordAppConfig(emu, openai, options.env);
  const boot = () => startApp({ config, db: database.db, log, clock: options.clock, schedule: false });
  const db = database.db;

  const messageById = (id: string) => {
    const stored = emu.state.messages.get(id);
    if (!stored) throw new Error(`no message ${id} in the emulator`);
    return emu.state.snapshot(stored);
  };
  const repliesTo = (messageId: string) =>
    [...emu.state.messages.values()]
      .filter(
        (m) =>
          m.message.author.id === APP_ID &&
          !m.deleted &&
          m.message.message_reference?.message_id === messageId,
      )
      .map((m) => emu.state.snapshot(m));

  const harness: DiscordApp = {
    emu,
    openai,
    database,
    db,
    log,
    app: await boot(),

    async mention(userId, text, opts = {}) {
      const message = emu.sendMessage({
        authorId: userId,
        content: text,
        mentionsBot: opts.dm ? false : (opts.mentionsBot ?? true),
        channelId: opts.dm ? undefined : (opts.channelId ?? GENERAL),
        replyTo: opts.replyTo,
        attachments: opts.attachments,
      });
      // Done when the reply is recorded on the exchange, or (no exchange: a rejection) posted.
      const replies = await vi.waitUntil(
        async () => {
          const exchange = await db.exchange.findFirst({
            where: { platform: "discord", userMessageId: message.id },
            select: { replyMessageIds: true },
          });
          if (exchange?.replyMessageIds.length) return exchange.replyMessageIds.map(messageById);
          const posted = repliesTo(message.id);
          return !exchange && posted.length > 0 ? posted : undefined;
        },
        { timeout: 10_000, interval: 20 },
      );
      return { message, replies };
    },

    repliesTo,

    react(userId, messageId, emoji, action = "add") {
      if (action === "add") emu.addReaction({ messageId, userId, emoji });
      else emu.removeReaction({ messageId, userId, emoji });
    },

    async rate(userId, messageId, emoji, action = "add") {
      harness.react(userId, messageId, emoji, action);
      await vi.waitUntil(
        async () => {
          const row = await db.exchangeReaction.findFirst({
            where: { emoji, exchange: { replyMessageIds: { has: messageId } } },
            select: { removedAt: true },
          });
          return row && (action === "add" ? row.removedAt === null : row.removedAt !== null);
        },
        { timeout: 10_000, interval: 20 },
      );
    },

    async command(userId, sub, opts = {}) {
      const id = emu.slashCommand({
        userId,
        name: "assistant",
        subcommandGroup: opts.group,
        subcommand: sub,
        options: opts.options,
        memberPermissions: opts.memberPermissions,
        ...(opts.userInstallDmWith !== undefined
          ? { userInstallDmWith: opts.userInstallDmWith }
          : opts.dm
            ? {}
            : { guildId: GUILD_ID, channelId: GENERAL }),
      });
      const edit = await vi.waitUntil(
        () => emu.interactionResponses(id).findLast((r) => r.kind === "edit" && r.status === 200),
        { timeout: 10_000, interval: 20 },
      );
      return { id, responses: emu.interactionResponses(id), reply: edit.data };
    },

    async click(userId, messageId, customId) {
      const id = emu.clickButton({ userId, messageId, customId });
      await vi.waitUntil(() => emu.interactionResponses(id).some((r) => r.kind === "followup"), {
        timeout: 10_000,
        interval: 20,
      });
      return { id, responses: emu.interactionResponses(id) };
    },

    dmChannelOf(userId) {
      return emu.state.dmChannelFor(userId).id;
    },

    async restart() {
      await harness.app.stop();
      harness.app = await boot();
      return harness.app;
    },

    async stop() {
      await harness.app.stop();
      await emu.close();
      await openai.close();
      await database.close();
    },
  };
  return harness;
}
