// The demo's world: the Discord and OpenAI emulators from test/emulators, a fresh embedded database
// in a temporary directory, and the real bot (`startApp`, the graph `npm start` builds) configured
// to talk to the emulators. Helpers act like people on Discord and wait for what the bot does.
// Nothing here leaves 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIEmbed, APIMessage } from "discord.js";
import { type App, startApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { adapterNameFor } from "../../src/core/fine-tune/adapters.ts";
import { type OpenDatabase, openDatabase } from "../../src/database/open-database.ts";
import { createLogger } from "../../src/logger.ts";
import { startDiscordEmulator } from "../../test/emulators/discord/index.ts";
import { type ChatCompletionRequest, startOpenAIEmulator } from "../../test/emulators/openai/index.ts";
import { startTogetherEmulator } from "../../test/emulators/together/index.ts";
import { startVllmEmulator } from "../../test/emulators/vllm/index.ts";
import { demoReply } from "./model.ts";

export const BOT_ID = "1000";
export const GUILD_ID = "2000";
export const CHANNELS = { general: "2001", random: "2002" } as const;
export type ChannelName = keyof typeof CHANNELS;

export interface Person {
  id: string;
  name: string;
}

/** A step the demo waited for and did not see: the message says what. */
export class DemoError extends Error {
  override name = "DemoError";
}

export interface Answer {
  /** The person's message. */
  message: APIMessage;
  /** The bot's reply messages (a long answer comes in parts). */
  replies: APIMessage[];
  text: string;
  /** The model that answered, as the bot recorded it. */
  model: string;
  /** The prompt the bot sent for this answer. */
  prompt: ChatCompletionRequest;
}

export interface WorldOptions {
  /** Environment for the bot's configuration, on top of the emulator wiring. */
  env: Record<string, string>;
  /** Where the app's JSON log lines go (the demo keeps them to show on failure). */
  log: (line: string) => void;
  /** Told what starts, as it starts (startup takes a few seconds: the database is created). */
  progress?: (text: string) => void;
}

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type World = Awaited<ReturnType<typeof startWorld>>;

/** What has been started, to stop in reverse order; safe to run more than once, or concurrently. */
export class Cleanup {
  private readonly steps: Array<[string, () => Promise<void> | void]> = [];
  private running: Promise<string[]> | undefined;

  add(what: string, step: () => Promise<void> | void): void {
    this.steps.push([what, step]);
  }

  /** Stops everything, newest first; resolves with what could not be stopped. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const problems: string[] = [];
      for (const [what, step] of this.steps.splice(0).reverse()) {
        try {
          await step();
        } catch (e) {
          problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return problems;
    })();
    return this.running;
  }
}

export async function startWorld(people: Person[], options: WorldOptions, cleanup: Cleanup) {
  const progress = options.progress ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "assistant-demo-"));
  cleanup.add("temporary directory", () => rmSync(dataDir, { recursive: true, force: true }));

  try {
    const discord = await startDiscordEmulator({
      token: "demo-token",
      applicationId: BOT_ID,
      botUserId: BOT_ID,
      applicationName: "Assistant",
    });
    cleanup.add("Discord emulator", () => discord.close());
    progress(`Discord emulator listening on ${discord.url}`);
    for (const p of people) discord.addUser({ id: p.id, username: p.name.toLowerCase(), globalName: p.name });
    discord.addGuild({
      id: GUILD_ID,
      name: "Demo Server",
      channels: [
        { id: CHANNELS.general, name: "general" },
        { id: CHANNELS.random, name: "random" },
      ],
      members: people.map((p) => p.id),
    });

    const openai = await startOpenAIEmulator();
    cleanup.add("OpenAI emulator", () => openai.close());
    progress(`OpenAI emulator listening on ${openai.url}`);
    const prompts: ChatCompletionRequest[] = [];
    openai.setReply((body) => {
      prompts.push(body);
      return demoReply(body);
    });

    // The open-weights route: Together trains each person's LoRA adapter, a vLLM serves them.
    const together = await startTogetherEmulator({ apiKey: "emulator-together-key" });
    cleanup.add("Together emulator", () => together.close());
    progress(`Together AI emulator listening on ${together.url}`);
    const vllm = await startVllmEmulator({ baseModel: "Qwen/Qwen3-8B", apiKey: "emulator-vllm-key" });
    cleanup.add("vLLM emulator", () => vllm.close());
    progress(`vLLM emulator (--enable-lora) listening on ${vllm.url}`);
    vllm.setReply((body) => {
      const request = body as unknown as ChatCompletionRequest;
      prompts.push(request);
      return demoReply(request);
    });

    progress(`creating an embedded Postgres (PGlite) in ${dataDir} and migrating it…`);
    const database: OpenDatabase = await openDatabase({ dataDir });
    cleanup.add("database", () => database.close());
    const db = database.db;

    const config = loadConfig({
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_DEV_GUILD_ID: GUILD_ID,
      DISCORD_API_URL: discord.apiUrl,
      OPENAI_API_KEY: "emulator-no-real-key",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      FINETUNE_PROVIDER: "together",
      // The demo shows a new model taking over at once (no trial; see the README on trials).
      CANARY_SHARE: "0",
      TOGETHER_API_KEY: "emulator-together-key",
      TOGETHER_BASE_URL: `${together.url}/v1`,
      LORA_SERVER_URL: `${vllm.url}/v1`,
      LORA_SERVER_API_KEY: "emulator-vllm-key",
      // Together's LoRA rate for models up to 16B in the emulator, so both prices agree.
      FINETUNE_PRICE_PER_1M_TOKENS: "0.48",
      DATA_DIR: dataDir,
      ...options.env,
    });
    const log = createLogger("info", options.log);
    progress("starting the bot (the same startApp() as npm start) and logging in to Discord…");
    // schedule: false: the demo runs the readiness and monitoring jobs itself, when the story needs them.
    const app: App = await startApp({ config, db, log, schedule: false });
    cleanup.add("bot", () => app.stop());

    const snapshot = (id: string) => {
      const stored = discord.state.messages.get(id);
      if (!stored) throw new DemoError(`no message ${id} in the Discord emulator`);
      return discord.state.snapshot(stored);
    };
    const dmChannelOf = (p: Person) => discord.state.dmChannelFor(p.id).id;

    return {
      discord,
      openai,
      together,
      vllm,
      /**
       * What the operator's side does for vLLM: a completed Together adapter, downloaded, lies in
       * LORA_ADAPTER_DIR under its name. Returns the names published.
       */
      publishAdapters(): string[] {
        const names: string[] = [];
        for (const job of together.fineTunes.records.values()) {
          if (job.status !== "completed") continue;
          const name = adapterNameFor(job.modelOutputName);
          vllm.addAdapterSource(`${config.fineTune.loraServer?.adapterDir ?? "/adapters"}/${name}`, {
            rank: 16,
          });
          names.push(name);
        }
        return names;
      },
      db,
      app,
      config,
      dataDir,

      /** `person` mentions the bot in a channel and waits until the bot's answer is posted and recorded. */
      async ask(person: Person, channel: ChannelName, text: string): Promise<Answer> {
        const before = prompts.length;
        const message = discord.sendMessage({
          authorId: person.id,
          channelId: CHANNELS[channel],
          content: text,
          mentionsBot: true,
        });
        const exchange = await waitFor(`the bot's answer to ${person.name}'s "${text}"`, () =>
          db.exchange
            .findFirst({
              where: { platform: "discord", userMessageId: message.id },
              select: { replyMessageIds: true, replyText: true, model: true },
            })
            .then((e) => (e?.replyMessageIds.length ? e : undefined)),
        );
        const prompt = prompts.slice(before).at(-1);
        if (!prompt) throw new DemoError(`the bot answered ${person.name} without asking the model`);
        const replies = exchange.replyMessageIds.map(snapshot);
        return {
          message,
          replies,
          text: replies.map((r) => r.content).join("\n"),
          model: exchange.model ?? "?",
          prompt,
        };
      },

      /** `person` reacts to a reply and waits until the rating is stored. */
      async rate(person: Person, reply: APIMessage, emoji: string): Promise<void> {
        discord.addReaction({ messageId: reply.id, userId: person.id, emoji });
        await waitFor(`${person.name}'s ${emoji} rating to be stored`, () =>
          db.exchangeReaction.findFirst({
            where: { emoji, removedAt: null, exchange: { replyMessageIds: { has: reply.id } } },
            select: { id: true },
          }),
        );
      },

      /** `/assistant <sub>` in #general; resolves with the reply the person sees. */
      async command(person: Person, sub: string): Promise<{ content?: string; embeds?: APIEmbed[] }> {
        const id = discord.slashCommand({
          userId: person.id,
          name: "assistant",
          subcommand: sub,
          guildId: GUILD_ID,
          channelId: CHANNELS.general,
        });
        const edit = await waitFor(`the bot's answer to ${person.name}'s /assistant ${sub}`, () =>
          discord.interactionResponses(id).findLast((r) => r.kind === "edit" && r.status === 200),
        );
        return edit.data as { content?: string; embeds?: APIEmbed[] };
      },

      /** Clicks a button on a message; resolves with the answer only the clicker sees. */
      async click(person: Person, message: APIMessage, customId: string): Promise<string> {
        const id = discord.clickButton({ userId: person.id, messageId: message.id, customId });
        const followUp = await waitFor(`the bot's answer to ${person.name}'s click`, () =>
          discord.interactionResponses(id).find((r) => r.kind === "followup"),
        );
        return String(followUp.data.content ?? "");
      },

      /** The bot's messages in its DM channel with `person`, oldest first. */
      dms(person: Person): APIMessage[] {
        return discord.messagesIn(dmChannelOf(person));
      },

      /** The current state of a message (after edits). */
      message(id: string): APIMessage {
        return snapshot(id);
      },
    };
  } catch (e) {
    await cleanup.run();
    throw e;
  }
}
