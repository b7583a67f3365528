// generateContent (plain and server-sent events) and countTokens: the reply comes from a script the
// test sets (`setReply`), cut at maxOutputTokens (finishReason MAX_TOKENS), with o200k stand-in
// token counts, on base models and on the tuned models Vertex jobs create.
import { decode as decodeO200k, encode as encodeO200k } from "gpt-tokenizer/encoding/o200k_base";
import type { EmuResponse, RecordedRequest, SsePacing } from "../http-recorder.ts";
import { countTokens } from "../tokens.ts";
import { googleFail, jsonBody } from "./errors.ts";
import type { Target } from "./target.ts";
import { type GeminiContent, partsText } from "./vertex-data.ts";
import type { TunedModelInfo } from "./vertex-tuning.ts";

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig?: { maxOutputTokens?: number; candidateCount?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ReplyContext {
  /** Bare model id ("gemini-2.5-flash"), or the tuned model's resource name as addressed. */
  model: string;
  api: "gemini" | "vertex";
  tuned?: TunedModelInfo;
}

export type GeminiReply = (body: GenerateContentRequest, context: ReplyContext) => string | Promise<string>;

export const defaultGeminiReply: GeminiReply = (body, context) => {
  const lastUser = [...body.contents].reverse().find((c) => c.role === undefined || c.role === "user");
  return `echo(${context.model}): ${partsText(lastUser).slice(0, 200)}`;
};

export interface GenerateContext {
  /** The model the request addresses, or the API's 404 (gemini.ts). */
  resolveModel(target: Target, kind: "generate" | "embed"): ReplyContext;
  reply: () => GeminiReply;
  newId: (prefix: string, length?: number) => string;
  /** Emulator clock, milliseconds. */
  now: () => number;
  /** How streamed answers go out (paced, cut off); undefined: all at once. */
  streaming?: () => SsePacing | undefined;
}

export async function generate(
  req: RecordedRequest,
  target: Target,
  stream: boolean,
  ctx: GenerateContext,
): Promise<EmuResponse> {
  const body = jsonBody(req) as Partial<GenerateContentRequest>;
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    googleFail(400, "* GenerateContentRequest.contents: contents is not specified\n");
  const context = ctx.resolveModel(target, "generate");
  const request = body as GenerateContentRequest;
  let text = await ctx.reply()(request, context);
  let finishReason = "STOP";
  const tokens = encodeO200k(text, { disallowedSpecial: new Set() });
  const limit = request.generationConfig?.maxOutputTokens;
  if (typeof limit === "number" && tokens.length > limit) {
    text = decodeO200k(tokens.slice(0, limit));
    finishReason = "MAX_TOKENS";
  }
  const promptTokens = promptTokenCount(request);
  const candidateTokens = Math.min(tokens.length, limit ?? Number.POSITIVE_INFINITY);
  const usageMetadata = {
    promptTokenCount: promptTokens,
    candidatesTokenCount: candidateTokens,
    totalTokenCount: promptTokens + candidateTokens,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }],
  };
  const head = {
    modelVersion: context.tuned ? context.tuned.baseModel : context.model,
    responseId: ctx.newId("", 22),
    ...(target.api === "vertex" ? { createTime: new Date(ctx.now()).toISOString() } : {}),
  };
  const candidate = (parts: string, finish?: string) => ({
    content: { role: "model", parts: [{ text: parts }] },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  if (!stream) return { json: { candidates: [candidate(text, finishReason)], usageMetadata, ...head } };
  // SSE: the text in a few chunks; the last carries finishReason and the full usage.
  const pieces = text.match(/\S+\s*|\s+/g) ?? [""];
  const pacing = ctx.streaming?.();
  return {
    ...(pacing ? { ssePacing: pacing } : {}),
    sse: pieces.map((piece, i) =>
      JSON.stringify({
        candidates: [candidate(piece, i === pieces.length - 1 ? finishReason : undefined)],
        usageMetadata: i === pieces.length - 1 ? usageMetadata : { promptTokenCount: promptTokens },
        ...head,
      }),
    ),
  };
}

/** countTokens: the prompt's stand-in token count. */
export function countTokensRoute(req: RecordedRequest, target: Target, ctx: GenerateContext): EmuResponse {
  const body = jsonBody(req) as {
    contents?: GeminiContent[];
    generateContentRequest?: GenerateContentRequest;
  };
  ctx.resolveModel(target, "generate");
  const request = body.generateContentRequest ?? { contents: body.contents ?? [] };
  return { json: { totalTokens: promptTokenCount(request) } };
}

/** Stand-in for Gemini's tokenizer: o200k_base tokens of the system instruction and every text part. */
function promptTokenCount(request: Pick<GenerateContentRequest, "contents" | "systemInstruction">): number {
  let tokens = countTokens(partsText(request.systemInstruction));
  for (const content of request.contents) tokens += countTokens(partsText(content));
  return tokens;
}
