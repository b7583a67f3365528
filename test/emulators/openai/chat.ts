// POST /v1/chat/completions: the reply comes from a script the test sets (`setReply`), cut at
// max_tokens like the real API (finish_reason "length"), with o200k token usage, n choices, and
// server-sent events when streamed.
import { decode as decodeO200k, encode as encodeO200k } from "gpt-tokenizer/encoding/o200k_base";
import type { EmuResponse, RecordedRequest, SsePacing } from "../http-recorder.ts";
import { jsonBody, openaiFail } from "./errors.ts";
import { type ChatMessage, countChatMessagesTokens, messageText } from "./fine-tune-data.ts";
import type { OpenAIModels } from "./models.ts";

export type ChatReply = (body: ChatCompletionRequest) => string | Promise<string>;

/** The fields of a chat completion request the emulator reads; the rest is recorded as sent. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  n?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export const defaultChatReply: ChatReply = (body) => {
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user");
  return `echo(${body.model}): ${messageText(lastUser?.content).slice(0, 200)}`;
};

export interface ChatContext {
  models: OpenAIModels;
  reply: () => ChatReply;
  newId: (prefix: string, length?: number) => string;
  /** Emulator clock, milliseconds. */
  now: () => number;
  /** How streamed answers go out (paced, cut off); undefined: all at once. */
  streaming?: () => SsePacing | undefined;
}

export async function chatCompletion(req: RecordedRequest, ctx: ChatContext): Promise<EmuResponse> {
  const body = jsonBody(req) as Partial<ChatCompletionRequest>;
  if (typeof body.model !== "string")
    openaiFail(400, "you must provide a model parameter", { param: "model" });
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    openaiFail(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      { param: "messages", code: "empty_array" },
    );
  ctx.models.served(body.model, "chat");
  checkImageParts(body.messages);
  const request = body as ChatCompletionRequest;
  let content = await ctx.reply()(request);
  let finishReason = "stop";
  const limit = request.max_completion_tokens ?? request.max_tokens;
  const replyTokens = encodeO200k(content, { disallowedSpecial: new Set() });
  if (typeof limit === "number" && replyTokens.length > limit) {
    content = decodeO200k(replyTokens.slice(0, limit));
    finishReason = "length";
  }
  const n = typeof request.n === "number" && request.n > 0 ? request.n : 1;
  const promptTokens = countChatMessagesTokens(request.messages);
  const completionTokens = Math.min(replyTokens.length, limit ?? Number.POSITIVE_INFINITY) * n;
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const head = {
    id: ctx.newId("chatcmpl-", 29),
    created: Math.floor(ctx.now() / 1000),
    model: request.model,
    service_tier: "default",
    system_fingerprint: "fp_emulator",
  };
  if (request.stream) {
    const pacing = ctx.streaming?.();
    return {
      sse: streamChunks(head, content, finishReason, n, usage, request),
      ...(pacing ? { ssePacing: pacing } : {}),
    };
  }
  return {
    json: {
      ...head,
      object: "chat.completion",
      choices: Array.from({ length: n }, (_, index) => ({
        index,
        message: { role: "assistant", content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: finishReason,
      })),
      usage,
    },
  };
}

function streamChunks(
  head: Record<string, unknown>,
  content: string,
  finishReason: string,
  n: number,
  usage: Record<string, unknown>,
  request: ChatCompletionRequest,
): string[] {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...head, object: "chat.completion.chunk", choices, ...extra });
  const includeUsage = request.stream_options?.include_usage === true;
  const pieces = content.match(/\S+\s*|\s+/g) ?? [];
  const events: string[] = [];
  for (let index = 0; index < n; index++) {
    events.push(
      chunk([{ index, delta: { role: "assistant", content: "", refusal: null }, finish_reason: null }]),
    );
    for (const piece of pieces)
      events.push(chunk([{ index, delta: { content: piece }, finish_reason: null }]));
    events.push(chunk([{ index, delta: {}, finish_reason: finishReason }]));
  }
  if (includeUsage) events.push(chunk([], { usage }));
  events.push("[DONE]");
  return events;
}

/**
 * Image content parts as OpenAI checks them: `image_url.url` is an http(s) URL or a base64 data
 * URL of PNG, JPEG, GIF or WebP (anything else: 400 invalid_image_format), and only user messages
 * carry them.
 */
function checkImageParts(messages: ChatMessage[]): void {
  messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    for (const part of m.content as Array<{ type?: string; image_url?: { url?: unknown } }>) {
      if (part.type !== "image_url") continue;
      if (m.role !== "user")
        openaiFail(
          400,
          `Image URLs are only allowed for messages with role 'user', but this message with role '${m.role}' contains an image URL.`,
          { param: `messages.[${i}].content`, code: "invalid_value" },
        );
      const url = part.image_url?.url;
      const ok =
        typeof url === "string" &&
        (/^https?:\/\//.test(url) || /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*$/.test(url));
      if (!ok)
        openaiFail(
          400,
          "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].",
          { param: `messages.[${i}].content`, code: "invalid_image_format" },
        );
    }
  });
}
