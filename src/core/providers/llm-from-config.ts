// Picks and builds the chat/embedding provider the configuration asks for.
import type { Config } from "../../config.ts";
import type { LlmProvider } from "../ports.ts";
import { createGeminiProvider, type GeminiProviderOptions } from "./gemini-llm.ts";
import { createOpenAIProvider } from "./openai-llm.ts";

export function createLlmProvider(
  llm: Config["llm"],
  name: "openai" | "gemini" = llm.provider,
  extra: Pick<GeminiProviderOptions, "googleAuthOptions" | "timeoutMs"> = {},
): LlmProvider {
  if (name === "gemini") return createGeminiProvider({ ...llm.gemini, ...extra });
  // Validated by config: an OpenAI key is present whenever OpenAI is used.
  return createOpenAIProvider({
    apiKey: llm.openai.apiKey ?? "",
    baseUrl: llm.openai.baseUrl,
    timeoutMs: extra.timeoutMs,
  });
}
