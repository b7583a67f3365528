// The Discord adapter end to end: the real discord.js client inside the app graph (`startApp`)
// against the Discord emulator, the core on a real database, the OpenAI emulator answering.
// Assertions read what reached the emulator and the database.
import { ButtonStyle, ComponentType, MessageFlags } from "discord.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startApp } from "../src/app.ts";
import { approvalButtonId } from "../src/core/button-ids.ts";
import { replyNotices as messages } from "../src/core/messages.ts";
import { outcome } from "../src/core/outcomes.ts";
import { type DiscordEmulator, Intent, startDiscordEmulator } from "./emulators/discord/index.ts";
import { defaultChatReply } from "./emulators/openai/index.ts";
import { memoryLogger } from "./support/core.ts";
import {
  ALICE,
  APP_ID,
  BOB,
  type DiscordApp,
  discordAppConfig,
  GENERAL,
  GUILD_ID,
  OTHER_BOT,
  RANDOM,
  startDiscordApp,
} from "./support/discord-app.ts";

const THREAD = "2009";
let h: DiscordApp;

beforeAll(async () => {
  h = await startDiscordApp();
});

afterAll(async () => {
  await h?.stop();
});

function fencesBalanced(part: string): boolean {
  return part.split("\n").filter((l) => /^\s*```/.test(l)).length % 2 === 0;
}

async function exchangeFor(userMessageId: string) {
  return h.db.exchange.findFirstOrThrow({ where: { platform: "discord", userMessageId } });
}

describe("Discord adapter", () => {
  it("connects, registers /assistant globally and reports connected", () => {
    expect(h.app.platforms.discord?.connected()).toBe(true);
    const put = h.emu.sent.find((r) => r.method === "PUT" && r.path === `/applications/${APP_ID}/commands`);
    expect(put?.status).toBe(200);
    const [command] = h.emu.commandsRegistered("global") ?? [];
    expect(command?.name).toBe("assistant");
    const names = (command?.options ?? []).map((o) => o.name);
    expect(names).toEqual([
      "status",
      "train",
      "training",
      "models",
      "rollback",
      "memory",
      "export",
      "forget",
      "opt-out",
      "opt-in",
      "limits",
      "config",
    ]);
    expect(h.emu.unknownRequests()).toEqual([]);
  });

  it("answers a mention as a reply, shows typing, and records the reply on the exchange", async () => {
    const { message, replies } = await h.mention(ALICE, "what is the capital of France?");
    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    expect(reply.message_reference?.message_id).toBe(message.id);
    expect(reply.content).toBe("echo(gpt-4.1-mini): what is the capital of France?");

    const exchange = await exchangeFor(message.id);
    expect(exchange).toMatchObject({
      status: "answered",
      channelId: GENERAL,
      threadId: null,
      userText: "what is the capital of France?",
      replyMessageId: reply.id,
      replyMessageIds: [reply.id],
    });
    const user = await h.db.user.findUniqueOrThrow({ where: { id: exchange.userId } });
    expect(user.externalId).toBe(`discord:${ALICE}`);
    expect(h.emu.typingIn(GENERAL).length).toBeGreaterThanOrEqual(1);
    // Logs carry ids, never what people wrote.
    expect(h.log.lines.join("\n")).not.toContain("capital of France");
  });

  it("answers a DM (no mention needed) in the DM channel", async () => {
    const { message, replies } = await h.mention(BOB, "hello in private", { dm: true });
    expect(message.channel_id).toBe(h.dmChannelOf(BOB));
    expect(replies.map((r) => r.content)).toEqual(["echo(gpt-4.1-mini): hello in private"]);
    expect(replies[0]?.channel_id).toBe(message.channel_id);
    expect((await exchangeFor(message.id)).replyMessageId).toBe(replies[0]?.id);
  });

  it("posts the core's rejection as a reply and records nothing", async () => {
    const { message, replies } = await h.mention(ALICE, "   ");
    expect(replies.map((r) => r.content)).toEqual([messages.empty]);
    expect(await h.db.exchange.count({ where: { userMessageId: message.id } })).toBe(0);
  });

  it("splits a 5000-character answer into three well-formed parts", async () => {
    const para = (n: number) =>
      `Paragraph ${n}. ${"Lorem ipsum dolor sit amet, consectetur. ".repeat(14)}`.trim();
    const code = Array.from({ length: 30 }, (_, i) => `  total += compute(${i}); // step ${i}`).join("\n");
    const answer = [
      para(1),
      para(2),
      para(3),
      `\`\`\`js\nlet total = 0;\n${code}\n\`\`\``,
      para(4),
      para(5),
      para(6),
      para(7),
    ].join("\n\n");
    expect(answer.length).toBeGreaterThan(4500);
    expect(answer.length).toBeLessThan(5500);
    h.openai.setReply(() => answer);
    try {
      const { message, replies } = await h.mention(ALICE, "write me a long answer");
      expect(replies).toHaveLength(3);
      for (const part of replies) {
        expect(part.content.length).toBeLessThanOrEqual(2000);
        expect(fencesBalanced(part.content)).toBe(true);
      }
      expect(replies[0]?.message_reference?.message_id).toBe(message.id);
      // Nothing is lost: the parts hold the answer's text, in order.
      const joined = replies.map((r) => r.content).join("\n\n");
      expect(joined.replace(/\s+/g, "")).toContain(para(7).replace(/\s+/g, ""));
      expect(joined.indexOf("Paragraph 1.")).toBeLessThan(joined.indexOf("Paragraph 7."));
      const exchange = await exchangeFor(message.id);
      expect(exchange.replyMessageIds).toEqual(replies.map((r) => r.id));
      expect(exchange.replyMessageId).toBe(replies[0]?.id);
    } finally {
      h.openai.setReply(defaultChatReply);
    }
  });

  it("never pings: allowed_mentions parse nothing, so @everyone in an answer reaches nobody", async () => {
    h.openai.setReply(() => `Hey @everyone and @here and <@${BOB}>, look!`);
    try {
      const { replies } = await h.mention(ALICE, "ping everyone please");
      const reply = replies[0]!;
      expect(reply.content).toContain("@everyone");
      expect(reply.mention_everyone).toBe(false);
      expect(reply.mentions).toEqual([]);
      const post = h.emu.sent.find(
        (r) => r.method === "POST" && r.response && (r.response as { id?: string }).id === reply.id,
      );
      expect(post?.body).toMatchObject({ allowed_mentions: { parse: [], replied_user: false } });
    } finally {
      h.openai.setReply(defaultChatReply);
    }
  });

  it("ignores messages from other bots, even when they mention it", async () => {
    const before = h.emu.messagesIn(RANDOM).length;
    const sent = h.emu.sendMessage({
      channelId: RANDOM,
      authorId: OTHER_BOT,
      content: "hi",
      mentionsBot: true,
    });
    // A human's message afterwards is answered: by then the bot's message was seen and skipped.
    await h.mention(BOB, "and me?", { channelId: RANDOM });
    expect(h.repliesTo(sent.id)).toEqual([]);
    expect(h.emu.messagesIn(RANDOM)).toHaveLength(before + 1);
    expect(await h.db.exchange.count({ where: { userMessageId: sent.id } })).toBe(0);
  });

  it("answers in a thread, keeping the thread apart from its channel", async () => {
    h.emu.addChannel(GUILD_ID, { id: THREAD, name: "a-thread", type: 11, parentId: GENERAL });
    const { message, replies } = await h.mention(ALICE, "inside a thread", { channelId: THREAD });
    expect(replies[0]?.channel_id).toBe(THREAD);
    expect(await exchangeFor(message.id)).toMatchObject({ channelId: GENERAL, threadId: THREAD });
  });

  it("ignores guild messages that do not address it", async () => {
    const sent = h.emu.sendMessage({ channelId: RANDOM, authorId: ALICE, content: "just chatting" });
    await h.mention(ALICE, "now you", { channelId: RANDOM });
    expect(h.repliesTo(sent.id)).toEqual([]);
    expect(await h.db.exchange.count({ where: { userMessageId: sent.id } })).toBe(0);
  });

  it("treats a reply to one of its messages (ping off) as addressed to it", async () => {
    const first = await h.mention(ALICE, "first question", { channelId: RANDOM });
    const { message, replies } = await h.mention(ALICE, "a follow-up", {
      channelId: RANDOM,
      mentionsBot: false,
      replyTo: first.replies[0]!.id,
    });
    expect(replies[0]?.content).toBe("echo(gpt-4.1-mini): a follow-up");
    expect((await exchangeFor(message.id)).userText).toBe("a follow-up");
  });
});

