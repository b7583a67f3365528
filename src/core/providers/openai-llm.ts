// Chat and embeddings through the `openai` SDK. The base URL makes OpenAI-compatible servers
// (Ollama, vLLM, llama.cpp) work the same way. The SDK's own retries are off: src/core/retry.ts
// decides, so the apology path and the retry counts are the same for every provider.
import OpenAI from "openai";
import { type ChatMessage, type ChatResult, type LlmProvider, ProviderError } from "../ports.ts";
import { retryAfterFromHeaders } from "../retry.ts";
import { storableText } from "../storable-text.ts";

export interface OpenAIProviderOptions {
  apiKey: string;
  baseUrl: string;
  timeoutMs?: number;
}

export function toProviderError(e: unknown): unknown {
  if (e instanceof OpenAI.APIConnectionError) return new ProviderError(e.message, undefined);
  if (e instanceof OpenAI.APIError) {
    const headers = e.headers;
    const retryAfterMs = headers ? retryAfterFromHeaders((n) => headers.get(n)) : undefined;
    return new ProviderError(
      e.message,
      e.status,
      retryAfterMs,
      typeof e.code === "string" ? e.code : undefined,
    );
  }
  return e;
}

export function createOpenAIClient(options: OpenAIProviderOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseUrl,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
  });
}

export function createOpenAIProvider(options: OpenAIProviderOptions): LlmProvider {
  const client = createOpenAIClient(options);
  return {
    name: "openai",
    async chat({ model, messages, signal }): Promise<ChatResult> {
      try {
        const res = await client.chat.completions.create(
          { model, messages: messages.map((m: ChatMessage) => ({ role: m.role, content: m.content })) },
          { signal },
        );
        return {
          // A model can emit NUL or half an emoji; what it says gets stored (storable-text.ts).
          text: storableText(res.choices[0]?.message?.content ?? ""),
          model: res.model || model,
          promptTokens: res.usage?.prompt_tokens ?? 0,
          completionTokens: res.usage?.completion_tokens ?? 0,
        };
      } catch (e) {
        throw toProviderError(e);
      }
    },
    async embed({ model, dimensions, inputs, signal }): Promise<number[][]> {
      try {
        // Only text-embedding-3 models can be shortened; other servers may reject the parameter.
        const res = await client.embeddings.create(
          { model, input: inputs, ...(model.startsWith("text-embedding-3") ? { dimensions } : {}) },
          { signal },
        );
        return [...res.data].sort((a, b) => a.index - b.index).map((d) => Array.from(d.embedding));
      } catch (e) {
        throw toProviderError(e);
      }
    },
  };
}
