// Splitting long replies, one algorithm for every platform: boundaries in order of preference, and
// code blocks that stay well-formed in every part; with Discord's 2,000-character messages (posted
// as written) and Slack's 3,500-character posts (rendered as mrkdwn, links kept whole).
import { describe, expect, it } from "vitest";
import { DISCORD_MESSAGE_LIMIT, discordText } from "../src/bots/discord/format.ts";
import { type MessageFormat, splitMessage as split } from "../src/bots/shared/split-message.ts";
import { SLACK_PART_CHARS, slackText } from "../src/bots/slack/mrkdwn.ts";

/** Every ``` fence line in a part is matched: an even number of fence lines. */
function fencesBalanced(part: string): boolean {
  return part.split("\n").filter((l) => /^\s*```/.test(l)).length % 2 === 0;
}

const sentence = (i: number) => `This is sentence number ${i} of a long and thoughtful answer.`;

describe("splitMessage on Discord", () => {
  const splitMessage = (text: string) => split(text, discordText);

  it("leaves a message that fits alone (trimmed)", () => {
    expect(splitMessage("  hello\n")).toEqual(["hello"]);
    expect(splitMessage("x".repeat(DISCORD_MESSAGE_LIMIT))).toHaveLength(1);
    expect(splitMessage("   ")).toEqual([]);
  });

  it("cuts at paragraph breaks first, and drops the break", () => {
    const a = "a".repeat(1200);
    const b = "b".repeat(1200);
    const c = "c".repeat(1200);
    expect(splitMessage(`${a}\n\n${b}\n\n${c}`)).toEqual([a, b, c]);
  });

  it("prefers a paragraph break over a later sentence end, unless the part would be too short", () => {
    const first = Array.from({ length: 20 }, (_, i) => sentence(i)).join(" "); // ~1250
    const second = Array.from({ length: 20 }, (_, i) => sentence(i + 20)).join(" ");
    const parts = splitMessage(`${first}\n\n${second}`);
    expect(parts[0]).toBe(first);
    expect(parts[1]).toBe(second);

    // A paragraph break after 100 characters would leave a tiny part: a sentence end is used.
    const short = "Short intro.";
    const long = Array.from({ length: 60 }, (_, i) => sentence(i)).join(" ");
    const split = splitMessage(`${short}\n\n${long}`);
    expect(split[0]!.length).toBeGreaterThan(1500);
    expect(split[0]).toMatch(/\.$/);
  });

  it("cuts at sentence ends, then at spaces, never inside a word when avoidable", () => {
    const text = Array.from({ length: 80 }, (_, i) => sentence(i)).join(" ");
    const parts = splitMessage(text);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(p).toMatch(/^This .*\.$/s);
    }
    expect(parts.join(" ")).toBe(text);

    const words = Array.from({ length: 700 }, (_, i) => `word${i}`).join(" ");
    const wordParts = splitMessage(words);
    expect(wordParts.join(" ")).toBe(words);
    for (const p of wordParts) expect(p).toMatch(/^word\d+( word\d+)*$/);
  });

  it("hard-cuts a word longer than a message, without splitting a surrogate pair", () => {
    const emoji = "😀".repeat(1500); // 3000 UTF-16 units
    const parts = splitMessage(emoji);
    expect(parts.join("")).toBe(emoji);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(p).toMatch(/^(😀)+$/u);
    }
  });

  it("closes a cut code block and reopens it with the same language, cutting only between lines", () => {
    const code = Array.from({ length: 150 }, (_, i) => `const value${i} = compute(${i}, "some text");`).join(
      "\n",
    );
    const text = `Here is the code:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nThat is all.`;
    const parts = splitMessage(text);
    expect(parts.length).toBeGreaterThan(2);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(fencesBalanced(p)).toBe(true);
    }
    expect(parts[0]).toMatch(/^Here is the code:\n\n```ts\nconst value0/);
    expect(parts[0]).toMatch(/\n```$/);
    expect(parts[1]).toMatch(/^```ts\nconst value\d+ = compute/);
    expect(parts.at(-1)).toMatch(/\n```\n\nThat is all\.$/);
    // Every code line arrives whole, in order.
    const lines = parts.flatMap((p) => p.split("\n")).filter((l) => l.startsWith("const "));
    expect(lines).toEqual(code.split("\n"));
  });

  it("does not leave an empty code block at the end or start of a part", () => {
    const prose = "p".repeat(1985);
    const text = `${prose}\n\`\`\`py\nprint(1)\n\`\`\``;
    expect(splitMessage(text)).toEqual([prose, "```py\nprint(1)\n```"]);

    // A code block that just overflows: the next part still carries code, not only the closing fence.
    const code = `\`\`\`py\n${"x = 1\n".repeat(340)}\`\`\``;
    const parts = splitMessage(`Intro.\n\n${code}`);
    expect(parts).toHaveLength(2);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
      expect(fencesBalanced(p)).toBe(true);
      expect(p).not.toMatch(/```py\n```/);
    }
    expect(parts[1]).toMatch(/^```py\nx = 1\n/);
  });

  it("keeps a one-line ```code``` span intact as text", () => {
    const text = `${"x ".repeat(900)}\`\`\`inline\`\`\` ${"y ".repeat(900)}`;
    for (const p of splitMessage(text)) expect(p.length).toBeLessThanOrEqual(DISCORD_MESSAGE_LIMIT);
  });
});