describe("Discord reactions become ratings", () => {
  it("rates from a guild reaction, and removing it clears the rating", async () => {
    const { message, replies } = await h.mention(ALICE, "rate this one");
    const replyId = replies[0]!.id;
    await h.rate(ALICE, replyId, "👍");
    const rated = await exchangeFor(message.id);
    expect(rated.rating).not.toBeNull();
    expect(rated.rating).toBeGreaterThanOrEqual(4);

    await h.rate(ALICE, replyId, "👍", "remove");
    expect((await exchangeFor(message.id)).rating).toBeNull();
  });

  it("ignores a reaction by someone other than the asker", async () => {
    const { message, replies } = await h.mention(ALICE, "only mine to rate");
    h.react(BOB, replies[0]!.id, "👍");
    // Alice's own later reaction lands; Bob's never did.
    await h.rate(ALICE, replies[0]!.id, "👎");
    const reactions = await h.db.exchangeReaction.findMany({
      where: { exchange: { userMessageId: message.id } },
      select: { emoji: true },
    });
    expect(reactions.map((r) => r.emoji)).toEqual(["👎"]);
  });

  it("rates from a DM reaction (the raw-packet path of discord.js #11486)", async () => {
    const { message, replies } = await h.mention(BOB, "rate me in private", { dm: true });
    await h.rate(BOB, replies[0]!.id, "👍");
    expect((await exchangeFor(message.id)).rating).toBeGreaterThanOrEqual(4);
    // The normal event fires too for this (cached) DM channel: the reaction was applied once.
    expect(await h.db.exchangeReaction.count({ where: { exchange: { userMessageId: message.id } } })).toBe(1);
  });
});

