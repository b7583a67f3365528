// The whole bot on Slack, for end-to-end tests: the Slack emulator, the OpenAI emulator, a fresh
// migrated database and the real app graph (`startApp`, the real Bolt adapter) over the chosen
// transport. Helpers play the people (mention, DM, react, run a command, click a button) and wait
// for what reaches Slack; tests assert on the emulator's records and the database.
//
//   const h = await startSlackApp({ transport: "http" });
//   const { ts } = await h.mention(ALICE, "hello");
//   const reply = await h.replyTo(ts);
//   ...
//   await h.stop();

import { type App, startApp } from "../../src/app.ts";
import type { SlackPlatform } from "../../src/bots/slack/index.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Clock, UserRef } from "../../src/core/ports.ts";
import { openDatabase } from "../../src/database/open-database.ts";
import {
  type OpenAIEmulator,
  type OpenAIEmulatorOptions,
  startOpenAIEmulator,
} from "../emulators/openai/index.ts";
import {
  type DeliveryResult,
  type RecordedCall,
  type ResponseUrlPost,
  type SendEventOptions,
  type SlackEmulator,
  type SlackEmulatorOptions,
  type SlackEvent,
  startSlackEmulator,
} from "../emulators/slack/index.ts";
import { memoryLogger } from "./core.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export const SLACK_IDS = {
  teamId: "T0TEAM",
  botUserId: "U0BOT",
  botId: "B0BOT",
  botToken: "xoxb-test-token",
  appToken: "xapp-test-token",
  signingSecret: "test-signing-secret",
} as const;

export const ALICE = "U0ALICE";
export const BOB = "U0BOB";
export const CHANNEL = "C0GENERAL";
/** Barrier mentions come from this user, in their own channel, so they never touch the others' counts. */
const BARRIER_USER = "U0BARRIER";
const BARRIER_CHANNEL = "C0BARRIER";

export type SlackTransportKind = "http" | "socket";

export interface SlackAppOptions {
  transport: SlackTransportKind;
  /** More settings for loadConfig (OPERATORS, FINETUNE_*, ...); they override the defaults here. */
  env?: Record<string, string>;
  emulator?: Omit<SlackEmulatorOptions, keyof typeof SLACK_IDS>;
  openai?: OpenAIEmulatorOptions;
  clock?: Clock;
  /**
   * Open the app's database the way the bot does (`openDatabase`: the embedded database in its
   * worker thread, migrated through its socket) in this DATA_DIR, instead of a test database.
   */
  dataDir?: string;
}

export interface MentionOptions extends Pick<SendEventOptions, "eventId" | "retryNum" | "timestampSec"> {
  channelId?: string;
  threadTs?: string;
  /** The message's ts; default: a fresh one. Reuse one to model the same message delivered again. */
  ts?: string;
  /** Files shared with it (file objects from `emu.shareFile`). */
  files?: Record<string, unknown>[];
}

