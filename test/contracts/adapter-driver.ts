// What the platform-adapter contract (platform-adapter.test.ts) needs from each platform: the whole
// bot on that platform (the app graph against its emulator, the OpenAI emulator, a real database)
// and people acting on it, in one shape for every platform. Built on the per-platform harnesses
// (test/support/discord-app.ts, slack-app.ts).
import { vi } from "vitest";
import { DISCORD_MESSAGE_LIMIT } from "../../src/bots/discord/format.ts";
import { SLACK_PART_CHARS, toSlackMrkdwn } from "../../src/bots/slack/mrkdwn.ts";
import { parseRateButtonId, rateButtonId } from "../../src/core/button-ids.ts";
import type { Platform } from "../../src/core/ports.ts";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import type { OpenAIEmulator } from "../emulators/openai/index.ts";
import * as discord from "../support/discord-app.ts";
import * as slack from "../support/slack-app.ts";

/** One of the bot's messages as people see it. */
export interface Posted {
  id: string;
  text: string;
}

export interface AdapterDriver {
  readonly platform: Platform;
  /** The most characters one message of an answer may carry. */
  readonly messageLimit: number;
  readonly db: PrismaClient;
  readonly openai: OpenAIEmulator;
  /** Two people on the platform (platform user ids). */
  readonly alice: string;
  readonly bob: string;
  /** The identity the core stores for a person. */
  externalId(user: string): string;
  /** The text a person sees for Markdown the core wrote. */
  shown(markdown: string): string;
  /** `user` mentions the bot in a channel; resolves once the answer is recorded. */
  mention(user: string, text: string): Promise<{ messageId: string; replies: Posted[] }>;
  /** The platform delivers that message's event again (a gateway replay, a retried delivery). */
  replay(messageId: string): Promise<void>;
  /** The bot's messages answering `messageId`, now. */
  repliesTo(messageId: string): Posted[];
  /** `user` adds a thumbs-up to the message (does not wait: the bot may rightly ignore it). */
  thumbsUp(user: string, messageId: string): Promise<void>;
  /** Resolves once everything delivered before it has been handled. */
  barrier(): Promise<void>;
  /** `/assistant <text>` by `user`: what they are shown. */
  command(user: string, text: string): Promise<string>;
  /** A DMed approval prompt for `proposalId` to `user`: where its buttons are. */
  approvalPrompt(user: string, proposalId: string): Promise<{ channelId: string; messageId: string }>;
  /** The ratings the rating buttons under one of the bot's messages give (none: no buttons). */
  ratingButtons(messageId: string): number[];
  /** `user` clicks the rating button for `rating` under the reply `messageId`: what only they are shown. */
  rateByButton(user: string, messageId: string, rating: 1 | 5): Promise<string>;
  /** `user` clicks the button `buttonId` on that message: what they are shown, only to them. */
  click(user: string, at: { channelId: string; messageId: string }, buttonId: string): Promise<string>;
  stop(): Promise<void>;
}

const prompt = (proposalId: string) => ({
  proposalId,
  text: "Train your own model for about $0.42?",
  approveLabel: "Approve ($0.42)",
  declineLabel: "Decline",
});

export async function discordDriver(): Promise<AdapterDriver> {
  const h = await discord.startDiscordApp();
  const posted = (m: { id: string; content: string }): Posted => ({ id: m.id, text: m.content });
  return {
    platform: "discord",
    messageLimit: DISCORD_MESSAGE_LIMIT,
    db: h.db,
    openai: h.openai,
    alice: discord.ALICE,
    bob: discord.BOB,
    externalId: (user) => `discord:${user}`,
    shown: (markdown) => markdown,
    async mention(user, text) {
      const { message, replies } = await h.mention(user, text);
      return { messageId: message.id, replies: replies.map(posted) };
    },
    async replay(messageId) {
      const replayed = h.emu.replayLastDispatch(
        (p) => p.t === "MESSAGE_CREATE" && (p.d as { id?: string }).id === messageId,
      );
      if (replayed.length !== 1) throw new Error("the message's event was not found to replay");
    },
    repliesTo: (messageId) => h.repliesTo(messageId).map(posted),
    async thumbsUp(user, messageId) {
      h.react(user, messageId, "👍");
    },
    async barrier() {
      await h.mention(discord.BOB, "a barrier: answered after everything before it");
    },
    async command(user, text) {
      const [first = "", second] = text.split(/\s+/);
      const { reply } = second
        ? await h.command(user, second, { group: first })
        : await h.command(user, first);
      return String(reply.content ?? "");
    },
    async approvalPrompt(user, proposalId) {
      const ref = await h.app.notifiers.discord!.sendApprovalPrompt(`discord:${user}`, prompt(proposalId));
      return { channelId: ref.channelId!, messageId: ref.messageId! };
    },
    ratingButtons(messageId) {
      const m = h.emu.messagesIn(discord.GENERAL).find((x) => x.id === messageId);
      const rows = (m?.components ?? []) as Array<{ components?: Array<{ custom_id?: string }> }>;
      return rows
        .flatMap((r) => r.components ?? [])
        .map((b) => parseRateButtonId(b.custom_id ?? ""))
        .filter((r): r is number => r !== undefined);
    },
    async rateByButton(user, messageId, rating) {
      const { responses } = await h.click(user, messageId, rateButtonId(rating));
      const followup = responses.find((r) => r.kind === "followup");
      if (!followup?.ephemeral) throw new Error("the click was not answered to the clicker only");
      return String((followup.data as { content?: unknown }).content ?? "");
    },
    async click(user, at, buttonId) {
      const { responses } = await h.click(user, at.messageId, buttonId);
      const followup = responses.find((r) => r.kind === "followup");
      if (!followup?.ephemeral) throw new Error("the click was not answered to the clicker only");
      return String((followup.data as { content?: unknown }).content ?? "");
    },
    stop: () => h.stop(),
  };
}

