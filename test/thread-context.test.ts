// Thread context end to end: in a Slack thread, a Discord thread and a Discord reply chain, the
// model sees the visible conversation (fetched from the platform at reply time, by the real Bolt
// and discord.js clients against the emulators), while other people's stored memory still never
// enters the prompt, and nothing of the thread is stored or embedded. Assertions read what reached
// the OpenAI emulator, the platform emulators and the database.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RecordedRequest } from "./emulators/http-recorder.ts";
import type { OpenAIEmulator } from "./emulators/openai/index.ts";
import {
  ALICE as D_ALICE,
  BOB as D_BOB,
  type DiscordApp,
  GENERAL,
  GUILD_ID,
  startDiscordApp,
} from "./support/discord-app.ts";
import { ALICE, BOB, CHANNEL, eventually, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

const BOB_SECRET = "Bob's private note: the launch code is TANGERINE-7731";

/** The chat request whose last user message is `text` (the one answering it). */
function promptFor(openai: OpenAIEmulator, text: string): string {
  const chat = openai.requests.filter((r) => r.path.endsWith("/chat/completions"));
  const found = chat.findLast((r: RecordedRequest) => {
    const messages = (r.body as { messages: Array<{ role: string; content: string }> }).messages;
    return messages.at(-1)?.content === text;
  });
  if (!found) throw new Error(`no chat request answered "${text}"`);
  return JSON.stringify((found.body as { messages: unknown }).messages);
}

/** Every text that was sent to be embedded. */
function embedded(openai: OpenAIEmulator): string {
  return JSON.stringify(
    openai.requests
      .filter((r) => r.path.endsWith("/embeddings"))
      .map((r) => (r.body as { input: unknown }).input),
  );
}

describe("thread context on Slack", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({ transport: "http" });
  });
  afterAll(() => h?.stop());

  /** A thread: Alice's mention answered by the bot, then Bob's plain message in it. */
  async function thread(opening: string, bobSays: string) {
    const root = await h.mention(ALICE, opening);
    await h.replyTo(root.ts);
    // Bob writes in the thread without mentioning the bot: not answered, but visible to everyone.
    await h.send(h.emu.events.message({ userId: BOB, channelId: CHANNEL, text: bobSays, threadTs: root.ts }));
    return root;
  }

  async function askInThread(rootTs: string, text: string) {
    const { ts } = await h.mention(ALICE, text, { threadTs: rootTs });
    await eventually(
      () =>
        h.database.db.exchange.findFirst({
          where: { userMessageId: ts, replyMessageId: { not: null } },
        }),
      "the reply recorded",
    );
    return ts;
  }

  it("shows the thread's visible messages to the model, and nothing of other people's memory", async () => {
    // Bob's own memory, from a real mention of his elsewhere.
    const seeded = await h.mention(BOB, BOB_SECRET, { channelId: "C0ELSEWHERE" });
    await h.replyTo(seeded.ts);

    const root = await thread(
      "Let's plan the team offsite for March",
      "I vote for Lisbon, flights are cheap",
    );
    const question = "summarise this thread please";
    const ts = await askInThread(root.ts, question);

    const prompt = promptFor(h.openai, question);
    expect(prompt).toContain("I vote for Lisbon, flights are cheap");
    expect(prompt).toContain("Let's plan the team offsite for March");
    // The bot's own earlier answer is marked as its own; the asker as the asker.
    expect(prompt).toContain("- You: echo(");
    expect(prompt).toContain("(asking you now): Let's plan the team offsite for March");
    expect(prompt).toMatch(/Participant 1: I vote for Lisbon/);
    // The message being answered is the last user turn, not also a line of the thread.
    expect(prompt.split(question).length - 1).toBe(1);
    expect(prompt).not.toContain("TANGERINE-7731");

    // Fetched at reply time, up to the message answered.
    const call = h.emu.callsTo("conversations.replies").at(-1);
    expect(call?.args).toMatchObject({ channel: CHANNEL, ts: root.ts, latest: ts });
    expect(call?.response.ok).toBe(true);

    // Stored: only Alice's own two messages, as hers; nothing of Bob's thread message anywhere.
    const alice = await h.database.db.exchange.findMany({
      where: { user: { externalId: h.externalId(ALICE) } },
      orderBy: { createdAt: "asc" },
      select: { userText: true, threadId: true },
    });
    expect(alice).toEqual([
      { userText: "Let's plan the team offsite for March", threadId: root.ts },
      { userText: question, threadId: root.ts },
    ]);
    const bob = await h.database.db.exchange.findMany({
      where: { user: { externalId: h.externalId(BOB) } },
      select: { userText: true },
    });
    expect(bob).toEqual([{ userText: BOB_SECRET }]);
    const anywhere = await h.database.db.exchange.count({
      where: { OR: [{ userText: { contains: "Lisbon" } }, { replyText: { contains: "Lisbon" } }] },
    });
    // The echoing emulator may quote Alice's question in a reply, never Bob's thread message.
    expect(anywhere).toBe(0);
    expect(embedded(h.openai)).not.toContain("Lisbon");
    // Logs carry no text of the thread.
    expect(h.log.lines.join("\n")).not.toContain("Lisbon");
  });

  it("answers without the thread when Slack refuses it (missing scope), and says so in the log", async () => {
    const root = await thread("Where do we keep the release notes?", "In the wiki, under Releases");
    h.emu.failNext("conversations.replies", "missing_scope");
    const question = "and who maintains them?";
    await askInThread(root.ts, question);
    const prompt = promptFor(h.openai, question);
    expect(prompt).not.toContain("under Releases");
    // The asker's own recent turn in this thread is still there, from the database.
    expect(prompt).toContain("Where do we keep the release notes?");
    const warning = h.log.lines.find((l) => l.includes("could not be fetched"));
    expect(warning).toContain("missing_scope");
    expect(h.log.lines.join("\n")).not.toContain("under Releases");
  });

  it("asks Slack nothing for a mention outside a thread", async () => {
    const before = h.emu.callsTo("conversations.replies").length;
    const { ts } = await h.mention(ALICE, "a fresh question, not in a thread");
    await h.replyTo(ts);
    expect(h.emu.callsTo("conversations.replies")).toHaveLength(before);
  });
});

