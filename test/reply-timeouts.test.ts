// A model that hangs: each attempt and the whole reply have a time budget (REPLY_* settings), the
// person sees "Still working on it…" while they wait and then an apology that says it timed out,
// within the budget, and the exchange is stored as failed with a timeout reason. Through the real
// adapters (Discord and Slack) against the emulators; the OpenAI emulator never answers the chats.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STILL_WORKING as DISCORD_STILL_WORKING } from "../src/bots/discord/messages.ts";
import { STILL_WORKING as SLACK_STILL_WORKING } from "../src/bots/slack/messages.ts";
import { replyNotices as messages } from "../src/core/messages.ts";
import { ALICE, APP_ID, type DiscordApp, GENERAL, startDiscordApp } from "./support/discord-app.ts";
import {
  eventually,
  ALICE as SLACK_ALICE,
  type SlackAppHarness,
  startSlackApp,
} from "./support/slack-app.ts";

// Small budgets keep the test short; the defaults (30 s / 60 s / 15 s) behave the same, only slower.
const BUDGETS = {
  REPLY_ATTEMPT_TIMEOUT_SECONDS: "1",
  REPLY_TIMEOUT_SECONDS: "3.5",
  REPLY_STILL_WORKING_SECONDS: "0.4",
};
const TIMEOUT_TEXT = messages.timeout(4);
/** Attempts never start with less than this left (REPLY_ATTEMPT_TIMEOUT_SECONDS caps the 5 s minimum). */
const ATTEMPT_MS = 1_000;

/** Every chat request hangs while `hanging.on`; embeddings answer. */
function hangChats(emulator: { hangNext(n: number, o: { match: (r: { path: string }) => boolean }): void }) {
  const hanging = { on: true };
  emulator.hangNext(100, { match: (r) => hanging.on && r.path.endsWith("/chat/completions") });
  return hanging;
}

describe("a hanging model, on Discord", () => {
  let h: DiscordApp;
  beforeAll(async () => {
    h = await startDiscordApp({ env: BUDGETS });
  });
  afterAll(() => h?.stop());

  it("shows it is still working, then apologises that the model timed out, within the budget", async () => {
    const hanging = hangChats(h.openai);
    const sentAt = Date.now();
    const message = h.emu.sendMessage({
      authorId: ALICE,
      channelId: GENERAL,
      content: "Are you there?",
      mentionsBot: true,
    });
    const apology = await eventually(
      () => h.repliesTo(message.id).find((m) => m.content === TIMEOUT_TEXT),
      "the timeout apology",
      15_000,
    );
    hanging.on = false;
    const waitedMs = Date.now() - sentAt;
    // Within the whole budget (3.5 s) and some slack for the database and Discord; never the SDK's
    // old 60 s per attempt.
    expect(waitedMs).toBeLessThan(10_000);
    // The note was posted as a reply while waiting, and removed once the apology was there.
    const notes = [...h.emu.state.messages.values()].filter(
      (m) =>
        m.message.author.id === APP_ID &&
        m.message.channel_id === GENERAL &&
        m.message.content === DISCORD_STILL_WORKING &&
        m.message.message_reference?.message_id === message.id,
    );
    expect(notes).toHaveLength(1);
    expect(notes[0]!.deleted).toBe(true);
    expect(h.repliesTo(message.id).map((m) => m.content)).toEqual([apology.content]);
    // Each attempt was abandoned after its second (retried when time allowed: two attempts on an
    // idle machine), and no attempt was started that could not have its full second.
    const chats = h.openai.requests.filter((r) => r.path.endsWith("/chat/completions"));
    expect(chats.length).toBeGreaterThanOrEqual(1);
    expect(Date.parse(apology.timestamp) - chats.at(-1)!.at).toBeGreaterThanOrEqual(ATTEMPT_MS - 50);
    // The apology's id is recorded just after it is posted: wait for that write, not only the post.
    const exchange = await eventually(
      async () => {
        const row = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
        return row.replyMessageIds.length ? row : undefined;
      },
      "the apology recorded on the exchange",
      15_000,
    );
    expect(exchange).toMatchObject({ status: "failed", replyText: null });
    expect(exchange.error).toMatch(/^timeout: /);
    expect(exchange.replyMessageIds).toEqual([apology.id]);
  });
});

describe("a hanging model, on Slack", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({ transport: "http", env: BUDGETS });
  });
  afterAll(() => h?.stop());

  it("posts a still-working note in the thread, removes it, and apologises that the model timed out", async () => {
    const hanging = hangChats(h.openai);
    const sentAt = Date.now();
    const { ts } = await h.mention(SLACK_ALICE, "Are you there?");
    const apology = await h.emu.waitForCall(
      "chat.postMessage",
      (c) => c.args.thread_ts === ts && c.args.text === TIMEOUT_TEXT,
      15_000,
    );
    hanging.on = false;
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    const posts = h.postsInThread(ts).map((c) => c.args.text);
    expect(posts).toEqual([SLACK_STILL_WORKING, TIMEOUT_TEXT]);
    const note = h.postsInThread(ts)[0]!;
    const deleted = await eventually(
      () =>
        h.emu.callsTo("chat.delete").find((c) => c.args.ts === note.response.ts && c.response.ok === true),
      "the note to be deleted",
    );
    expect(deleted.args.channel).toBe(note.args.channel);
    const exchange = await eventually(
      () =>
        h.database.db.exchange.findFirst({
          where: { userMessageId: ts, replyMessageId: String(apology.response.ts) },
        }),
      "the apology to be recorded",
    );
    expect(exchange).toMatchObject({ status: "failed", replyText: null });
    expect(exchange.error).toMatch(/^timeout: /);
  });
});