export async function slackDriver(): Promise<AdapterDriver> {
  const h = await slack.startSlackApp({ transport: "http", emulator: { longText: "reject" } });
  const answered = (ts: string) =>
    vi.waitUntil(
      async () => {
        const e = await h.database.db.exchange.findFirst({
          where: { platform: "slack", userMessageId: ts },
          select: { replyMessageIds: true },
        });
        return e?.replyMessageIds.length ? e.replyMessageIds : undefined;
      },
      { timeout: 10_000, interval: 20 },
    );
  const authors = new Map<string, { user: string; text: string }>();
  const repliesTo = (ts: string): Posted[] =>
    h.postsInThread(ts).map((c) => ({ id: String(c.response.ts), text: String(c.args.text ?? "") }));
  return {
    platform: "slack",
    messageLimit: SLACK_PART_CHARS,
    db: h.database.db,
    openai: h.openai,
    alice: slack.ALICE,
    bob: slack.BOB,
    externalId: (user) => h.externalId(user),
    shown: (markdown) => toSlackMrkdwn(markdown),
    async mention(user, text) {
      const { ts } = await h.mention(user, text);
      authors.set(ts, { user, text });
      const ids = await answered(ts);
      const replies = repliesTo(ts);
      return { messageId: ts, replies: ids.map((id) => replies.find((r) => r.id === id)!) };
    },
    async replay(ts) {
      // The same message delivered again under a new event id, as after a restart of the sender.
      const original = authors.get(ts);
      if (!original) throw new Error("no such message to deliver again");
      await h.mention(original.user, original.text, { ts });
    },
    repliesTo,
    async thumbsUp(user, ts) {
      await h.react(user, ts, "+1");
    },
    barrier: () => h.barrier(),
    async command(user, text) {
      const { response } = await h.command(user, text);
      return String(response.body.text ?? "");
    },
    async approvalPrompt(user, proposalId) {
      const ref = await h.app.notifiers.slack!.sendApprovalPrompt(h.externalId(user), prompt(proposalId));
      return { channelId: ref.channel!, messageId: ref.ts! };
    },
    ratingButtons(ts) {
      const post = h.emu.callsTo("chat.postMessage").find((c) => c.response.ts === ts);
      const blocks = (post?.args.blocks ?? []) as Array<{
        type?: string;
        elements?: Array<{
          type?: string;
          positive_button?: { value?: string };
          negative_button?: { value?: string };
        }>;
      }>;
      return blocks
        .filter((b) => b.type === "context_actions")
        .flatMap((b) => b.elements ?? [])
        .filter((e) => e.type === "feedback_buttons")
        .flatMap((e) => [e.positive_button?.value, e.negative_button?.value])
        .map((v) => parseRateButtonId(v ?? ""))
        .filter((r): r is number => r !== undefined);
    },
    async rateByButton(user, ts, rating) {
      const { responseUrl } = await h.click(user, {
        actionId: "rate",
        type: "feedback_buttons",
        value: rateButtonId(rating),
        channelId: slack.CHANNEL,
        messageTs: ts,
      });
      const answer = await h.responseTo(responseUrl);
      if (answer.body.response_type !== "ephemeral") throw new Error("the click was not answered privately");
      return String(answer.body.text ?? "");
    },
    async click(user, at, buttonId) {
      const { responseUrl } = await h.click(user, {
        actionId: buttonId,
        channelId: at.channelId,
        messageTs: at.messageId,
      });
      const answer = await h.responseTo(responseUrl);
      if (answer.body.response_type !== "ephemeral") throw new Error("the click was not answered privately");
      return String(answer.body.text ?? "");
    },
    stop: () => h.stop(),
  };
}
