// Streamed answers on Discord, end to end: the real discord.js client in the app against the Discord
// emulator, the OpenAI emulator streaming its answer at a known pace (or cutting it off), and the
// real database. What is asserted is what reached Discord (every POST and PATCH the emulator
// recorded) and what the database kept.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { discordText } from "../src/bots/discord/format.ts";
import { splitMessage } from "../src/bots/shared/split-message.ts";
import { buildDataset } from "../src/core/fine-tune/dataset.ts";
import { replyNotices } from "../src/core/messages.ts";
import { createPrivacyFilter } from "../src/core/privacy-filter.ts";
import type { RecordedRequest } from "./emulators/discord/rest.ts";
import { ALICE, type DiscordApp, GENERAL, startDiscordApp } from "./support/discord-app.ts";

/** 48 words: the emulator streams one word per event. */
const ANSWER =
  "Pixel is a border collie who loves the beach. She chases gulls at dawn, naps in the dunes at noon, " +
  "and herds the neighbour's ducks whenever the gate is left open. In winter she prefers the fireplace, " +
  "a chewed blanket and long walks along the frozen river with you.";

const PACE_MS = 60;

describe("streamed answers on Discord", () => {
  let h: DiscordApp;
  beforeEach(async () => {
    h = await startDiscordApp({ env: { STREAM_REPLIES: "true" } });
  });
  afterEach(() => h.stop());

  /**
   * Mentions the bot and waits for the reply to be recorded, like `h.mention`, but as long as a
   * paced stream may take on a loaded machine (the pacing is a minimum, never a maximum).
   */
  const ask = async (text: string) => {
    const message = h.emu.sendMessage({
      authorId: ALICE,
      content: text,
      mentionsBot: true,
      channelId: GENERAL,
    });
    const ids = await vi.waitUntil(
      async () =>
        (
          await h.db.exchange.findFirst({
            where: { userMessageId: message.id, replyMessageIds: { isEmpty: false } },
            select: { replyMessageIds: true },
          })
        )?.replyMessageIds,
      { timeout: 60_000, interval: 20 },
    );
    const posted = h.emu.messagesIn(GENERAL);
    return { message, replies: ids.map((id) => posted.find((m) => m.id === id)!) };
  };

  /** The bot's POSTs of new messages and PATCHes of its messages in GENERAL, in order. */
  const writes = () =>
    h.emu.sent.filter(
      (r) =>
        (r.method === "POST" && r.path === `/channels/${GENERAL}/messages`) ||
        (r.method === "PATCH" && r.path.startsWith(`/channels/${GENERAL}/messages/`)),
    );
  const content = (r: RecordedRequest) => String((r.body as { content?: unknown }).content ?? "");
  const components = (r: RecordedRequest) => (r.body as { components?: unknown[] }).components ?? [];

  it("posts the first text, then edits it in place at most about once a second, ending with the stored answer and the rating buttons", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: PACE_MS });
    const started = Date.now();
    const { message, replies } = await ask("Tell me about my dog");
    const elapsedMs = Date.now() - started;

    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    expect(reply.content).toBe(ANSWER);
    expect(reply.message_reference?.message_id).toBe(message.id);
    expect(reply.components).toHaveLength(1);

    const [post, ...edits] = writes();
    // The first text went out as the reply, long before the answer was complete, with no buttons.
    expect(post!.method).toBe("POST");
    expect(content(post!).length).toBeGreaterThan(0);
    expect(content(post!).length).toBeLessThan(ANSWER.length / 2);
    expect(ANSWER.startsWith(content(post!))).toBe(true);
    expect(components(post!)).toEqual([]);
    // Then edits of that one message with growing text; only the last one carries the buttons.
    expect(edits.length).toBeGreaterThanOrEqual(2);
    for (const edit of edits) expect(edit.path).toBe(`/channels/${GENERAL}/messages/${reply.id}`);
    const texts = [content(post!), ...edits.map(content)];
    for (const [i, text] of texts.entries()) {
      expect(ANSWER.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThanOrEqual(texts[i - 1]!.length);
    }
    expect(texts.at(-1)).toBe(ANSWER);
    expect(edits.slice(0, -1).every((e) => components(e).length === 0)).toBe(true);
    expect(components(edits.at(-1)!)).toHaveLength(1);

    // About once a second: in `elapsedMs` at most one write per started second (the post was the
    // first), plus the final edit. Unthrottled, every one of the 48 words would be an edit.
    expect(edits.length).toBeLessThanOrEqual(Math.floor(elapsedMs / 1000) + 1);
    expect(edits.length).toBeLessThan(48 / 4);

    // "typing…" was shown before the first text.
    const typing = h.emu.typingIn(GENERAL);
    expect(typing.length).toBeGreaterThan(0);
    expect(typing[0]!.at).toBeLessThanOrEqual(post!.at);

    const exchange = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(exchange).toMatchObject({ status: "answered", replyText: ANSWER, replyMessageIds: [reply.id] });
  });

  it("a long answer continues in a new message as it streams, with its code block whole, split as the finished answer is", async () => {
    const prose = (n: number, word: string) =>
      Array.from({ length: n }, (_, i) => `${word} sentence number ${i + 1} explains one more detail.`).join(
        " ",
      );
    const code = [
      "```ts",
      ...Array.from(
        { length: 14 },
        (_, i) => `const step${i + 1} = await run("stage ${i + 1}", { retries: 3 });`,
      ),
      "```",
    ].join("\n");
    const answer = [prose(14, "First"), prose(14, "Second"), code, prose(10, "Finally")].join("\n\n");
    expect(answer.length).toBeGreaterThan(2600);
    expect(code.length).toBeGreaterThan(600);

    h.openai.setReply(() => answer);
    // About 450 words at 8 ms: the text passes 2,000 characters a few writes before its end.
    h.openai.setStreaming({ delayMs: 8 });
    const { message, replies } = await ask("Show me the pipeline");

    const expected = splitMessage(answer, discordText);
    expect(expected.length).toBeGreaterThan(1);
    expect(replies.map((r) => r.content)).toEqual(expected);
    expect(replies.every((r) => r.content.length <= 2000)).toBe(true);
    // The code block sits whole in one message; the parts read as the answer, nothing reopened.
    expect(replies.filter((r) => r.content.includes(code))).toHaveLength(1);
    expect(replies.map((r) => r.content).join("\n\n")).toBe(answer);
    // The first part answers the asker; the buttons are under the last part only.
    expect(replies[0]!.message_reference?.message_id).toBe(message.id);
    expect(replies.slice(0, -1).every((r) => (r.components ?? []).length === 0)).toBe(true);
    expect(replies.at(-1)!.components).toHaveLength(1);

    // The second message was posted while the answer was still arriving (no buttons yet: more was
    // to come), then grew by edits into its final part.
    const posts = writes().filter((w) => w.method === "POST");
    expect(posts).toHaveLength(expected.length);
    expect(components(posts[1]!)).toEqual([]);
    expect(expected[1]!.startsWith(content(posts[1]!).replace(/\n`{3,}$/, ""))).toBe(true);
    // While it streamed, no message ever showed an open code block or more than Discord takes.
    for (const write of writes()) {
      const fences = content(write)
        .split("\n")
        .filter((line) => line.trimStart().startsWith("```"));
      expect(fences.length % 2).toBe(0);
      expect(content(write).length).toBeLessThanOrEqual(2000);
    }
    const exchange = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(exchange.replyText).toBe(answer);
    expect(exchange.replyMessageIds).toEqual(replies.map((r) => r.id));
  });

  it("a long answer cut after it filled two messages ends as the apology alone: the extra message is deleted", async () => {
    const answer = Array.from(
      { length: 110 },
      (_, i) => `Line ${i + 1} of a long and careful explanation.`,
    ).join("\n\n");
    expect(answer.length).toBeGreaterThan(3400);
    h.openai.setReply(() => answer);
    // 8 words a line, one event each: the cut comes near the end, writes after the text outgrew the
    // first message.
    h.openai.setStreaming({ delayMs: 5, cutAfter: 760 });
    const { message, replies } = await ask("Explain it at length");

    const posts = writes().filter((w) => w.method === "POST");
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(replies.map((r) => r.content)).toEqual([replyNotices.apology]);
    // The first message became the apology; the continuations are gone from the conversation.
    const [first, ...continuations] = posts.map((p) => String((p.response as { id: string }).id));
    expect(replies[0]!.id).toBe(first);
    for (const id of continuations) {
      expect(
        h.emu.sent.some((r) => r.method === "DELETE" && r.path === `/channels/${GENERAL}/messages/${id}`),
      ).toBe(true);
      expect(h.emu.messagesIn(GENERAL).some((m) => m.id === id)).toBe(false);
    }
    expect(h.repliesTo(message.id).map((r) => r.content)).toEqual([replyNotices.apology]);
    const cut = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(cut).toMatchObject({ status: "failed", replyText: null, replyMessageIds: [replies[0]!.id] });
  });

  it("when Discord refuses to edit the streamed message, the finished answer is posted again whole and the stale one removed", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 30 });
    h.emu.failNext({
      method: "PATCH",
      path: new RegExp(`^/channels/${GENERAL}/messages/`),
      status: 403,
      code: 50013,
      times: 100,
    });
    const { message, replies } = await ask("Tell me about my dog");

    expect(replies.map((r) => r.content)).toEqual([ANSWER]);
    expect(replies[0]!.components).toHaveLength(1);
    const posts = writes().filter((w) => w.method === "POST");
    expect(posts).toHaveLength(2);
    const stale = String((posts[0]!.response as { id: string }).id);
    expect(h.emu.messagesIn(GENERAL).some((m) => m.id === stale)).toBe(false);
    expect(h.repliesTo(message.id).map((r) => r.content)).toEqual([ANSWER]);
    const exchange = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(exchange).toMatchObject({
      status: "answered",
      replyText: ANSWER,
      replyMessageIds: [replies[0]!.id],
    });
  });

  it("a stream cut mid-answer ends as the apology in place of the partial text, stored as failed and never learnt from", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 30, cutAfter: 20 });
    const { message, replies } = await ask("Tell me about my dog");

    // Part of the answer was on screen before the connection dropped.
    const shown = writes().map(content);
    expect(shown.some((t) => t.length > 0 && ANSWER.startsWith(t))).toBe(true);
    // Now the conversation holds the apology alone, with nothing to rate.
    expect(replies.map((r) => r.content)).toEqual([replyNotices.apology]);
    expect(replies[0]!.components ?? []).toEqual([]);
    expect(h.repliesTo(message.id).map((r) => r.content)).toEqual([replyNotices.apology]);
    // Not retried: what arrived may already have been read.
    expect(h.openai.requests.filter((r) => r.path.endsWith("/chat/completions"))).toHaveLength(1);

    const cut = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(cut.status).toBe("failed");
    expect(cut.replyText).toBeNull();
    expect(cut.error).toMatch(/^stream cut: /);

    // Never a training example...
    const sources = await h.db.exchange.findMany({
      where: { userId: cut.userId },
      select: { id: true, userText: true, replyText: true, status: true, rating: true, createdAt: true },
    });
    const dataset = buildDataset(sources, {
      provider: "openai",
      systemPrompt: "s",
      minReplyChars: 1,
      privacy: createPrivacyFilter(),
    });
    expect(dataset.usedIds).not.toContain(cut.id);
    expect(dataset.stats.drops.failed_reply).toBe(1);
    // ...nor memory or an example for the next answer: the partial text never reaches the model.
    h.openai.setStreaming(undefined);
    h.openai.setReply(() => "Pixel again.");
    await ask("And what else?");
    const last = h.openai.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!;
    expect(JSON.stringify(last.body)).not.toContain("She chases gulls");
  });
});
