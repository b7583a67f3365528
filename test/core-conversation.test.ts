// The personalisation core against real SDKs talking to the provider emulators, on a real database.
// The same behaviour list runs for OpenAI and for Gemini.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MEMORY_HEADER } from "../src/core/prompt.ts";
import { countTokens } from "../src/core/tokens.ts";
import { buildCore, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { type LlmHarness, llmHarnesses } from "./support/llm-harness.ts";

const alice = { externalId: "discord:111", platform: "discord" as const };
const bob = { externalId: "discord:222", platform: "discord" as const };
let seq = 0;
const msgId = () => `m${++seq}`;

describe.each(llmHarnesses)("personalisation core (%s)", (_name, startHarness) => {
  let t: TestDatabase;
  let llm: LlmHarness;
  let core: ReturnType<typeof buildCore>;

  beforeEach(async () => {
    t = await createTestDatabase();
    llm = await startHarness();
    core = buildCore(t.db, llm, new TestClock());
  });
  afterEach(async () => {
    await llm.close();
    await t.close();
  });

  async function say(user: typeof alice, text: string, channelId = "general") {
    const messageId = msgId();
    const r = await core.conversation.respond({ user, messageId, channelId, text });
    if (r.kind === "reply" && r.exchangeId !== undefined)
      await core.conversation.recordReplyMessages(r.exchangeId, [`reply-${messageId}`]);
    return { ...r, replyMessageId: `reply-${messageId}` };
  }

  it("stores the exchange and answers with the base model, recording tokens and cost", async () => {
    const r = await say(alice, "Hello there, what is a monad?");
    expect(r.kind).toBe("reply");
    const row = await t.db.exchange.findFirstOrThrow({
      where: { userText: "Hello there, what is a monad?" },
    });
    expect(row.status).toBe("answered");
    expect(row.replyText).toContain("monad");
    expect(row.model).toBe(llm.chatModel);
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(Number(row.costUsd)).toBeGreaterThan(0);
    expect(row.embeddingModel).toBe(`${llm.embeddingModel}@${llm.embeddingDimensions}`);
    expect(row.replyMessageId).toBe(r.replyMessageId);
    // Both texts' tokens, for later prompts that remember it.
    expect(row.textTokens).toBe(countTokens(row.userText) + countTokens(row.replyText!));
    // The cost is booked once, against this exchange, by the statement that stored the answer.
    const ledger = await t.db.costLedgerEntry.findMany({ where: { exchangeId: row.id } });
    expect(ledger).toMatchObject([{ kind: "chat", status: "settled", userId: row.userId }]);
    // The ledger rounds up to the micro-dollar (budgets.ts usd), the exchange to the nearest.
    const booked = Number(ledger[0]!.amountUsd);
    expect(booked).toBeGreaterThanOrEqual(Number(row.costUsd));
    expect(booked - Number(row.costUsd)).toBeLessThan(0.0000011);
  });

  it("books nothing for a reply the provider failed", async () => {
    llm.failChat(3, 503);
    const r = await say(alice, "This one will fail, sorry");
    expect(r).toMatchObject({ kind: "reply", failed: true });
    const row = await t.db.exchange.findFirstOrThrow({ where: { userText: "This one will fail, sorry" } });
    expect(await t.db.costLedgerEntry.count({ where: { exchangeId: row.id } })).toBe(0);
  });

  it("puts the user's relevant old exchange into the memory block of the request", async () => {
    await say(alice, "My cat Miso loves salmon treats and sleeps on the radiator", "pets");
    for (const filler of [
      "How do I configure nginx as a reverse proxy?",
      "What is the capital of Australia?",
      "Explain TCP slow start briefly",
      "Recommend a book about distributed systems",
    ])
      await say(alice, filler, "random");
    await say(alice, "What treats does my cat Miso like?", "questions");
    const sent = llm.lastChatText();
    expect(sent).toContain(MEMORY_HEADER);
    expect(sent).toContain("My cat Miso loves salmon treats");
  });

  it("fits remembered exchanges into the prompt by the token count stored with them", async () => {
    await say(alice, "My cat Miso loves salmon treats and sleeps on the radiator", "pets");
    await say(alice, "My dog Rex loves long walks on the beach at dawn", "pets");
    await say(alice, "What does my dog Rex love?", "questions");
    expect(llm.lastChatText()).toContain("My cat Miso loves salmon treats");
    // As if Miso's exchange were longer than the prompt's budget: the least relevant memory, it is
    // left out, though its texts are short, and Rex's (counted as stored) stays.
    await t.db.exchange.updateMany({
      where: { userText: { startsWith: "My cat Miso" } },
      data: { textTokens: 50_000 },
    });
    await say(alice, "What does my dog Rex love?", "elsewhere");
    const sent = llm.lastChatText();
    expect(sent).toContain("My dog Rex loves long walks");
    expect(sent).not.toContain("My cat Miso loves salmon treats");
  });

  it("uses a reply rated 5 as a few-shot pair in the user's very next request", async () => {
    const first = await say(alice, "Write a haiku about deploy day", "poems");
    await say(alice, "Unrelated: how tall is Everest", "other");
    const rated = await core.ratings.react({
      platform: "discord",
      messageId: first.replyMessageId,
      reactorExternalId: alice.externalId,
      emoji: "👍",
      action: "add",
    });
    expect(rated).toMatchObject({ kind: "rated", rating: 5 });
    await say(alice, "Something completely different about the weather", "fresh");
    const body = JSON.parse(llm.lastChatText()) as Record<string, unknown>;
    const turns = ((body.messages ?? body.contents) as Array<Record<string, unknown>>).map((m) =>
      JSON.stringify(m),
    );
    const userTurn = turns.findIndex((m) => m.includes("Write a haiku about deploy day"));
    expect(userTurn).toBeGreaterThanOrEqual(0);
    // The example is a user turn followed by the assistant's (model's) turn with the rated reply.
    expect(turns[userTurn + 1]).toMatch(/"(assistant|model)"/);
    expect(turns[userTurn + 1]).toContain("haiku about deploy day");
  });

  it("never puts another user's text into a user's request", async () => {
    const users = Array.from({ length: 6 }, (_, i) => ({
      externalId: `discord:90${i}`,
      platform: "discord" as const,
    }));
    for (const [i, u] of users.entries()) {
      await say(u, `My secret project codename is Falcon-${i} and my favourite colour is colour-${i}`);
      await say(u, `Remind me about my project codename and favourite colour please ${i}`);
    }
    const requests = llm.chatRequests();
    expect(requests.length).toBe(users.length * 2);
    for (const [index, req] of requests.entries()) {
      const owner = Math.floor(index / 2);
      const text = JSON.stringify(req.body);
      for (let other = 0; other < users.length; other++) {
        if (other === owner) continue;
        expect(text).not.toContain(`Falcon-${other}`);
        expect(text).not.toContain(`colour-${other}`);
      }
    }
    // And the second request of each user did remember their own codename.
    expect(JSON.stringify(requests[1]!.body)).toContain("Falcon-0");
  });

  it("retries 429 and 500 and then answers", async () => {
    llm.failChat(1, 429, 5);
    llm.failChat(1, 500);
    const r = await say(alice, "Are you there?");
    expect(r).toMatchObject({ kind: "reply", failed: false });
    expect(llm.chatRequests()).toHaveLength(3);
  });

  it("apologises after the retries and keeps the user's message", async () => {
    llm.failChat(3, 503);
    const r = await say(alice, "Please summarise the meeting notes");
    expect(r).toMatchObject({ kind: "reply", failed: true });
    expect(r.kind === "reply" && r.text).toMatch(/try again/);
    expect(llm.chatRequests()).toHaveLength(3);
    const row = await t.db.exchange.findFirstOrThrow({
      where: { userText: "Please summarise the meeting notes" },
    });
    expect(row.status).toBe("failed");
    expect(row.replyText).toBeNull();
  });

  it("falls back to recent exchanges as memory when embeddings fail, and still replies", async () => {
    await say(alice, "I am planning a trip to Lisbon in May", "travel");
    llm.failEmbeddings(3, 500);
    const r = await say(alice, "Any tips?", "elsewhere");
    expect(r).toMatchObject({ kind: "reply", failed: false });
    const sent = llm.lastChatText();
    expect(sent).toContain(MEMORY_HEADER);
    expect(sent).toContain("trip to Lisbon");
    const row = await t.db.exchange.findFirstOrThrow({ where: { userText: "Any tips?" } });
    expect(row.embeddingModel).toBeNull();
  });

  it("answers a replayed message once, and rejects empty and oversized messages with a clear answer", async () => {
    const input = { user: alice, messageId: "same-id", channelId: "general", text: "Once only" };
    expect((await core.conversation.respond(input)).kind).toBe("reply");
    expect(await core.conversation.respond(input)).toEqual({ kind: "duplicate" });
    expect(llm.chatRequests()).toHaveLength(1);

    const empty = await core.conversation.respond({ ...input, messageId: "e", text: "   " });
    expect(empty).toMatchObject({ kind: "rejected", reason: "empty" });
    const long = await core.conversation.respond({ ...input, messageId: "l", text: "x".repeat(9000) });
    expect(long).toMatchObject({ kind: "rejected", reason: "too_long" });
    expect(long.kind === "rejected" && long.text).toContain("9,000");
    expect(await t.db.exchange.count()).toBe(1);
    expect(llm.chatRequests()).toHaveLength(1);
  });

  it("never logs message text", async () => {
    await say(alice, "my very private sentence about zebras");
    expect(core.log.lines.length).toBeGreaterThan(0);
    expect(core.log.lines.join("\n")).not.toContain("zebras");
  });
});

describe("ratings", () => {
  let t: TestDatabase;
  let llm: LlmHarness;
  let core: ReturnType<typeof buildCore>;
  let reply: string;

  beforeEach(async () => {
    t = await createTestDatabase();
    llm = await llmHarnesses[0][1]();
    core = buildCore(t.db, llm);
    const r = await core.conversation.respond({
      user: alice,
      messageId: "q1",
      channelId: "c",
      text: "Rate me",
    });
    if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
    await core.conversation.recordReplyMessages(r.exchangeId, ["r1", "r1-part2"]);
    reply = "r1";
  });
  afterEach(async () => {
    await llm.close();
    await t.close();
  });

  const react = (over: Partial<Parameters<typeof core.ratings.react>[0]>) =>
    core.ratings.react({
      platform: "discord",
      messageId: reply,
      reactorExternalId: alice.externalId,
      emoji: "👍",
      action: "add",
      ...over,
    });
  const state = async () => {
    const e = await t.db.exchange.findFirstOrThrow({ select: { rating: true } });
    const u = await t.db.user.findUniqueOrThrow({
      where: { externalId: alice.externalId },
      select: { ratedCount: true, highRatedCount: true, readyCount: true },
    });
    return { rating: e.rating, ...u };
  };

  it("ignores other people's reactions", async () => {
    expect(await react({ reactorExternalId: bob.externalId })).toEqual({
      kind: "ignored",
      reason: "not_owner",
    });
    expect((await state()).rating).toBeNull();
  });

  it("rates by a button clicked before the answer's message ids are stored", async () => {
    const r = await core.conversation.respond({ user: alice, messageId: "q2", channelId: "c", text: "Fast" });
    if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
    const exchangeId = r.exchangeId;
    // The click reaches the core first; the adapter stores the ids a moment later.
    const click = core.ratings.rateByButton({
      platform: "discord",
      messageId: "r2",
      raterExternalId: alice.externalId,
      rating: 5,
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await core.conversation.recordReplyMessages(exchangeId, ["r2"]);
    expect(await click).toMatchObject({ kind: "rated", rating: 5, exchangeId });
    expect((await t.db.exchange.findUniqueOrThrow({ where: { id: exchangeId } })).rating).toBe(5);
    // A button on a message that never becomes an answer is still not a reply, after the retries.
    expect(
      await core.ratings.rateByButton({
        platform: "discord",
        messageId: "never-stored",
        raterExternalId: alice.externalId,
        rating: 5,
      }),
    ).toEqual({ kind: "ignored", reason: "not_a_reply" });
  });

  it("ignores unknown emoji and reactions on messages that are not replies", async () => {
    expect(await react({ emoji: "🦄" })).toEqual({ kind: "ignored", reason: "unknown_emoji" });
    expect(await react({ messageId: "someone-elses-message" })).toEqual({
      kind: "ignored",
      reason: "not_a_reply",
    });
    expect(await state()).toEqual({ rating: null, ratedCount: 0, highRatedCount: 0, readyCount: 0 });
  });

  it("lets the latest reaction win, and removal restore the previous rating", async () => {
    await react({ emoji: "2️⃣" });
    core.clock.advance(1000);
    await react({ emoji: "👍", messageId: "r1-part2" });
    expect(await state()).toEqual({ rating: 5, ratedCount: 1, highRatedCount: 1, readyCount: 1 });
    await react({ emoji: "👍", action: "remove" });
    expect(await state()).toEqual({ rating: 2, ratedCount: 1, highRatedCount: 0, readyCount: 0 });
    await react({ emoji: "2️⃣", action: "remove" });
    expect(await state()).toEqual({ rating: null, ratedCount: 0, highRatedCount: 0, readyCount: 0 });
  });

  it("applies duplicate and replayed events once", async () => {
    expect((await react({ eventKey: "evt-1" })).kind).toBe("rated");
    expect(await react({ eventKey: "evt-1" })).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(await react({})).toEqual({ kind: "ignored", reason: "no_change" });
    expect(await react({ action: "remove", eventKey: "evt-2" })).toMatchObject({
      kind: "rated",
      rating: null,
    });
    // The add delivered again after the removal is a replay, not a new reaction.
    expect(await react({ eventKey: "evt-1" })).toEqual({ kind: "ignored", reason: "duplicate" });
    expect(await state()).toEqual({ rating: null, ratedCount: 0, highRatedCount: 0, readyCount: 0 });
  });

  it("understands Slack's short names and skin tones", async () => {
    expect(await react({ emoji: "+1::skin-tone-3" })).toMatchObject({ rating: 5 });
    core.clock.advance(1000);
    expect(await react({ emoji: "three" })).toMatchObject({ rating: 3 });
  });

  it("shows the status: counts, progress, model, memory and spend", async () => {
    await react({});
    const s = await core.status.status(alice);
    expect(s).toMatchObject({
      exchanges: 1,
      rated: 1,
      highlyRated: 1,
      readyForFineTune: 1,
      threshold: 100,
      progress: 0.01,
      memorySize: 1,
      activeModel: { model: "gpt-4.1-mini", fineTuned: false },
    });
    expect(s.spend.chatUsd).toBeGreaterThan(0);
    expect(core.status.formatStatus(s)).toContain("1/100 ready examples");
  });

  it("shows spend under a cent as such, not as $0.00", async () => {
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: alice.externalId } });
    await t.db.costLedgerEntry.create({
      data: { kind: "training", status: "settled", userId: user.id, amountUsd: "0.004", period: "2026-12" },
    });
    const s = await core.status.status(alice);
    expect(s.spend.trainingUsd).toBeCloseTo(0.004, 10);
    expect(core.status.formatStatus(s)).toMatch(/Spend on you: \$0\.0\d{3} answers, \$0\.0040 training/);
  });
});

