// One shape over the OpenAI and Gemini emulators, so behaviour suites run unchanged against both
// providers: start the emulator, build our provider on it through its base URL, and read back what
// reached it.

import { loadConfig } from "../../src/config.ts";
import type { LlmProvider } from "../../src/core/ports.ts";
import { createLlmProvider } from "../../src/core/providers/from-config.ts";
import { type GeminiEmulator, startGeminiEmulator } from "../emulators/google/gemini.ts";
import type { RecordedRequest, SsePacing } from "../emulators/http-recorder.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "../emulators/openai/index.ts";

export interface LlmHarness {
  name: "openai" | "gemini";
  /** The settings that point the bot's configuration at this emulator. */
  env: Record<string, string>;
  /** Built the way the bot builds it (src/core/providers/from-config.ts), from `env`. */
  provider: LlmProvider;
  chatModel: string;
  embeddingModel: string;
  embeddingDimensions: number;
  /** Chat requests that reached the emulator (failed ones included), oldest first. */
  chatRequests(): RecordedRequest[];
  /** Everything the last chat request carried, as text. */
  lastChatText(): string;
  failChat(n: number, status: number, retryAfterMs?: number): void;
  failEmbeddings(n: number, status: number): void;
  hangChat(n: number): void;
  setReply(fn: (lastUserText: string) => string): void;
  /** How streamed answers go out from now on: paced, or cut off after n events (a dropped connection). */
  setStreaming(pacing: SsePacing | undefined): void;
  emulator: OpenAIEmulator | GeminiEmulator;
  close(): Promise<void>;
}

export async function startOpenAIHarness(): Promise<LlmHarness> {
  const emu = await startOpenAIEmulator();
  const env = { LLM_PROVIDER: "openai", OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: `${emu.url}/v1` };
  const provider = createLlmProvider(loadConfig(env).llm, "openai", { timeoutMs: 2_000 });
  const chat = () => emu.requests.filter((r) => r.path.endsWith("/chat/completions"));
  return {
    name: "openai",
    env,
    provider,
    chatModel: "gpt-4.1-mini",
    embeddingModel: "text-embedding-3-small",
    embeddingDimensions: 256,
    chatRequests: chat,
    lastChatText: () => JSON.stringify(chat().at(-1)?.body ?? null),
    failChat: (n, status, retryAfterMs) =>
      emu.failNext(n, { status, retryAfterMs, match: "/chat/completions" }),
    failEmbeddings: (n, status) => emu.failNext(n, { status, match: "/embeddings" }),
    hangChat: (n) => emu.hangNext(n, { match: "/chat/completions" }),
    setReply: (fn) =>
      emu.setReply((body) => {
        const last = [...body.messages].reverse().find((m) => m.role === "user");
        return fn(typeof last?.content === "string" ? last.content : "");
      }),
    setStreaming: (pacing) => emu.setStreaming(pacing),
    emulator: emu,
    close: () => emu.close(),
  };
}

export async function startGeminiHarness(): Promise<LlmHarness> {
  const emu = await startGeminiEmulator();
  const env = {
    LLM_PROVIDER: "gemini",
    GEMINI_API_KEY: "test-key",
    GEMINI_BASE_URL: emu.url,
    FINETUNE_PROVIDER: "none",
  };
  const provider = createLlmProvider(loadConfig(env).llm, "gemini", { timeoutMs: 2_000 });
  // Plain and streamed (`:streamGenerateContent?alt=sse`) answers alike.
  const chatMatch = (r: RecordedRequest) => /:(generateContent|streamGenerateContent)$/.test(r.path);
  const chat = () => emu.requests.filter(chatMatch);
  const embedMatch = (r: RecordedRequest) => /:(batchEmbedContents|embedContent|predict)$/.test(r.path);
  return {
    name: "gemini",
    env,
    provider,
    chatModel: "gemini-2.5-flash",
    embeddingModel: "gemini-embedding-001",
    embeddingDimensions: 256,
    chatRequests: chat,
    lastChatText: () => JSON.stringify(chat().at(-1)?.body ?? null),
    failChat: (n, status) => emu.failNext(n, { status, match: chatMatch }),
    failEmbeddings: (n, status) => emu.failNext(n, { status, match: embedMatch }),
    hangChat: (n) => emu.hangNext(n, { match: chatMatch }),
    setReply: (fn) =>
      emu.setReply((body) => {
        const last = [...body.contents].reverse().find((c) => c.role === undefined || c.role === "user");
        return fn(last?.parts?.map((p) => p.text ?? "").join("") ?? "");
      }),
    setStreaming: (pacing) => emu.setStreaming(pacing),
    emulator: emu,
    close: () => emu.close(),
  };
}

export const llmHarnesses = [
  ["openai", startOpenAIHarness],
  ["gemini", startGeminiHarness],
] as const;