export interface SlackAppHarness {
  transport: SlackTransportKind;
  emu: SlackEmulator;
  openai: OpenAIEmulator;
  database: TestDatabase;
  config: Config;
  app: App;
  slack: SlackPlatform;
  log: ReturnType<typeof memoryLogger>;
  /** `slack:<team>:<user>`: the identity the core stores for a Slack user. */
  externalId(userId: string): string;
  userRef(userId: string): UserRef;
  /** The DM channel between the bot and a user (what conversations.open gives the bot). */
  dmChannel(userId: string): Promise<string>;
  /** Sends an app_mention in a channel. */
  mention(
    userId: string,
    text: string,
    options?: MentionOptions,
  ): Promise<{ event: SlackEvent; ts: string; delivery: DeliveryResult }>;
  /** Sends a direct message (a `message` event with channel_type "im"). */
  dm(
    userId: string,
    text: string,
    options?: Omit<MentionOptions, "channelId">,
  ): Promise<{ event: SlackEvent; ts: string; channel: string; delivery: DeliveryResult }>;
  /** Sends any event body (bot messages, edits ...). */
  send(event: SlackEvent, options?: SendEventOptions): Promise<DeliveryResult>;
  /** The first chat.postMessage answering the message `ts` (posted with thread_ts = ts). */
  replyTo(ts: string, timeoutMs?: number): Promise<RecordedCall>;
  /** Every chat.postMessage posted with thread_ts = ts so far. */
  postsInThread(ts: string): RecordedCall[];
  /** reaction_added (or reaction_removed with `remove`) by `userId` on the message `messageTs`. */
  react(
    userId: string,
    messageTs: string,
    reaction: string,
    options?: { remove?: boolean; channelId?: string; eventId?: string; itemUser?: string },
  ): Promise<DeliveryResult>;
  /** `/assistant <text>`; resolves with the first response_url post answering it. */
  command(
    userId: string,
    text: string,
    options?: { channelId?: string },
  ): Promise<{ delivery: DeliveryResult; responseUrl: string; response: ResponseUrlPost }>;
  /** A button click on the message `messageTs`; resolves once Slack got the ack. */
  click(
    userId: string,
    click: {
      actionId: string;
      value?: string;
      channelId: string;
      messageTs: string;
      type?: "button" | "feedback_buttons";
    },
  ): Promise<{ delivery: DeliveryResult; responseUrl: string }>;
  /** The first response_url post to `responseUrl`. */
  responseTo(responseUrl: string, timeoutMs?: number): Promise<ResponseUrlPost>;
  /**
   * Waits until a fresh mention from an unrelated user is answered and recorded: events delivered
   * before it have had their chance to produce something.
   */
  barrier(): Promise<void>;
  stop(): Promise<void>;
}

/** The bot's own database in `dataDir`, shaped like a test database (it has no PGlite handle here). */
async function botDatabase(dataDir: string): Promise<TestDatabase> {
  const opened = await openDatabase({ dataDir });
  return {
    db: opened.db,
    get pglite(): never {
      throw new Error("the bot's embedded database runs in its worker thread: reach it through `db`");
    },
    close: () => opened.close(),
  };
}

