// Together's OpenAI-compatible `POST /v1/chat/completions`, with the model resolution that matters to a
// product serving tuned models:
// * a serverless base model answers;
// * a completed fine-tune answers by its `model_output_name` while `serverlessLora` is on (the retired
//   serverless-LoRA path); with it off, Together's answer for a model that is not served serverless:
//   400 "Unable to access non-serverless model ..." `model_not_available`;
// * a v2 dedicated endpoint answers by its endpoint string, and an attached, READY adapter by its
//   adapter model name (see deployments.ts for that assumption);
// * anything else: 404 "Unable to access model ...", `model_not_found`.
// The two error texts are Together's as third-party reports quote them (2024-02 and 2024-12).
import { countTokens as countCl100k, decode, encode } from "gpt-tokenizer/encoding/cl100k_base";
import type { RecordedRequest } from "../http-recorder.ts";
import type { TogetherDeployments } from "./deployments.ts";
import { togetherFail } from "./errors.ts";
import type { JobRecord } from "./fine-tunes.ts";

export interface ChatMessageIn {
  role: string;
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessageIn[];
  max_tokens?: number;
  [key: string]: unknown;
}

/** Who answered a chat request. */
export interface ChatAnswer {
  model: string;
  kind: "base" | "fine-tune" | "endpoint" | "adapter";
  /** The base model that ran it. */
  baseModel: string;
  at: number;
}

export type ChatReply = (request: ChatRequest, answer: ChatAnswer) => string;

export const defaultChatReply: ChatReply = (request, answer) => {
  const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
  return `echo(${answer.model}): ${String(lastUser?.content ?? "").slice(0, 200)}`;
};

export interface ChatDeps {
  now: () => number;
  newId: () => string;
  baseModels: ReadonlySet<string>;
  serverlessLora: () => boolean;
  completedJobs: () => Iterable<JobRecord>;
  deployments: TogetherDeployments;
  reply: () => ChatReply;
  answers: ChatAnswer[];
}

export function chatCompletion(req: RecordedRequest, deps: ChatDeps) {
  const body = req.body as Partial<ChatRequest> | undefined;
  if (typeof body !== "object" || body === null || Buffer.isBuffer(body))
    togetherFail(400, "The request body must be a JSON object.");
  if (typeof body.model !== "string" || body.model === "")
    togetherFail(400, "Missing required field: model", { param: "model" });
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    togetherFail(400, "messages must be a non-empty array", { param: "messages" });
  const request = body as ChatRequest;
  const answer = resolve(request.model, deps);
  deps.answers.push(answer);
  let content = deps.reply()(request, answer);
  let finishReason = "stop";
  const replyTokens = encode(content, { disallowedSpecial: new Set() });
  if (typeof request.max_tokens === "number" && replyTokens.length > request.max_tokens) {
    content = decode(replyTokens.slice(0, request.max_tokens));
    finishReason = "length";
  }
  const promptTokens = request.messages.reduce((sum, m) => sum + 4 + countCl100k(String(m.content ?? "")), 0);
  const completionTokens = countCl100k(content);
  return {
    id: deps.newId(),
    object: "chat.completion",
    created: Math.floor(deps.now() / 1000),
    model: request.model,
    prompt: [],
    choices: [
      {
        index: 0,
        message: { role: "assistant", content, tool_calls: [] },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      cached_tokens: 0,
    },
  };
}

function resolve(model: string, deps: ChatDeps): ChatAnswer {
  const at = deps.now();
  if (deps.baseModels.has(model)) return { model, kind: "base", baseModel: model, at };
  for (const job of deps.completedJobs())
    if (job.modelOutputName === model) {
      if (!deps.serverlessLora())
        togetherFail(
          400,
          `Unable to access non-serverless model ${model}. Please visit https://api.together.ai/models/${model} to create and start a new dedicated endpoint for the model.`,
          { code: "model_not_available" },
        );
      return { model, kind: "fine-tune", baseModel: job.model, at };
    }
  const endpoint = deps.deployments.deployments.find((d) => d.endpointName === model);
  if (endpoint) return { model, kind: "endpoint", baseModel: endpoint.baseModel, at };
  const adapter = deps.deployments.servingAdapter(model);
  if (adapter) return { model, kind: "adapter", baseModel: adapter.deployment.baseModel, at };
  togetherFail(
    404,
    `Unable to access model ${model}. Please visit https://api.together.xyz to see the list of supported models or contact the owner to request access.`,
    { code: "model_not_found" },
  );
}

/**
 * `stream: true`: the same completion as server-sent chunks in the OpenAI-compatible shape
 * Together streams (a role chunk, the text piece by piece, the finish reason, the usage with the
 * last chunk), then [DONE].
 */
export function chatCompletionEvents(completion: ReturnType<typeof chatCompletion>): string[] {
  const { id, created, model } = completion;
  const choice = completion.choices[0]!;
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...extra,
    });
  return [
    chunk({ role: "assistant", content: "" }, null),
    ...(choice.message.content.match(/\S+\s*|\s+/g) ?? []).map((piece) => chunk({ content: piece }, null)),
    chunk({}, choice.finish_reason, { usage: completion.usage }),
    "[DONE]",
  ];
}