describe("Discord slash commands", () => {
  it("/assistant status: deferred ephemeral, then an embed with the user's counts", async () => {
    const expected = (await h.app.assistant.status({ externalId: `discord:${ALICE}`, platform: "discord" }))
      .status;
    expect(expected.exchanges).toBeGreaterThan(0);
    const { responses, reply } = await h.command(ALICE, "status");
    expect(responses[0]).toMatchObject({
      kind: "callback",
      type: 5,
      ephemeral: true,
      status: 204,
    });
    expect(responses[0]?.data.flags).toBe(MessageFlags.Ephemeral);
    const embed = (reply.embeds as Array<{ fields: Array<{ name: string; value: string }> }>)[0]!;
    const field = (name: string) => embed.fields.find((f) => f.name === name)?.value;
    expect(field("Exchanges")).toContain(String(expected.exchanges));
    expect(field("Ratings")).toBe(`${expected.rated} rated, ${expected.highlyRated} highly rated`);
    expect(field("Fine-tune progress")).toContain(`${expected.readyForFineTune}/${expected.threshold}`);
    expect(field("Active model")).toContain(expected.activeModel.model);
    expect(field("Spend")).toContain("$");
  });

  it("/assistant train answers ephemerally with the core's text", async () => {
    const expected = await h.app.assistant.train({ externalId: `discord:${BOB}`, platform: "discord" });
    const { responses, reply } = await h.command(BOB, "train");
    expect(responses[0]).toMatchObject({ kind: "callback", type: 5, ephemeral: true });
    expect(reply.content).toBe(expected.text);
    expect(responses.every((r) => r.ephemeral)).toBe(true);
  });

  it("/assistant limits show|set from a non-operator gets the core's refusal", async () => {
    const caller = { externalId: `discord:${BOB}`, platform: "discord" as const };
    const show = await h.command(BOB, "show", { group: "limits" });
    expect(show.reply.content).toBe((await h.app.assistant.limitsShow(caller)).text);
    const set = await h.command(BOB, "set", {
      group: "limits",
      options: { setting: "training-user-month 20" },
    });
    expect(set.reply.content).toBe((await h.app.assistant.limitsSet(caller, "training-user-month 20")).text);
  });

  it("answers commands in DMs too", async () => {
    const expected = await h.app.assistant.models({ externalId: `discord:${ALICE}`, platform: "discord" });
    const { reply } = await h.command(ALICE, "models", { dm: true });
    expect(reply.content).toBe(expected.text);
  });

  it("works as a user-installed app: /assistant in a DM between two people, answered only to the caller", async () => {
    const [command] = h.emu.commandsRegistered("global") ?? [];
    expect(command?.integration_types).toEqual([0, 1]);
    expect(command?.contexts).toEqual([0, 1, 2]);
    const expected = await h.app.assistant.models({ externalId: `discord:${ALICE}`, platform: "discord" });
    const { id, responses, reply } = await h.command(ALICE, "models", { userInstallDmWith: BOB });
    expect(reply.content).toBe(expected.text);
    // Deferred ephemeral, then edited: nothing is posted in the two people's DM.
    const callback = responses.find((r) => r.kind === "callback");
    expect(callback?.type).toBe(5);
    expect(callback?.ephemeral).toBe(true);
    const channelId = h.emu.state.interactions.get(id)?.channelId;
    const inThatDm = h.emu.messagesIn(channelId!);
    expect(inThatDm.length).toBeGreaterThan(0);
    expect(inThatDm.every((m) => ((m.flags ?? 0) & 64) !== 0)).toBe(true);
  });

  it("rates an answer from the 'Rate this answer' message command with a 1-5 select, the asker's pick only", async () => {
    const menu = (h.emu.commandsRegistered("global") ?? []).find((c) => c.name === "Rate this answer");
    expect(menu?.type).toBe(3);
    const { replies } = await h.mention(ALICE, "rate me from the menu");
    const reply = replies[0]!;
    const pick = async (userId: string, value: string) => {
      const id = h.emu.messageCommand({ userId, messageId: reply.id, name: "Rate this answer" });
      const shown = await vi.waitUntil(
        () => h.emu.interactionResponses(id).find((r) => r.kind === "callback" && r.status < 300),
        { timeout: 10_000, interval: 20 },
      );
      expect(shown.ephemeral).toBe(true);
      const selectAt = h.emu.interaction(id)?.originalMessageId;
      if (!selectAt) throw new Error("the menu was not answered with a message");
      const picked = h.emu.selectMenu({
        userId,
        messageId: selectAt,
        customId: `ratesel:${reply.id}`,
        values: [value],
      });
      const edit = await vi.waitUntil(
        () => h.emu.interactionResponses(picked).find((r) => r.kind === "edit" && r.status === 200),
        { timeout: 10_000, interval: 20 },
      );
      return String(edit.data.content ?? "");
    };
    const rating = async () =>
      (await h.db.exchange.findFirstOrThrow({ where: { replyMessageIds: { has: reply.id } } })).rating;

    expect(await pick(BOB, "2")).toBe(outcome("rating.not_asker").text);
    expect(await rating()).toBeNull();
    expect(await pick(ALICE, "4")).toBe(outcome("rating.saved", 4).text);
    expect(await rating()).toBe(4);
  });

  it("handles a replayed INTERACTION_CREATE once (the interaction id is the event key)", async () => {
    const { id } = await h.command(ALICE, "models");
    const replayed = h.emu.replayLastDispatch((p) => p.t === "INTERACTION_CREATE");
    expect(replayed).toHaveLength(1);
    // A later command is answered; by then the replay was delivered and skipped.
    await h.command(ALICE, "train");
    expect(h.emu.interactionResponses(id).filter((r) => r.kind === "callback")).toHaveLength(1);
    expect(h.emu.interactionResponses(id).every((r) => r.status < 400)).toBe(true);
  });
});

