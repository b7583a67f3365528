// Streamed answers on Slack, end to end: the real Bolt app against the Slack emulator (which
// records every Web API call and keeps each message as the calls left it), the OpenAI emulator
// streaming at a known pace or cutting the stream off, and the real database.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RATE_ACTION } from "../src/bots/slack/rating-buttons.ts";
import { rateButtonId } from "../src/core/button-ids.ts";
import { replyNotices } from "../src/core/messages.ts";
import type { RecordedCall } from "./emulators/slack/index.ts";
import {
  ALICE,
  CHANNEL,
  eventually,
  SLACK_IDS,
  type SlackAppHarness,
  startSlackApp,
} from "./support/slack-app.ts";

/** 48 words: the emulator streams one word per event. */
const ANSWER =
  "Pixel is a border collie who loves the beach. She chases gulls at dawn, naps in the dunes at noon, " +
  "and herds the neighbour's ducks whenever the gate is left open. In winter she prefers the fireplace, " +
  "a chewed blanket and long walks along the frozen river with you.";

const ok = (c: RecordedCall) => c.response.ok === true;
const args = (c: RecordedCall) => c.args as { markdown_text?: string; text?: string; blocks?: unknown[] };
/** The feedback buttons' ratings in a message's blocks. */
const buttonValues = (blocks: unknown[] | undefined) =>
  (blocks ?? [])
    .filter((b) => (b as { type?: string }).type === "context_actions")
    .flatMap((b) => (b as { elements: Array<Record<string, { value?: string }>> }).elements)
    .flatMap((e) => [e.positive_button?.value, e.negative_button?.value]);

