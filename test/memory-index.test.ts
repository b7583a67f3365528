// The in-process memory index (src/core/memory-index.ts): the same neighbours as the exact search in
// the database, at a width searched in full and at one searched through sign bits, and kept current
// when another process (a replica on the same database) answers, rates or deletes.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rng as seeded } from "../bench/random.ts";
import { embeddingSpace, nearestExchanges, storeAnswer } from "../src/core/exchange-embeddings.ts";
import { createMemoryIndex, type MemoryMatch } from "../src/core/memory-index.ts";
import { runRetention } from "../src/core/retention.ts";
import { buildCore, memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { type LlmHarness, startOpenAIHarness } from "./support/llm-harness.ts";

const alice = { externalId: "discord:111", platform: "discord" as const };
let seq = 0;

describe("memory index", () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.close();
  });

  async function addExchange(
    userId: string,
    i: number,
    vector: number[],
    space: string,
    rating: number | null,
  ) {
    const ex = await t.db.exchange.create({
      data: {
        userId,
        platform: "discord",
        channelId: "c",
        userMessageId: `m${i}`,
        userText: `q${i}`,
        rating,
      },
    });
    await storeAnswer(t.db, {
      exchangeId: ex.id,
      userId,
      replyText: `a${i}`,
      model: "m",
      promptTokens: 1,
      completionTokens: 1,
      costUsd: "0",
      answeredAt: new Date(),
      embedding: { vector, space },
    });
  }

  /** The user's copy in a new index that compares 256 Hamming candidates in full at this width. */
  async function loadedSearcher(userId: string, space: string, width: number) {
    const index = createMemoryIndex({
      db: t.db,
      log: memoryLogger(),
      maxBytes: 64 * 1024 * 1024,
      rerankComponents: 256 * width,
    });
    const stamp = await t.db.user.findUniqueOrThrow({ where: { id: userId } });
    const at = { version: stamp.memoryVersion, epoch: stamp.memoryEpoch };
    expect(await index.lookup(userId, space, width, at)).toBeUndefined(); // loading starts
    await index.settled();
    const searcher = await index.lookup(userId, space, width, at);
    if (!searcher) throw new Error("the index did not load the user");
    return searcher;
  }

  // 48: compared in full. 256 and 600: 400 rows are more than the 256 the test lets a search compare
  // in full, so candidates come from sign bits (the bench's recall@5 covers the default counts).
  for (const width of [48, 256, 600]) {
    it(`finds the same neighbours as the database's exact search (width ${width})`, async () => {
      const random = seeded(width);
      const user = await t.db.user.create({ data: { externalId: "discord:1", platform: "discord" } });
      const space = embeddingSpace("test-embed", width);
      // Clustered vectors, like embeddings of texts on a few topics.
      const centres = Array.from({ length: 6 }, () => Array.from({ length: width }, () => random() - 0.5));
      const vector = () => {
        const c = centres[Math.floor(random() * centres.length)]!;
        return c.map((x) => x + (random() - 0.5) * 0.8);
      };
      for (let i = 0; i < 400; i++)
        await addExchange(user.id, i, vector(), space, i % 5 === 0 ? 5 : i % 7 === 0 ? 2 : null);
      const searcher = await loadedSearcher(user.id, space, width);
      expect(searcher.rows).toBe(400);
      for (let q = 0; q < 25; q++) {
        const query = vector();
        // A reply's two searches in one call, as conversation.ts makes them, and each alone.
        const both = searcher.search(query, [{ limit: 5 }, { limit: 5, minRating: 4 }]);
        for (const [r, minRating] of [undefined, 4].entries()) {
          const exact = await nearestExchanges(t.db, {
            userId: user.id,
            space,
            vector: query,
            limit: 5,
            ...(minRating ? { minRating } : {}),
          });
          for (const got of [searcher.nearest(query, 5, minRating), both[r]!]) {
            expect(got.map((g) => g.id)).toEqual(exact.map((e) => e.id));
            for (const [i, g] of got.entries()) expect(g.similarity).toBeCloseTo(exact[i]!.similarity, 5);
          }
        }
      }
    });
  }

  // One search walks the rows once for all its requests, each with its own cut-off by Hamming
  // distance. Here the sign bits mislead on purpose: 250 rows match the query's signs exactly but lie
  // far from it (all rated), 20 differ in one sign and lie close (half rated). Each request compares
  // 256 rows in full: its 250 at distance 0 and the first 6 of its own rows at distance 1.
  it("gives each request of a shared search its own cut-off (rows tied at the cut-off distance)", async () => {
    const width = 256;
    const user = await t.db.user.create({ data: { externalId: "discord:2", platform: "discord" } });
    const space = embeddingSpace("test-embed", width);
    const far = (j: number) => Array.from({ length: width }, (_, k) => (k === j % width ? 10 : 0.001));
    const close = (j: number) =>
      Array.from({ length: width }, (_, k) => (k === width - 1 ? -0.001 : 1 + j / 100));
    for (let j = 0; j < 250; j++) await addExchange(user.id, j, far(j), space, 5);
    for (let j = 0; j < 20; j++) await addExchange(user.id, 250 + j, close(j), space, j % 2 ? 5 : null);
    const searcher = await loadedSearcher(user.id, space, width);
    const query = Array.from({ length: width }, () => 1);
    const closeRows = (found: MemoryMatch[]) => found.filter((m) => m.similarity > 0.9).length;
    const [memory = [], fewShot = [], none = []] = searcher.search(query, [
      { limit: 30 },
      { limit: 30, minRating: 5 },
      { limit: 0 },
    ]);
    expect(closeRows(memory)).toBe(6);
    expect(closeRows(fewShot)).toBe(6);
    expect(none).toEqual([]);
    expect(closeRows(searcher.nearest(query, 30, 5))).toBe(6);
  });

  describe("two bot processes on one database", () => {
    let llm: LlmHarness;
    beforeEach(async () => {
      llm = await startOpenAIHarness();
    });
    afterEach(async () => {
      await llm.close();
    });

    it("a copy catches up with what the other process stored and rated, and drops what retention deleted", async () => {
      const clock = new TestClock();
      const a = buildCore(t.db, llm, clock);
      const b = buildCore(t.db, llm, clock);
      const say = async (core: typeof a, text: string, channelId: string) => {
        const messageId = `m${++seq}`;
        const r = await core.conversation.respond({ user: alice, messageId, channelId, text });
        if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
        await core.conversation.recordReplyMessages(r.exchangeId, [`reply-${messageId}`]);
        return `reply-${messageId}`;
      };
      await say(a, "My cat Miso loves salmon treats and sleeps on the radiator", "pets");
      for (const filler of ["How do I configure nginx?", "What is the capital of Australia?"])
        await say(a, filler, "random");
      await a.memoryIndex.settled();
      await say(a, "Explain TCP slow start briefly", "random");
      expect(a.memoryIndex.stats().users).toBe(1);

      // Process b stores an exchange: a's next reply finds it in its own copy.
      clock.advance(1000);
      const rexReply = await say(b, "My dog Rex is afraid of thunderstorms and hides under the bed", "pets");
      await say(a, "Why does my dog Rex hide under the bed?", "questions");
      expect(llm.lastChatText()).toContain("My dog Rex is afraid of thunderstorms");
      expect(a.memoryIndex.stats().users).toBe(1);

      // Process b records a rating: a's next reply uses it as a few-shot example.
      await b.ratings.react({
        platform: "discord",
        messageId: rexReply,
        reactorExternalId: alice.externalId,
        emoji: "👍",
        action: "add",
      });
      await say(a, "Something about the weather today", "fresh");
      const turns = (JSON.parse(llm.lastChatText()) as { messages: Array<{ role: string; content: string }> })
        .messages;
      expect(turns.some((m) => m.role === "user" && m.content.includes("My dog Rex is afraid"))).toBe(true);

      // Retention deletes the old, unrated exchanges: a's copy is dropped and Miso is not remembered.
      clock.advance(100 * 86_400_000);
      const removed = await runRetention({ db: t.db, clock, log: memoryLogger(), minRating: 4 });
      expect(removed.deletedExchanges).toBeGreaterThan(0);
      await say(a, "What treats does my cat Miso like?", "questions2");
      expect(llm.lastChatText()).not.toContain("salmon treats");
      await a.memoryIndex.settled();
      await say(a, "Tell me again what treats my cat Miso likes", "questions3");
      expect(llm.lastChatText()).not.toContain("salmon treats");
      expect(llm.lastChatText()).toContain("My dog Rex is afraid"); // rated 5: kept by retention
    });
  });
});
