// What a fine-tuning run will cost and roughly how long it takes, computed before anything is uploaded
// so the user can approve a price. The token rules are the ones the providers bill with:
//
// * OpenAI bills `trained_tokens` = (tokens of the training file) x n_epochs, where a file's tokens are
//   the cookbook's `num_tokens_from_messages` per example (o200k_base for the gpt-4o / gpt-4.1
//   families), each example capped at the per-example context. The validation file is not billed.
//   Source: OpenAI cookbook "Data preparation and analysis for chat model fine-tuning".
// * Vertex bills dataset tokens x epochs (`totalBillableTokenCount` x `epochCount`). Gemini's tokenizer
//   is not available offline, so Vertex counts here are o200k_base tokens of every text part, which is
//   a close stand-in, not Google's exact number; the job reports the real count once it has validated
//   the data (see the Vertex provider's `trainedTokens`).
// * Together bills tokens processed = n_epochs x (tokens of the training file) + n_evals x (tokens of
//   the validation file), counted with the base model's own tokenizer after its chat template
//   (docs.together.ai "Fine-tuning pricing"). Open-weights tokenizers are not bundled here, so the
//   count below is o200k_base text plus 4 tokens of template per message (ChatML and Llama 3 both
//   frame a message with four tokens): close, not exact. The provider's estimate-price is the quote
//   to trust (FineTuneProvider.quotePrice); the job reports the real count (`token_count`).
// * Self-hosted (the trainer/ worker on the operator's GPU) bills nothing: the cost is GPU time.
//   Tokens are counted as for Together (the worker renders the same chat JSONL with the base model's
//   template), the time is those tokens at the operator's measured TRAINER_TOKENS_PER_SECOND, and the
//   price is that time at TRAINER_GPU_USD_PER_HOUR (0 by default: the hardware is already paid for).
import { countTokens } from "../tokens.ts";

export type FineTuneProviderName = "openai" | "vertex" | "together" | "self-hosted";

/** Cookbook framing: every message costs 3 tokens, a `name` 1 more, and every example 3 for priming. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;

/**
 * OpenAI truncates (and bills only up to) this many tokens per training example: the per-example
 * context of the tunable gpt-4o / gpt-4.1 families.
 */
export const OPENAI_MAX_TOKENS_PER_EXAMPLE = 65_536;

/** OpenAI's "auto" epochs: aim for 3, but keep examples x epochs within [100, 25000] (cookbook). */
const OPENAI_TARGET_EPOCHS = 3;
const OPENAI_MIN_TARGET_EXAMPLES = 100;
const OPENAI_MAX_TARGET_EXAMPLES = 25_000;
const OPENAI_MAX_DEFAULT_EPOCHS = 25;
const OPENAI_MAX_EPOCHS = 50;

/**
 * Vertex picks a "recommended" epoch count server-side when none is sent and does not publish the
 * rule, so an estimate could not match the bill. The product therefore always sends an explicit
 * count; "auto" means this one (also the emulator's default).
 */
export const VERTEX_AUTO_EPOCHS = 5;
const VERTEX_MAX_EPOCHS = 100;

/**
 * Together's API default is 1 epoch, which barely moves a LoRA trained on the few dozen examples one
 * person has; "auto" means 3 (the product's choice). Each model has its own `max_num_epochs`
 * (GET /v1/fine-tunes/models/limits); 20 is the product's upper bound, and Together refuses more
 * than the model allows when the job is created.
 */
export const TOGETHER_AUTO_EPOCHS = 3;
const TOGETHER_MAX_EPOCHS = 20;
/** The trainer's own bound (trainer/README.md, "Training"); "auto" is Together's 3, for the same reason. */
const SELF_HOSTED_MAX_EPOCHS = 100;
/** Chat-template tokens around each message (see the header). */
const TOGETHER_TEMPLATE_TOKENS_PER_MESSAGE = 4;