describe("Gemini on Vertex AI", () => {
  it("answers and embeds through the Vertex endpoints with project and location", async () => {
    const { startGeminiEmulator } = await import("./emulators/google/gemini.ts");
    const { offlineVertexAuth } = await import("./emulators/google/vertex-auth.ts");
    const { createLlmProvider } = await import("../src/core/providers/from-config.ts");
    const { loadConfig } = await import("../src/config.ts");
    const emu = await startGeminiEmulator();
    try {
      const config = loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        LLM_PROVIDER: "gemini",
        GEMINI_USE_VERTEX: "true",
        GOOGLE_CLOUD_PROJECT: "my-project",
        GOOGLE_CLOUD_LOCATION: "europe-west4",
        GEMINI_BASE_URL: emu.url,
        FINETUNE_PROVIDER: "none",
      });
      const provider = createLlmProvider(config.llm, "gemini", { googleAuthOptions: offlineVertexAuth() });
      const chat = await provider.chat({
        model: config.llm.chatModel,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hello Vertex" },
        ],
      });
      expect(chat.text).toContain("Hello Vertex");
      const [vector] = await provider.embed({
        model: config.llm.embeddingModel,
        dimensions: 128,
        inputs: ["hi"],
      });
      expect(vector).toHaveLength(128);
      const paths = emu.requests.map((r) => r.path);
      expect(
        paths.some(
          (p) => p.includes("/projects/my-project/locations/europe-west4/") && p.endsWith(":generateContent"),
        ),
      ).toBe(true);
      expect(emu.requests[0]!.headers.authorization).toBe("Bearer emulator-access-token");
    } finally {
      await emu.close();
    }
  });
});