describe("Discord approval prompts (Notifier)", () => {
  const proposalId = "0b6f6c39-8d0b-4a43-9a57-3c9a4a9e2a11";
  let ref: Record<string, string>;

  it("DMs the prompt with Approve (success) and Decline (danger) buttons", async () => {
    const notifier = h.app.notifiers.discord!;
    ref = await notifier.sendApprovalPrompt(`discord:${ALICE}`, {
      proposalId,
      text: "You have 100 highly rated examples. Train your own model for about $0.42?",
      approveLabel: "Approve ($0.42)",
      declineLabel: "Decline",
    });
    expect(ref.channelId).toBe(h.dmChannelOf(ALICE));
    const dm = h.emu.messagesIn(ref.channelId!).find((m) => m.id === ref.messageId)!;
    expect(dm.content).toContain("Train your own model");
    const row = dm.components?.[0] as { type: number; components: Array<Record<string, unknown>> };
    expect(row.type).toBe(ComponentType.ActionRow);
    expect(row.components).toEqual([
      expect.objectContaining({
        custom_id: approvalButtonId("approve", proposalId),
        style: ButtonStyle.Success,
        label: "Approve ($0.42)",
      }),
      expect.objectContaining({
        custom_id: approvalButtonId("decline", proposalId),
        style: ButtonStyle.Danger,
        label: "Decline",
      }),
    ]);
  });

  it("a click reaches the core; the clicker sees its answer ephemerally", async () => {
    const user = { externalId: `discord:${ALICE}`, platform: "discord" as const };
    const expected = await h.app.assistant.approvalClick({ user, proposalId, action: "approve" });
    const { responses } = await h.click(ALICE, ref.messageId!, approvalButtonId("approve", proposalId));
    expect(responses[0]).toMatchObject({ kind: "callback", type: 6, status: 204 });
    const followup = responses.find((r) => r.kind === "followup");
    expect(followup).toMatchObject({ ephemeral: true, data: { content: expected.text } });
    if (expected.promptText !== undefined) {
      const prompt = h.emu.messagesIn(ref.channelId!).find((m) => m.id === ref.messageId);
      expect(prompt?.content).toBe(expected.promptText);
      expect(prompt?.components).toEqual([]);
    }
  });

  it("closeApprovalPrompt replaces the text and removes the buttons", async () => {
    await h.app.notifiers.discord!.closeApprovalPrompt(ref, "This proposal expired.");
    const prompt = h.emu.messagesIn(ref.channelId!).find((m) => m.id === ref.messageId);
    expect(prompt?.content).toBe("This proposal expired.");
    expect(prompt?.components).toEqual([]);
  });

  it("sendDirectMessage DMs plain text", async () => {
    await h.app.notifiers.discord!.sendDirectMessage(`discord:${BOB}`, "Your model is ready.");
    expect(h.emu.messagesIn(h.dmChannelOf(BOB)).at(-1)?.content).toBe("Your model is ready.");
  });
});