export function countOpenAIExampleTokens(
  messages: { role: string; content: string; name?: string }[],
): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + countTokens(message.role) + countTokens(message.content);
    if (typeof message.name === "string") total += countTokens(message.name) + TOKENS_PER_NAME;
  }
  return total;
}

/** Tokens of one pass over a JSONL file in the provider's format (what one epoch is billed). */
export function countJsonlTokens(jsonl: string, provider: FineTuneProviderName): number {
  let total = 0;
  for (const line of jsonl.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const example = JSON.parse(line) as unknown;
    total +=
      provider === "openai"
        ? openAILineTokens(example)
        : provider === "together" || provider === "self-hosted"
          ? togetherLineTokens(example)
          : vertexLineTokens(example);
  }
  return total;
}

function openAILineTokens(example: unknown): number {
  const messages = (example as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return 0;
  const counted = messages.map((m) => {
    const message = m as { role?: unknown; content?: unknown; name?: unknown };
    return {
      role: typeof message.role === "string" ? message.role : "",
      content: contentText(message.content),
      ...(typeof message.name === "string" ? { name: message.name } : {}),
    };
  });
  return Math.min(OPENAI_MAX_TOKENS_PER_EXAMPLE, countOpenAIExampleTokens(counted));
}

function togetherLineTokens(example: unknown): number {
  const messages = (example as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return 0;
  let total = 0;
  for (const m of messages) {
    const message = m as { role?: unknown; content?: unknown };
    total +=
      TOGETHER_TEMPLATE_TOKENS_PER_MESSAGE +
      countTokens(typeof message.role === "string" ? message.role : "") +
      countTokens(contentText(message.content));
  }
  return total;
}

/** OpenAI accepts content as a string or as `{type: "text", text}` parts; both count as their text. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (typeof part?.text === "string" ? (part.text as string) : "")).join("");
}

function vertexLineTokens(example: unknown): number {
  const { systemInstruction, contents } = example as { systemInstruction?: unknown; contents?: unknown };
  let total = countTokens(partsText(systemInstruction));
  if (Array.isArray(contents)) for (const content of contents) total += countTokens(partsText(content));
  return total;
}

function partsText(content: unknown): string {
  const parts = (content as { parts?: unknown } | null | undefined)?.parts;
  if (!Array.isArray(parts)) return "";
  return parts.map((part) => (typeof part?.text === "string" ? (part.text as string) : "")).join("");
}

/**
 * The epoch count a job will run with. OpenAI "auto" follows the cookbook rule the API applies (3,
 * unless that trains on fewer than 100 or more than 25,000 examples; integer division, as in Python
 * `//`): 10 examples -> 10 epochs, 12 -> 8, 50 -> 3, 10,000 -> 2. Vertex "auto" is VERTEX_AUTO_EPOCHS,
 * Together "auto" TOGETHER_AUTO_EPOCHS.
 */
export function resolveEpochs(
  configured: "auto" | number,
  examples: number,
  provider: FineTuneProviderName,
): number {
  if (configured !== "auto") {
    const max =
      provider === "openai"
        ? OPENAI_MAX_EPOCHS
        : provider === "together"
          ? TOGETHER_MAX_EPOCHS
          : provider === "self-hosted"
            ? SELF_HOSTED_MAX_EPOCHS
            : VERTEX_MAX_EPOCHS;
    if (!Number.isInteger(configured) || configured < 1 || configured > max)
      throw new RangeError(`epochs must be "auto" or an integer from 1 to ${max} for ${provider}`);
    return configured;
  }
  if (provider === "vertex") return VERTEX_AUTO_EPOCHS;
  if (provider === "together" || provider === "self-hosted") return TOGETHER_AUTO_EPOCHS;
  if (examples <= 0) return OPENAI_TARGET_EPOCHS;
  if (examples * OPENAI_TARGET_EPOCHS < OPENAI_MIN_TARGET_EXAMPLES)
    return Math.min(OPENAI_MAX_DEFAULT_EPOCHS, Math.floor(OPENAI_MIN_TARGET_EXAMPLES / examples));
  if (examples * OPENAI_TARGET_EPOCHS > OPENAI_MAX_TARGET_EXAMPLES)
    return Math.max(1, Math.floor(OPENAI_MAX_TARGET_EXAMPLES / examples));
  return OPENAI_TARGET_EPOCHS;
}

export interface CostEstimate {
  /** Billed tokens: tokensPerEpoch x epochs (OpenAI's `trained_tokens`). */
  trainedTokens: number;
  epochs: number;
  /** Rounded to micro-dollars. */
  costUsd: number;
  /** Rough wall-clock time from job creation to a usable model; see DURATION_MODEL. */
  estimatedSeconds: number;
  tokensPerEpoch: number;
}

/**
 * Duration model, deliberately rough: a fixed overhead for validation, queueing and publishing the
 * model, plus trained tokens at a steady throughput. Queue time dominates small jobs and varies from
 * minutes to hours with provider load, so this is for "about how long" messages, never for timeouts.
 * The numbers are order-of-magnitude observations of small LoRA-style jobs, not published figures.
 */
export const DURATION_MODEL: Record<
  FineTuneProviderName,
  { overheadSeconds: number; tokensPerSecond: number }
> = {
  openai: { overheadSeconds: 15 * 60, tokensPerSecond: 2_000 },
  // Vertex provisions a pipeline per job, which adds a longer fixed start-up.
  vertex: { overheadSeconds: 30 * 60, tokensPerSecond: 1_000 },
  // Together queues jobs behind others (`queue_depth`), then compresses and uploads the adapter.
  together: { overheadSeconds: 20 * 60, tokensPerSecond: 2_000 },
  // The worker polls every few seconds, loads the base model and saves the adapter: about two
  // minutes on a GPU. Its throughput is the operator's measured TRAINER_TOKENS_PER_SECOND (below).
  "self-hosted": { overheadSeconds: 2 * 60, tokensPerSecond: 1_000 },
};

/** The operator's own hardware (FINETUNE_PROVIDER=self-hosted): TRAINER_TOKENS_PER_SECOND, TRAINER_GPU_USD_PER_HOUR. */
export interface TrainerHardware {
  tokensPerSecond: number;
  gpuUsdPerHour: number;
}

/** What `seconds` of the operator's GPU cost, in micro-dollars. */
export function gpuTimeUsd(seconds: number, gpuUsdPerHour: number): number {
  return Math.round((seconds / 3600) * gpuUsdPerHour * 1_000_000) / 1_000_000;
}

export function estimateCost(input: {
  provider: FineTuneProviderName;
  trainJsonl: string;
  examples: number;
  epochs: "auto" | number;
  pricePer1MTokens: number;
  /** Self-hosted: the time comes from the measured throughput, the cost is that GPU time. */
  trainer?: TrainerHardware;
}): CostEstimate {
  const tokensPerEpoch = countJsonlTokens(input.trainJsonl, input.provider);
  const epochs = resolveEpochs(input.epochs, input.examples, input.provider);
  const trainedTokens = tokensPerEpoch * epochs;
  const { overheadSeconds, tokensPerSecond: defaultRate } = DURATION_MODEL[input.provider];
  if (input.provider === "self-hosted") {
    const hardware = input.trainer ?? { tokensPerSecond: defaultRate, gpuUsdPerHour: 0 };
    const estimatedSeconds = Math.round(overheadSeconds + trainedTokens / hardware.tokensPerSecond);
    return {
      trainedTokens,
      epochs,
      costUsd: gpuTimeUsd(estimatedSeconds, hardware.gpuUsdPerHour),
      estimatedSeconds,
      tokensPerEpoch,
    };
  }
  const tokensPerSecond = defaultRate;
  return {
    trainedTokens,
    epochs,
    // tokens x $/1M tokens, in micro-dollars, is exactly tokens x price.
    costUsd: Math.round(trainedTokens * input.pricePer1MTokens) / 1_000_000,
    estimatedSeconds: Math.round(overheadSeconds + trainedTokens / tokensPerSecond),
    tokensPerEpoch,
  };
}
