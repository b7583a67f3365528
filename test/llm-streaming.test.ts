// Streamed answers through the real SDKs against the emulators, in each provider's wire format
// (OpenAI chat.completion.chunk events, Gemini streamGenerateContent?alt=sse): the text arrives in
// growing pieces, the result is the same as without streaming, and a connection cut mid-answer
// surfaces as a StreamCutError carrying what arrived (not retryable: it may be on screen).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProviderError, StreamCutError } from "../src/core/ports.ts";
import { type LlmHarness, llmHarnesses } from "./support/llm-harness.ts";

const ANSWER = "Pixel is a border collie who loves the beach, chasing gulls and long walks at dawn.";

describe.each(llmHarnesses)("streamed chat (%s)", (_name, startHarness) => {
  let llm: LlmHarness;
  beforeEach(async () => {
    llm = await startHarness();
    llm.setReply(() => ANSWER);
  });
  afterEach(() => llm.close());

  const ask = (onText?: (t: string) => void) =>
    llm.provider.chat({
      model: llm.chatModel,
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: "Tell me about my dog" },
      ],
      ...(onText ? { onText } : {}),
    });

  it("delivers the answer in growing pieces and ends with the same result as a plain call", async () => {
    const seen: string[] = [];
    const streamed = await ask((t) => seen.push(t));
    const plain = await ask();

    expect(seen.length).toBeGreaterThan(3);
    for (const [i, t] of seen.entries()) {
      expect(ANSWER.startsWith(t)).toBe(true);
      if (i > 0) expect(t.length).toBeGreaterThan(seen[i - 1]!.length);
    }
    expect(seen.at(-1)).toBe(ANSWER);
    expect(streamed.text).toBe(ANSWER);
    expect(streamed.text).toBe(plain.text);
    expect(streamed.promptTokens).toBe(plain.promptTokens);
    expect(streamed.completionTokens).toBe(plain.completionTokens);
    expect(streamed.completionTokens).toBeGreaterThan(0);

    // What reached the provider: a streaming request in its own format.
    const [first, second] = llm.chatRequests();
    if (llm.name === "openai") {
      expect(first!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
      expect((second!.body as { stream?: boolean }).stream).toBeUndefined();
    } else {
      expect(first!.path).toMatch(/:streamGenerateContent$/);
      expect(first!.query.alt).toBe("sse");
      expect(second!.path).toMatch(/:generateContent$/);
    }
  });

  it("hands out text while the answer is still arriving", async () => {
    llm.setStreaming({ delayMs: 15 });
    let resolved = false;
    const pieces: Array<{ text: string; resolved: boolean }> = [];
    const done = ask((text) => pieces.push({ text, resolved })).then((r) => {
      resolved = true;
      return r;
    });
    const result = await done;
    expect(pieces.length).toBeGreaterThan(3);
    // Every piece arrived before the call settled: a renderer can show it as it comes.
    expect(pieces.every((p) => !p.resolved)).toBe(true);
    expect(result.text).toBe(ANSWER);
  });

  it("a connection cut mid-answer throws StreamCutError with what arrived, not retryable", async () => {
    llm.setStreaming({ cutAfter: 4 });
    const seen: string[] = [];
    const error = await ask((t) => seen.push(t)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamCutError);
    expect(error).toBeInstanceOf(ProviderError);
    const cut = error as StreamCutError;
    expect(cut.retryable).toBe(false);
    expect(cut.partialText.length).toBeGreaterThan(0);
    expect(cut.partialText.length).toBeLessThan(ANSWER.length);
    expect(ANSWER.startsWith(cut.partialText)).toBe(true);
    expect(seen.at(-1)).toBe(cut.partialText);
  });

  it("a refusal before any text is a plain provider error the retry policy may retry", async () => {
    llm.failChat(1, 503);
    const error = await ask(() => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).not.toBeInstanceOf(StreamCutError);
    expect((error as ProviderError).status).toBe(503);
    expect((error as ProviderError).retryable).toBe(true);
  });
});