describe("splitMessage on Slack", () => {
  const slack = (limit = SLACK_PART_CHARS): MessageFormat => ({ ...slackText, limit });
  const splitMessage = (text: string, limit?: number) => split(text, slack(limit));

  it("keeps short text in one part and gives no parts for empty text", () => {
    expect(splitMessage("hello\n\nworld")).toEqual(["hello\n\nworld"]);
    expect(splitMessage("  \n ")).toEqual([]);
  });

  it("cuts between paragraphs first", () => {
    const a = "a".repeat(60);
    const b = "b".repeat(60);
    expect(splitMessage(`${a}\n\n${b}\n\n${a}`, 130)).toEqual([`${a}\n\n${b}`, a]);
  });

  it("cuts a long paragraph at sentence ends, as on Discord", () => {
    const text = Array.from({ length: 120 }, (_, i) => sentence(i)).join(" ");
    const parts = splitMessage(text);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(SLACK_PART_CHARS);
      expect(p).toMatch(/^This .*\.$/s);
    }
    expect(parts.join(" ")).toBe(text);
  });

  it("cuts a long paragraph between words, never inside a Slack link", () => {
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const parts = splitMessage(words, 100);
    expect(parts.every((p) => p.length <= 100)).toBe(true);
    expect(parts.join(" ")).toBe(words);
    // The Markdown link becomes `<https://x.io|a link with spaces>`, whose spaces are not cuts.
    expect(splitMessage("aaa [a link with spaces](https://x.io) bbb", 36)).toEqual([
      "aaa",
      "<https://x.io|a link with spaces>",
      "bbb",
    ]);
  });

  it("closes and reopens a code fence it has to cut", () => {
    const code = Array.from({ length: 40 }, (_, i) => `line ${i} of the code`).join("\n");
    const parts = splitMessage(`Intro.\n\n\`\`\`\n${code}\n\`\`\`\n\nOutro.`, 200);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(200);
      expect((p.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    const lines = parts.join("\n").split("\n");
    for (let i = 0; i < 40; i++) expect(lines).toContain(`line ${i} of the code`);
    expect(parts[0]).toMatch(/^Intro\./);
    expect(parts.at(-1)).toMatch(/Outro\.$/);
  });

  it("hard-cuts a single line longer than a part", () => {
    const parts = splitMessage("x".repeat(SLACK_PART_CHARS * 2 + 10));
    expect(parts.map((p) => p.length)).toEqual([SLACK_PART_CHARS, SLACK_PART_CHARS, 10]);
  });

  it("measures what is posted: the mrkdwn, escapes included", () => {
    const parts = splitMessage("a < b & c. ".repeat(40).trim(), 100);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(100);
      expect(p).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
    }
  });
});
