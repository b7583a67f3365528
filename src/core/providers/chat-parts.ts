// Chat messages in each provider's wire shape. Text stays a plain string; a user message with
// images becomes content parts: OpenAI `image_url` parts with data URLs, Gemini `inlineData` parts
// (both take PNG, JPEG, GIF and WebP). Kept apart so both the plain and the streamed requests of a
// provider build the same messages.
import type { Content } from "@google/genai";
import type OpenAI from "openai";
import type { ChatMessage } from "../ports.ts";

export function openAIMessages(
  messages: ChatMessage[],
): OpenAI.Chat.Completions.ChatCompletionMessageParam[] {
  return messages.map((m) => {
    if (m.role !== "user" || !m.images?.length) return { role: m.role, content: m.content };
    return {
      role: "user",
      content: [
        { type: "text", text: m.content },
        ...m.images.map((image) => ({
          type: "image_url" as const,
          image_url: { url: `data:${image.mimeType};base64,${image.base64}` },
        })),
      ],
    };
  });
}

/** The non-system messages as Gemini contents (the system prompt goes in `systemInstruction`). */
export function geminiContents(messages: ChatMessage[]): Content[] {
  return messages
    .filter((m) => m.role !== "system")
    .map((m) => ({
      role: m.role === "assistant" ? "model" : "user",
      parts: [
        { text: m.content },
        ...(m.role === "user" && m.images?.length
          ? m.images.map((image) => ({ inlineData: { mimeType: image.mimeType, data: image.base64 } }))
          : []),
      ],
    }));
}