describe("Discord delivery edge cases", () => {
  it("a gateway replay of MESSAGE_CREATE does not produce a second reply", async () => {
    const { message, replies } = await h.mention(ALICE, "answer me once", { channelId: RANDOM });
    expect(replies).toHaveLength(1);
    const replayed = h.emu.replayLastDispatch(
      (p) => p.t === "MESSAGE_CREATE" && (p.d as { id?: string }).id === message.id,
    );
    expect(replayed).toHaveLength(1);
    await h.emu.reconnect({ resume: true, replayLast: 3 });
    // A later message is answered: anything replayed before it has been handled by then.
    await h.mention(BOB, "after the reconnect", { channelId: RANDOM });
    expect(h.repliesTo(message.id)).toHaveLength(1);
    expect(await h.db.exchange.count({ where: { userMessageId: message.id } })).toBe(1);
  });

  it("after a restart, reactions on old replies still count (guild and DM)", async () => {
    const guild = await h.mention(ALICE, "remember me across restarts");
    const dm = await h.mention(BOB, "me too, privately", { dm: true });
    await h.restart();
    expect(h.app.platforms.discord?.connected()).toBe(true);

    await h.rate(ALICE, guild.replies[0]!.id, "👍");
    expect((await exchangeFor(guild.message.id)).rating).toBeGreaterThanOrEqual(4);
    // The new client had to fetch the old message to see it is the bot's.
    expect(
      h.emu.sent.some(
        (r) => r.method === "GET" && r.path === `/channels/${GENERAL}/messages/${guild.replies[0]!.id}`,
      ),
    ).toBe(true);

    await h.rate(BOB, dm.replies[0]!.id, "👍");
    expect((await exchangeFor(dm.message.id)).rating).toBeGreaterThanOrEqual(4);
    await h.rate(BOB, dm.replies[0]!.id, "👍", "remove");
    expect((await exchangeFor(dm.message.id)).rating).toBeNull();
  });

  it("stop() waits for a reply under way, then disconnects", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    h.openai.setReply(async () => {
      await gate;
      return "finished after stop began";
    });
    try {
      const sent = h.emu.sendMessage({
        channelId: GENERAL,
        authorId: BOB,
        content: "slow one",
        mentionsBot: true,
      });
      // The model is answering (slowly) when stop begins.
      await vi.waitUntil(
        () =>
          h.openai.requests.some(
            (r) => r.path.endsWith("/chat/completions") && JSON.stringify(r.body).includes("slow one"),
          ),
        { timeout: 10_000, interval: 20 },
      );
      const stopping = h.app.platforms.discord!.stop();
      setTimeout(release, 200);
      await stopping;
      expect(h.repliesTo(sent.id).map((m) => m.content)).toEqual(["finished after stop began"]);
      expect(h.app.platforms.discord!.connected()).toBe(false);
    } finally {
      h.openai.setReply(defaultChatReply);
      release();
    }
    await h.restart();
    expect(h.app.platforms.discord?.connected()).toBe(true);
  });
});

