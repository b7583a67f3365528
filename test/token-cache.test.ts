// Token counts remembered across replies (src/core/token-cache.ts): always the counter's own count,
// for a text seen before, for one that only shares a prefix with it, and after the cache has
// turned over; and the prompt built twice from the same parts counts the same (prompt-tokens.test.ts
// checks that count against the tokenizer's).
import { describe, expect, it } from "vitest";
import { buildPrompt } from "../src/core/prompt.ts";
import { cachedTokenCount } from "../src/core/token-cache.ts";
import { countTokens } from "../src/core/tokens.ts";

const long = (n: number) =>
  `Question ${n}: how should the deploy pipeline handle a failed migration? `.repeat(3);

describe("cached token counts", () => {
  it("equal the tokenizer's count, first time and again, short texts and special-token text included", () => {
    const texts = [
      "hi",
      long(1),
      `${long(1)}!`,
      "<|endoftext|> quoted in a long enough message to be cached",
    ];
    for (const t of texts) expect(cachedTokenCount(t)).toBe(countTokens(t));
    for (const t of texts) expect(cachedTokenCount(t)).toBe(countTokens(t));
  });

  it("stay right after more texts than the cache holds have passed through it", () => {
    for (let i = 0; i < 5_000; i++) cachedTokenCount(long(i));
    for (const i of [0, 2_500, 4_999]) expect(cachedTokenCount(long(i))).toBe(countTokens(long(i)));
  });

  it("give a prompt the same total the second time it is built", () => {
    const parts = {
      systemPrompt: "You are helpful.",
      memory: [{ userText: long(7), replyText: long(8) }],
      fewShot: [{ userText: long(9), replyText: long(10) }],
      recent: [{ userText: long(11), replyText: long(12) }],
      message: "and now?",
    };
    expect(buildPrompt(parts).tokens).toBe(buildPrompt(parts).tokens);
  });
});