/** Polls `read` until it returns something other than undefined/null/false. */
export async function eventually<T>(
  read: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startSlackApp(options: SlackAppOptions): Promise<SlackAppHarness> {
  const { transport } = options;
  const database = options.dataDir ? await botDatabase(options.dataDir) : await createTestDatabase();
  const openai = await startOpenAIEmulator(options.openai);
  // The emulator must be up before the app: the adapter calls auth.test when it starts.
  const emu = await startSlackEmulator({ ...options.emulator, ...SLACK_IDS });
  const log = memoryLogger();
  let app: App;
  let config: Config;
  try {
    config = loadConfig({
      SLACK_BOT_TOKEN: SLACK_IDS.botToken,
      ...(transport === "http"
        ? { SLACK_SIGNING_SECRET: SLACK_IDS.signingSecret }
        : { SLACK_APP_TOKEN: SLACK_IDS.appToken }),
      SLACK_PORT: "0",
      SLACK_API_URL: emu.apiUrl,
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      FINETUNE_PROVIDER: "none",
      EMBEDDING_DIMENSIONS: "256",
      // Answers posted whole (chat.postMessage, what replyTo waits for); test/streaming-slack.test.ts streams.
      STREAM_REPLIES: "false",
      ...options.env,
    });
    app = await startApp({
      config,
      db: database.db,
      log,
      schedule: false,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } catch (e) {
    await emu.stop();
    await openai.close();
    await database.close();
    throw e;
  }
  const slack = app.platforms.slack;
  if (!slack) throw new Error("the app did not start Slack");
  if (transport === "http") {
    if (slack.httpPort === undefined) throw new Error("the Slack adapter did not report its HTTP port");
    emu.setTarget({ kind: "http", url: `http://127.0.0.1:${slack.httpPort}/slack/events` });
  } else {
    emu.setTarget({ kind: "socket" });
  }

  const dms = new Map<string, string>();
  async function dmChannel(userId: string): Promise<string> {
    const known = dms.get(userId);
    if (known) return known;
    const res = await fetch(`${emu.apiUrl}conversations.open`, {
      method: "POST",
      headers: { authorization: `Bearer ${SLACK_IDS.botToken}`, "content-type": "application/json" },
      body: JSON.stringify({ users: userId }),
    });
    const body = (await res.json()) as { channel?: { id?: string } };
    const id = body.channel?.id;
    if (!id) throw new Error(`conversations.open gave no channel for ${userId}`);
    dms.set(userId, id);
    return id;
  }

  const eventOptions = (o: MentionOptions): SendEventOptions => ({
    ...(o.eventId !== undefined ? { eventId: o.eventId } : {}),
    ...(o.retryNum !== undefined ? { retryNum: o.retryNum } : {}),
    ...(o.timestampSec !== undefined ? { timestampSec: o.timestampSec } : {}),
  });

  const h: SlackAppHarness = {
    transport,
    emu,
    openai,
    database,
    config,
    app,
    slack,
    log,
    externalId: (userId) => `slack:${SLACK_IDS.teamId}:${userId}`,
    userRef: (userId) => ({ platform: "slack", externalId: h.externalId(userId) }),
    dmChannel,

    async mention(userId, text, o = {}) {
      const event = emu.events.appMention({
        userId,
        channelId: o.channelId ?? CHANNEL,
        text,
        ...(o.ts !== undefined ? { ts: o.ts } : {}),
        ...(o.threadTs !== undefined ? { threadTs: o.threadTs } : {}),
        ...(o.files !== undefined ? { files: o.files } : {}),
      });
      const delivery = await emu.sendEvent(event, eventOptions(o));
      return { event, ts: String(event.ts), delivery };
    },

    async dm(userId, text, o = {}) {
      const channel = await dmChannel(userId);
      const event = emu.events.message({
        userId,
        channelId: channel,
        text,
        ...(o.ts !== undefined ? { ts: o.ts } : {}),
        ...(o.threadTs !== undefined ? { threadTs: o.threadTs } : {}),
        ...(o.files !== undefined ? { files: o.files } : {}),
      });
      const delivery = await emu.sendEvent(event, eventOptions(o));
      return { event, ts: String(event.ts), channel, delivery };
    },

    send: (event, o) => emu.sendEvent(event, o),

    replyTo: (ts, timeoutMs = 10_000) =>
      emu.waitForCall(
        "chat.postMessage",
        (c) => c.args.thread_ts === ts && c.response.ok === true,
        timeoutMs,
      ),
    postsInThread: (ts) => emu.callsTo("chat.postMessage").filter((c) => c.args.thread_ts === ts),

    react(userId, messageTs, reaction, o = {}) {
      const input = {
        userId,
        reaction,
        channelId: o.channelId ?? CHANNEL,
        messageTs,
        itemUser: o.itemUser ?? SLACK_IDS.botUserId,
      };
      const event = o.remove ? emu.events.reactionRemoved(input) : emu.events.reactionAdded(input);
      return emu.sendEvent(event, o.eventId !== undefined ? { eventId: o.eventId } : {});
    },

    async command(userId, text, o = {}) {
      const sent = await emu.sendSlashCommand({
        command: "/assistant",
        text,
        userId,
        channelId: o.channelId ?? CHANNEL,
      });
      const response = await h.responseTo(sent.responseUrl);
      return { delivery: sent, responseUrl: sent.responseUrl, response };
    },

    async click(userId, c) {
      const sent = await emu.sendBlockAction({
        userId,
        actionId: c.actionId,
        channelId: c.channelId,
        messageTs: c.messageTs,
        ...(c.value !== undefined ? { value: c.value } : {}),
        ...(c.type !== undefined ? { type: c.type } : {}),
      });
      return { delivery: sent, responseUrl: sent.responseUrl };
    },

    responseTo: (responseUrl, timeoutMs = 10_000) =>
      emu.waitForResponseUrlPost((p) => p.url === responseUrl, timeoutMs),

    async barrier() {
      const { ts } = await h.mention(BARRIER_USER, "barrier", { channelId: BARRIER_CHANNEL });
      const reply = await h.replyTo(ts);
      await eventually(
        () =>
          database.db.exchange.findFirst({
            where: { userMessageId: ts, replyMessageId: String(reply.response.ts) },
            select: { id: true },
          }),
        "the barrier reply to be recorded",
      );
    },

    async stop() {
      // The app first: a Socket Mode client whose server vanishes would try to reconnect.
      await app.stop();
      await emu.stop();
      await openai.close();
      await database.close();
    },
  };
  return h;
}
