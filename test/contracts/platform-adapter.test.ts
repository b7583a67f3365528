// The platform-adapter contract: one list of behaviours every platform adapter keeps, run against
// the real Discord and Slack adapters (the whole app graph) through their emulators. What a
// platform renders its own way (embeds, Block Kit, threads, fences) stays in that platform's suite.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { approvalButtonId } from "../../src/core/button-ids.ts";
import { outcome } from "../../src/core/outcomes.ts";
import { defaultChatReply } from "../emulators/openai/index.ts";
import { type AdapterDriver, discordDriver, slackDriver } from "./adapter-driver.ts";

describe.each([
  { platform: "discord", start: discordDriver },
  { platform: "slack", start: slackDriver },
])("the $platform adapter", ({ start }) => {
  let d: AdapterDriver;
  beforeAll(async () => {
    d = await start();
  });
  afterAll(() => d?.stop());

  it("answers a mention with one reply, recorded on the exchange", async () => {
    const { messageId, replies } = await d.mention(d.alice, "what is a monad, in one sentence?");
    expect(replies).toHaveLength(1);
    expect(d.repliesTo(messageId)).toEqual(replies);
    const exchange = await d.db.exchange.findFirstOrThrow({ where: { userMessageId: messageId } });
    expect(exchange).toMatchObject({ status: "answered", replyMessageIds: [replies[0]!.id] });
    expect(replies[0]!.text).toBe(d.shown(exchange.replyText!));
  });

  it("gives a message delivered again no second reply", async () => {
    const { messageId } = await d.mention(d.alice, "answer me once");
    await d.replay(messageId);
    await d.barrier();
    expect(d.repliesTo(messageId)).toHaveLength(1);
    expect(await d.db.exchange.count({ where: { userMessageId: messageId } })).toBe(1);
  });

  it("ignores a rating by someone other than the asker", async () => {
    const { messageId, replies } = await d.mention(d.alice, "rate this, but only you");
    await d.thumbsUp(d.bob, replies[0]!.id);
    await d.barrier();
    const exchange = await d.db.exchange.findFirstOrThrow({ where: { userMessageId: messageId } });
    expect(exchange.rating).toBeNull();
    expect(await d.db.exchangeReaction.count({ where: { exchangeId: exchange.id } })).toBe(0);
  });

  it("splits a long reply into parts within the limit, all posted and recorded in order", async () => {
    const sentence = (i: number) => `Sentence ${i} of a long answer, with some words to fill it.`;
    const answer = Array.from({ length: Math.ceil((d.messageLimit * 2.5) / 60) }, (_, i) => sentence(i)).join(
      " ",
    );
    d.openai.setReply(() => answer);
    try {
      const { messageId, replies } = await d.mention(d.alice, "write me a long answer");
      expect(replies.length).toBeGreaterThanOrEqual(3);
      for (const part of replies) expect(part.text.length).toBeLessThanOrEqual(d.messageLimit);
      expect(replies.map((r) => r.text).join(" ")).toBe(answer);
      const exchange = await d.db.exchange.findFirstOrThrow({ where: { userMessageId: messageId } });
      expect(exchange.replyMessageIds).toEqual(replies.map((r) => r.id));
    } finally {
      d.openai.setReply(defaultChatReply);
    }
  });

  it("answers a command with the core's answer", async () => {
    const text = await d.command(d.alice, "models");
    // Alice has talked to the bot, so she is known, with no model of her own.
    expect(text).toBe(d.shown(outcome("models.base_only").text));
  });

  it("answers an unknown subcommand with the help, naming the caller's id", async () => {
    const text = await d.command(d.bob, "frobnicate");
    for (const sub of ["status", "train", "models", "rollback", "limits", "forget", "opt-out"])
      expect(text).toContain(`/assistant ${sub}`);
    expect(text).toContain(d.externalId(d.bob));
  });

  it("puts rating buttons under an answer's last part; only the asker's click rates, a second click takes it back, the latest of buttons and reactions counts", async () => {
    const { replies } = await d.mention(d.alice, "rate me with buttons please");
    const last = replies.at(-1)!;
    expect(d.ratingButtons(last.id)).toEqual([5, 1]);
    const rating = async () =>
      (await d.db.exchange.findFirstOrThrow({ where: { replyMessageIds: { has: last.id } } })).rating;

    expect(await d.rateByButton(d.bob, last.id, 5)).toBe(d.shown(outcome("rating.not_asker").text));
    expect(await rating()).toBeNull();

    expect(await d.rateByButton(d.alice, last.id, 1)).toBe(d.shown(outcome("rating.saved", 1).text));
    expect(await rating()).toBe(1);
    // A reaction after the click: the latest counts.
    await d.thumbsUp(d.alice, last.id);
    await vi.waitUntil(async () => (await rating()) === 5, { timeout: 10_000, interval: 20 });
    // The same button again (Slack shows it still selected) takes the button's rating back: the
    // reaction's is what is left.
    expect(await d.rateByButton(d.alice, last.id, 1)).toBe(d.shown(outcome("rating.removed").text));
    expect(await rating()).toBe(5);
    // Clicked once more, after the reaction: the latest counts, so the button's 1.
    expect(await d.rateByButton(d.alice, last.id, 1)).toBe(d.shown(outcome("rating.saved", 1).text));
    expect(await rating()).toBe(1);
  });

  it("puts no rating buttons under an apology", async () => {
    d.openai.failNext(3, { status: 500, match: "/chat/completions" });
    const { replies } = await d.mention(d.alice, "this one fails");
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) expect(d.ratingButtons(r.id)).toEqual([]);
  });

  it("hands a click on one of its buttons to the core and shows the answer to the clicker only", async () => {
    // A prompt for a proposal the core does not hold: the core's answer, whoever clicks.
    const proposalId = randomUUID();
    const at = await d.approvalPrompt(d.alice, proposalId);
    const text = await d.click(d.bob, at, approvalButtonId("approve", proposalId));
    expect(text).toBe(d.shown(outcome("approval.gone").text));
  });
});