describe("thread context on Slack, over its token budget, in pages of 5", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    // Slack may hand out fewer messages per page than asked (15 for some apps): the bot pages on.
    h = await startSlackApp({
      transport: "http",
      env: { THREAD_CONTEXT_TOKENS: "120" },
      emulator: { repliesPageMax: 5 },
    });
  });
  afterAll(() => h?.stop());

  it("keeps the newest messages and drops the oldest", async () => {
    const root = await h.mention(ALICE, "kick-off");
    await h.replyTo(root.ts);
    for (let i = 1; i <= 12; i++) {
      await h.send(
        h.emu.events.message({
          userId: BOB,
          channelId: CHANNEL,
          text: `update number ${i}: the build is still running and nobody knows why yet`,
          threadTs: root.ts,
        }),
      );
    }
    const question = "what is the latest update?";
    const { ts } = await h.mention(ALICE, question, { threadTs: root.ts });
    await eventually(
      () => h.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: { not: null } } }),
      "the reply recorded",
    );
    const prompt = promptFor(h.openai, question);
    expect(prompt).toContain("update number 12:");
    expect(prompt).toContain("update number 11:");
    expect(prompt).not.toContain("update number 1:");
    expect(prompt).not.toContain("kick-off");
    // 14 messages before the question, 5 a page: three pages, each after the last one's cursor.
    const pages = h.emu.callsTo("conversations.replies");
    expect(pages).toHaveLength(3);
    expect(pages[0]?.args.cursor).toBeUndefined();
    const first = pages[0]?.response.response_metadata as { next_cursor?: string } | undefined;
    expect(pages[1]?.args.cursor).toBe(first?.next_cursor);
    expect(first?.next_cursor).toBeTruthy();
    expect(pages[2]?.response.has_more).toBe(false);
  });
});

describe("thread context off (THREAD_CONTEXT_TOKENS=0)", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({ transport: "http", env: { THREAD_CONTEXT_TOKENS: "0" } });
  });
  afterAll(() => h?.stop());

  it("never fetches the thread", async () => {
    const root = await h.mention(ALICE, "start");
    await h.replyTo(root.ts);
    await h.send(
      h.emu.events.message({ userId: BOB, channelId: CHANNEL, text: "Bob in the thread", threadTs: root.ts }),
    );
    const { ts } = await h.mention(ALICE, "and now?", { threadTs: root.ts });
    await eventually(
      () => h.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: { not: null } } }),
      "the reply recorded",
    );
    expect(h.emu.callsTo("conversations.replies")).toHaveLength(0);
    expect(promptFor(h.openai, "and now?")).not.toContain("Bob in the thread");
  });
});

