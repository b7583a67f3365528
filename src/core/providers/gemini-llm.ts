// Chat and embeddings through `@google/genai`, on the Gemini Developer API (API key) or Vertex AI
// (project + location, Application Default Credentials unless auth options are given).
import { ApiError, GoogleGenAI, type GoogleGenAIOptions } from "@google/genai";
import { type ChatResult, type LlmProvider, ProviderError, StreamCutError } from "../ports.ts";
import { storableText } from "../storable-text.ts";
import { geminiContents } from "./chat-parts.ts";

export interface GeminiProviderOptions {
  apiKey?: string;
  baseUrl?: string;
  vertex: boolean;
  project?: string;
  location: string;
  /** Vertex credentials; tests pass an offline client. */
  googleAuthOptions?: GoogleGenAIOptions["googleAuthOptions"];
  timeoutMs?: number;
}

export function createGenAIClient(options: GeminiProviderOptions): GoogleGenAI {
  return new GoogleGenAI({
    ...(options.vertex
      ? {
          vertexai: true,
          project: options.project,
          location: options.location,
          googleAuthOptions: options.googleAuthOptions,
        }
      : { apiKey: options.apiKey }),
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: options.timeoutMs ?? 60_000,
    },
  });
}

export function toGenAIProviderError(e: unknown): unknown {
  if (e instanceof ApiError) return new ProviderError(e.message, e.status);
  // Network failures and timeouts surface as plain errors (fetch TypeError, AbortError).
  if (
    e instanceof Error &&
    (e.name === "TypeError" || e.name === "AbortError" || /fetch failed/i.test(e.message))
  )
    return new ProviderError(e.message, undefined);
  return e;
}

export function createGeminiProvider(options: GeminiProviderOptions): LlmProvider {
  const ai = createGenAIClient(options);
  return {
    name: "gemini",
    async chat({ model, messages, signal, onText }): Promise<ChatResult> {
      const system = messages
        .filter((m) => m.role === "system")
        .map((m) => m.content)
        .join("\n\n");
      const contents = geminiContents(messages);
      const request = {
        model,
        contents,
        config: { ...(system ? { systemInstruction: system } : {}), abortSignal: signal },
      };
      if (onText) {
        // streamGenerateContent?alt=sse: each chunk carries the next piece; the last, the usage.
        let text = "";
        try {
          let last: Awaited<ReturnType<typeof ai.models.generateContent>> | undefined;
          for await (const chunk of await ai.models.generateContentStream(request)) {
            last = chunk;
            const piece = chunk.text;
            if (piece) {
              text += piece;
              onText(storableText(text));
            }
          }
          return {
            text: storableText(text),
            model: last?.modelVersion ?? model,
            promptTokens: last?.usageMetadata?.promptTokenCount ?? 0,
            completionTokens: last?.usageMetadata?.candidatesTokenCount ?? 0,
          };
        } catch (e) {
          const error = toGenAIProviderError(e);
          if (text && !signal?.aborted) throw new StreamCutError(error, storableText(text));
          throw error;
        }
      }
      try {
        const res = await ai.models.generateContent(request);
        return {
          // A model can emit NUL or half an emoji; what it says gets stored (storable-text.ts).
          text: storableText(res.text ?? ""),
          model: res.modelVersion ?? model,
          promptTokens: res.usageMetadata?.promptTokenCount ?? 0,
          completionTokens: res.usageMetadata?.candidatesTokenCount ?? 0,
        };
      } catch (e) {
        throw toGenAIProviderError(e);
      }
    },
    async embed({ model, dimensions, inputs, signal }): Promise<number[][]> {
      try {
        const res = await ai.models.embedContent({
          model,
          contents: inputs,
          config: { outputDimensionality: dimensions, abortSignal: signal },
        });
        return (res.embeddings ?? []).map((e) => e.values ?? []);
      } catch (e) {
        throw toGenAIProviderError(e);
      }
    },
  };
}