describe("Discord refusing the bot", () => {
  async function startAgainst(emu: DiscordEmulator) {
    const log = memoryLogger();
    const app = await startApp({ config: discordAppConfig(emu, h.openai), db: h.db, log, schedule: false });
    return { app, log };
  }

  it("logs what to fix and keeps running when the Message Content intent is not enabled", async () => {
    const emu = await startDiscordEmulator({
      applicationId: "5000",
      disallowedIntents: Intent.MessageContent,
    });
    try {
      const { app, log } = await startAgainst(emu);
      expect(app.platforms.discord?.connected()).toBe(false);
      expect(log.lines.join("\n")).toContain("Message Content Intent");
      expect(log.lines.join("\n")).toContain("retrying the Discord login");
      await app.stop();
    } finally {
      await emu.close();
    }
  });

  it("logs what to fix and keeps running when the token is wrong", async () => {
    const emu = await startDiscordEmulator({ applicationId: "5001" });
    try {
      const config = discordAppConfig(emu, h.openai);
      const log = memoryLogger();
      const app = await startApp({
        config: { ...config, discord: { ...config.discord!, token: "wrong-token" } },
        db: h.db,
        log,
        schedule: false,
      });
      expect(app.platforms.discord?.connected()).toBe(false);
      expect(log.lines.join("\n")).toContain("Discord rejected the bot token");
      await app.stop();
    } finally {
      await emu.close();
    }
  });
});
