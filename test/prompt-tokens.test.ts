// The prompt's token total (src/core/prompt.ts) is summed from its parts, with the counts stored
// with each past exchange, instead of tokenising the assembled messages. It must stay an upper bound
// of the tokenizer's count of what is sent, and close to it, so the budget holds and little is
// dropped for nothing: checked on texts whose seams BPE could merge (punctuation, digits, spaces,
// emoji, CJK at the ends), with stored counts, without them, clipped texts and a visible conversation.
import { describe, expect, it } from "vitest";
import { buildPrompt, type PastExchange, type PromptParts } from "../src/core/prompt.ts";
import { countTokens } from "../src/core/tokens.ts";

const pieces = [
  "deploy",
  "the",
  "42",
  "?!",
  "  ",
  "é",
  "🙂",
  "東京",
  "'s",
  "\n",
  "-",
  "ok.",
  "x=1;",
  "https://a.b/c",
];

/** A text of `words` pieces from a seeded sequence, ends included (no trimming). */
function text(seed: number, words: number): string {
  let out = "";
  let x = seed;
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += pieces[x % pieces.length] + (x % 3 === 0 ? "" : " ");
  }
  return out;
}

const exact = (messages: Array<{ content: string }>) =>
  messages.reduce((n, m) => n + 4 + countTokens(m.content), 3);

function past(seed: number, stored: boolean, words = 30): PastExchange {
  const userText = text(seed, words);
  const replyText = text(seed + 1, words * 2);
  return {
    userText,
    replyText,
    ...(stored ? { tokens: countTokens(userText) + countTokens(replyText) } : {}),
  };
}

describe("the prompt's token total", () => {
  it("is at or a little over the tokenizer's count of the messages sent", () => {
    for (let seed = 1; seed < 60; seed++) {
      const stored = seed % 2 === 0;
      const parts: PromptParts = {
        systemPrompt: text(seed * 7, 12),
        memory: [past(seed * 11, stored), past(seed * 13, !stored)],
        fewShot: [past(seed * 17, stored)],
        recent: seed % 3 ? [past(seed * 19, stored), past(seed * 23, stored)] : [],
        ...(seed % 3 ? {} : { conversation: [text(seed * 29, 8), text(seed * 31, 8)] }),
        message: text(seed * 37, 10),
      };
      const built = buildPrompt(parts, { total: 100_000, maxItemChars: 1_200 });
      const sent = exact(built.messages);
      expect(built.tokens).toBeGreaterThanOrEqual(sent);
      // At most a handful per memory item (its labels and seams) and per paragraph of the system message.
      const paragraphs = (built.used.memory ? 1 : 0) + (built.used.conversation ? 1 : 0);
      expect(built.tokens - sent).toBeLessThanOrEqual(8 * built.used.memory + 3 * paragraphs + 2);
    }
  });

  it("counts a clipped text as sent, not by its stored count", () => {
    const long = past(5, true, 800); // several thousand characters: clipped to maxItemChars
    expect(long.replyText.length).toBeGreaterThan(1_200);
    const built = buildPrompt(
      { systemPrompt: "s", memory: [], fewShot: [long], recent: [], message: "m" },
      { total: 100_000, maxItemChars: 1_200 },
    );
    const sent = exact(built.messages);
    expect(built.tokens).toBeGreaterThanOrEqual(sent);
    expect(built.tokens - sent).toBeLessThanOrEqual(4);
  });

  it("keeps the bound while parts are dropped to fit the budget", () => {
    const parts: PromptParts = {
      systemPrompt: "You are helpful.",
      memory: Array.from({ length: 6 }, (_, i) => past(100 + i, i % 2 === 0)),
      fewShot: Array.from({ length: 3 }, (_, i) => past(200 + i, true)),
      recent: Array.from({ length: 4 }, (_, i) => past(300 + i, false)),
      message: "and now?",
    };
    const whole = buildPrompt(parts, { total: 100_000, maxItemChars: 1_200 });
    for (const total of [whole.tokens - 1, Math.round(whole.tokens / 2), Math.round(whole.tokens / 4), 50]) {
      const built = buildPrompt(parts, { total, maxItemChars: 1_200 });
      const sent = exact(built.messages);
      expect(built.tokens).toBeGreaterThanOrEqual(sent);
      // Within the budget, unless nothing is left to drop.
      const left = built.used.memory + built.used.fewShot + built.used.recent;
      if (left) expect(built.tokens).toBeLessThanOrEqual(total);
      expect(left).toBeLessThan(6 + 3 + 4);
    }
  });
});
