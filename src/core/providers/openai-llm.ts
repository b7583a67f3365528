// Chat and embeddings through the `openai` SDK. The base URL makes OpenAI-compatible servers
// (Ollama, vLLM, llama.cpp) work the same way. The SDK's own retries are off: src/core/retry.ts
// decides, so the apology path and the retry counts are the same for every provider.
import OpenAI from "openai";
import {
  type ChatRequest,
  type ChatResult,
  type LlmProvider,
  ProviderError,
  StreamCutError,
} from "../ports.ts";
import { retryAfterFromHeaders } from "../retry.ts";
import { storableText } from "../storable-text.ts";
import { openAIMessages } from "./chat-parts.ts";

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
    async chat(request): Promise<ChatResult> {
      if (request.onText) return streamChat(client, request, request.onText);
      const { model, messages, signal } = request;
      try {
        const res = await client.chat.completions.create(
          { model, messages: openAIMessages(messages) },
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

/**
 * Chat completions streamed as server-sent `chat.completion.chunk`s; the last chunk carries the
 * usage (`stream_options.include_usage`). The first choice is the answer.
 */
async function streamChat(
  client: OpenAI,
  { model, messages, signal }: ChatRequest,
  onText: (textSoFar: string) => void,
): Promise<ChatResult> {
  let text = "";
  try {
    const stream = await client.chat.completions.create(
      {
        model,
        messages: openAIMessages(messages),
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal },
    );
    let answeredBy = model;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    for await (const chunk of stream) {
      if (chunk.model) answeredBy = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const piece = chunk.choices.find((c) => c.index === 0)?.delta?.content;
      if (piece) {
        text += piece;
        onText(storableText(text));
      }
    }
    return {
      text: storableText(text),
      model: answeredBy,
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
    };
  } catch (e) {
    const error = toProviderError(e);
    if (text && !signal?.aborted) throw new StreamCutError(error, storableText(text));
    throw error;
  }
}