describe("thread context on Discord", () => {
  const THREAD = "2019";
  let h: DiscordApp;
  beforeAll(async () => {
    h = await startDiscordApp();
    h.emu.addChannel(GUILD_ID, { id: THREAD, name: "offsite", type: 11, parentId: GENERAL });
  });
  afterAll(() => h?.stop());

  /** A message nobody addresses to the bot; resolves once the bot has seen it (the emulator stores it at once). */
  const say = (authorId: string, content: string, options: { channelId: string; replyTo?: string }) =>
    h.emu.sendMessage({ authorId, content, channelId: options.channelId, replyTo: options.replyTo });

  const chatRequests = () => h.openai.requests.filter((r) => r.path.endsWith("/chat/completions"));

  it("shows a thread's messages to the model, by name, and no one else's memory", async () => {
    await h.mention(D_BOB, BOB_SECRET, { channelId: GENERAL });
    await h.mention(D_ALICE, "Shall we meet in Porto or in Lisbon?", { channelId: THREAD });
    say(D_BOB, "Porto, the venue there has a big garden", { channelId: THREAD });
    const asked = await h.mention(D_ALICE, "summarise this thread", { channelId: THREAD });

    const prompt = promptFor(h.openai, "summarise this thread");
    expect(prompt).toContain("- bob: Porto, the venue there has a big garden");
    expect(prompt).toContain("Alice (asking you now): Shall we meet in Porto or in Lisbon?");
    expect(prompt).toContain("- You: echo(");
    expect(prompt).not.toContain("TANGERINE-7731");
    const fetched = h.emu.sent.find(
      (r) =>
        r.method === "GET" &&
        r.path === `/channels/${THREAD}/messages` &&
        r.query.before === asked.message.id,
    );
    expect(fetched?.status).toBe(200);

    const bobRows = await h.db.exchange.findMany({
      where: { user: { externalId: `discord:${D_BOB}` } },
      select: { userText: true },
    });
    expect(bobRows).toEqual([{ userText: BOB_SECRET }]);
    expect(await h.db.exchange.count({ where: { userText: { contains: "garden" } } })).toBe(0);
    expect(embedded(h.openai)).not.toContain("garden");
  });

  it("starts a thread made from a message with that message, from the parent channel", async () => {
    const starter = say(D_BOB, "Proposal: we move the standup to 10am", { channelId: GENERAL });
    // Discord gives a thread started from a message the message's id.
    h.emu.addChannel(GUILD_ID, { id: starter.id, name: "standup", type: 11, parentId: GENERAL });
    await h.mention(D_ALICE, "what is being proposed here?", { channelId: starter.id });
    const prompt = promptFor(h.openai, "what is being proposed here?");
    // Only the parent channel holds it (discord.js had it cached from the gateway, so no GET here).
    expect(prompt).toContain("- bob: Proposal: we move the standup to 10am");
  });

  it("follows a reply chain in a channel, oldest first", async () => {
    const first = say(D_ALICE, "Which database should the new service use?", { channelId: GENERAL });
    const second = say(D_BOB, "Postgres, we already run it", { channelId: GENERAL, replyTo: first.id });
    await h.mention(D_ALICE, "is that a good idea?", { channelId: GENERAL, replyTo: second.id });
    const prompt = promptFor(h.openai, "is that a good idea?");
    const a = prompt.indexOf("Alice (asking you now): Which database should the new service use?");
    const b = prompt.indexOf("- bob: Postgres, we already run it");
    expect(a).toBeGreaterThan(-1);
    expect(b).toBeGreaterThan(a);
  });

  it("answers without the thread when Discord refuses the history", async () => {
    await h.mention(D_ALICE, "first question in the thread", { channelId: THREAD });
    say(D_BOB, "a message only the thread shows", { channelId: THREAD });
    h.emu.failNext({
      method: "GET",
      path: `/channels/${THREAD}/messages`,
      status: 403,
      code: 50001,
      message: "Missing Access",
    });
    const before = chatRequests().length;
    const { replies } = await h.mention(D_ALICE, "what did Bob say?", { channelId: THREAD });
    expect(replies[0]?.content).toContain("echo(");
    expect(chatRequests().length).toBeGreaterThan(before);
    expect(promptFor(h.openai, "what did Bob say?")).not.toContain("a message only the thread shows");
    await vi.waitFor(() => expect(h.log.lines.some((l) => l.includes("could not be fetched"))).toBe(true));
  });
});