describe("streamed answers on Slack", () => {
  let h: SlackAppHarness;
  beforeEach(async () => {
    h = await startSlackApp({ transport: "http", env: { STREAM_REPLIES: "true" } });
  });
  afterEach(() => h.stop());

  /** The exchange of the message `ts` once its reply is recorded. */
  const answered = (ts: string) =>
    eventually(
      () =>
        h.database.db.exchange.findFirst({
          where: { userMessageId: ts, replyMessageIds: { isEmpty: false } },
        }),
      "the reply to be recorded",
      60_000,
    );

  it("streams into the thread: startStream, appends at most about once a second, stopStream with the rest and the rating buttons", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 60 });
    const started = Date.now();
    const { ts } = await h.mention(ALICE, "Tell me about my dog");
    const stop = await h.emu.waitForCall("chat.stopStream", ok, 60_000);
    const elapsedMs = Date.now() - started;

    const [start] = h.emu.callsTo("chat.startStream");
    expect(start!.response.ok).toBe(true);
    // In the mention's thread, for the person who asked (Slack requires both outside DMs).
    expect(start!.args).toMatchObject({
      channel: CHANNEL,
      thread_ts: ts,
      recipient_team_id: SLACK_IDS.teamId,
      recipient_user_id: ALICE,
    });
    const streamTs = String(start!.response.ts);
    const appends = h.emu.callsTo("chat.appendStream");
    expect(appends.length).toBeGreaterThanOrEqual(1);
    expect(appends.every((c) => ok(c) && c.args.ts === streamTs)).toBe(true);

    // The pieces add up to the answer, the text on screen growing with each call.
    const pieces = [start!, ...appends, stop].map((c) => args(c).markdown_text ?? "");
    expect(pieces.join("")).toBe(ANSWER);
    expect(pieces.slice(0, -1).every((p) => p.length > 0)).toBe(true);
    expect(pieces[0]!.length).toBeLessThan(ANSWER.length / 2);
    // At most one write per started second of the stream (startStream was the first).
    expect(appends.length).toBeLessThanOrEqual(Math.floor(elapsedMs / 1000));
    expect(appends.length).toBeLessThan(48 / 4);

    // The buttons come with the stop, under the streamed text.
    expect(buttonValues(args(stop).blocks)).toEqual([rateButtonId(5), rateButtonId(1)]);
    const message = h.emu.messages(CHANNEL).find((m) => m.ts === streamTs)!;
    expect(message.text).toBe(ANSWER);
    expect(message.thread_ts).toBe(ts);
    expect(message.stream?.open).toBe(false);
    expect(buttonValues(message.blocks)).toEqual([rateButtonId(5), rateButtonId(1)]);
    // Nothing else was posted for it.
    expect(h.postsInThread(ts)).toEqual([]);

    const exchange = await answered(ts);
    expect(exchange).toMatchObject({ status: "answered", replyText: ANSWER, replyMessageIds: [streamTs] });

    // The streamed message's buttons rate it like any answer.
    await h.click(ALICE, {
      actionId: RATE_ACTION,
      type: "feedback_buttons",
      value: rateButtonId(5),
      channelId: CHANNEL,
      messageTs: streamTs,
    });
    await eventually(
      () => h.database.db.exchange.findFirst({ where: { id: exchange.id, rating: 5 } }),
      "the rating from the streamed message's button",
    );
  });

  it("a streamed answer pings nobody: Slack's mention sequences from the model are defused", async () => {
    const answer = "Tell <!channel> and <@U0BOB> in <#C0GENERAL> that the build is green. Also <!here>.";
    h.openai.setReply(() => answer);
    h.openai.setStreaming({ delayMs: 20 });
    const { ts } = await h.mention(ALICE, "Announce it");
    await h.emu.waitForCall("chat.stopStream", ok, 60_000);
    const exchange = await answered(ts);

    const streamed = h.emu
      .callsTo("chat.startStream")
      .concat(h.emu.callsTo("chat.appendStream"), h.emu.callsTo("chat.stopStream"))
      .map((c) => args(c).markdown_text ?? "")
      .join("");
    for (const sequence of ["<!channel>", "<@U0BOB>", "<#C0GENERAL>", "<!here>"]) {
      expect(streamed).not.toContain(sequence);
      expect(streamed).toContain(sequence.replace("<", "<\u200b"));
    }
    const message = h.emu.messages(CHANNEL).find((m) => m.ts === exchange.replyMessageIds[0])!;
    expect(message.text.replaceAll("\u200b", "")).toBe(answer);
    // What is stored (and learnt from) is the model's text.
    expect(exchange.replyText).toBe(answer);
  });

  it("where chat.startStream is refused, posts the first text and edits it with chat.update about once a second", async () => {
    h.emu.failNext("chat.startStream", "feature_not_enabled");
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 60 });
    const started = Date.now();
    const { ts } = await h.mention(ALICE, "Tell me about my dog");
    const exchange = await answered(ts);
    const elapsedMs = Date.now() - started;

    expect(h.emu.callsTo("chat.startStream").map((c) => c.response.error)).toEqual(["feature_not_enabled"]);
    expect(h.emu.callsTo("chat.appendStream")).toEqual([]);
    const [post, ...others] = h.postsInThread(ts);
    expect(others).toEqual([]);
    const postTs = String(post!.response.ts);
    expect(exchange.replyMessageIds).toEqual([postTs]);
    // The first text, without buttons, then growing edits of that message.
    expect(ANSWER.startsWith(args(post!).text ?? "")).toBe(true);
    expect((args(post!).text ?? "").length).toBeLessThan(ANSWER.length / 2);
    expect(args(post!).blocks).toBeUndefined();
    const updates = h.emu.callsTo("chat.update").filter((c) => c.args.ts === postTs);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every(ok)).toBe(true);
    const texts = [post!, ...updates].map((c) => args(c).text ?? "");
    for (const [i, text] of texts.entries()) {
      expect(ANSWER.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThanOrEqual(texts[i - 1]!.length);
    }
    expect(updates.length).toBeLessThanOrEqual(Math.floor(elapsedMs / 1000) + 1);
    // The last update carries the whole answer and the buttons.
    const last = updates.at(-1)!;
    expect(args(last).text).toBe(ANSWER);
    expect(buttonValues(args(last).blocks)).toEqual([rateButtonId(5), rateButtonId(1)]);
    const message = h.emu.messages(CHANNEL).find((m) => m.ts === postTs)!;
    expect(message.text).toBe(ANSWER);
    expect(exchange).toMatchObject({ status: "answered", replyText: ANSWER });
  });

  it("at the top level of a DM (no thread to stream into) it posts and edits", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 40 });
    const { ts, channel } = await h.dm(ALICE, "Tell me about my dog");
    const exchange = await answered(ts);

    expect(h.emu.callsTo("chat.startStream")).toEqual([]);
    const posts = h.emu.callsTo("chat.postMessage").filter((c) => c.args.channel === channel);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.args.thread_ts).toBeUndefined();
    const postTs = String(posts[0]!.response.ts);
    expect(h.emu.callsTo("chat.update").filter((c) => c.args.ts === postTs).length).toBeGreaterThanOrEqual(1);
    expect(h.emu.messages(channel).find((m) => m.ts === postTs)!.text).toBe(ANSWER);
    expect(exchange.replyMessageIds).toEqual([postTs]);
  });

  it("a stream cut mid-answer is stopped and replaced by the apology; the exchange is stored as failed", async () => {
    h.openai.setReply(() => ANSWER);
    h.openai.setStreaming({ delayMs: 30, cutAfter: 20 });
    const { ts } = await h.mention(ALICE, "Tell me about my dog");
    const exchange = await answered(ts);

    const [start] = h.emu.callsTo("chat.startStream");
    const streamTs = String(start!.response.ts);
    // Part of the answer streamed before the connection dropped...
    expect(ANSWER.startsWith(args(start!).markdown_text ?? "")).toBe(true);
    // ...then the stream was closed with nothing added, and the message now reads the apology.
    const [stop] = h.emu.callsTo("chat.stopStream");
    expect(stop!.response.ok).toBe(true);
    expect(args(stop!).markdown_text).toBeUndefined();
    expect(args(stop!).blocks).toBeUndefined();
    const message = h.emu.messages(CHANNEL).find((m) => m.ts === streamTs)!;
    expect(message.text).toBe(replyNotices.apology);
    expect(buttonValues(message.blocks)).toEqual([]);
    expect(h.postsInThread(ts)).toEqual([]);

    expect(exchange).toMatchObject({ status: "failed", replyText: null, replyMessageIds: [streamTs] });
    expect(exchange.error).toMatch(/^stream cut: /);
  });
});
