// Reference rules for OpenAI chat fine-tuning data: format validation, token counting, default epochs
// and the billed `trained_tokens`. The emulator bills with these; the product has its own estimator,
// and tests compare the two. Source for every constant: OpenAI cookbook "Data preparation and
// analysis for chat model fine-tuning" (examples/Chat_finetuning_data_prep.ipynb), which documents
// the format checks, `num_tokens_from_messages` and the default-epoch rule used below.
import { countTokens } from "../tokens.ts";

/** Cookbook `num_tokens_from_messages`: every message costs 3 tokens of framing... */
export const TOKENS_PER_MESSAGE = 3;
/** ...plus 1 when it carries a `name`... */
export const TOKENS_PER_NAME = 1;
/** ...and every example 3 more, for priming the assistant's reply. */
export const REPLY_PRIMING_TOKENS = 3;

/** Default-epoch rule (cookbook): aim for 3 epochs, but keep examples x epochs within [100, 25000]. */
export const TARGET_EPOCHS = 3;
export const MIN_TARGET_EXAMPLES = 100;
export const MAX_TARGET_EXAMPLES = 25_000;
export const MIN_DEFAULT_EPOCHS = 1;
export const MAX_DEFAULT_EPOCHS = 25;

/** OpenAI refuses smaller training files. */
export const MIN_TRAINING_EXAMPLES = 10;

/**
 * Longer examples are truncated and billed only up to this many tokens. The cookbook uses 16,385
 * (gpt-3.5-turbo's context); the gpt-4o / gpt-4.1 families that are tunable today accept 65,536 tokens
 * per training example, so that is the emulator's default (callers can pass the cookbook's value).
 */
export const DEFAULT_MAX_TOKENS_PER_EXAMPLE = 65_536;

export interface ChatContentPart {
  type: string;
  text?: string;
}

export interface ChatMessage {
  role: string;
  content?: string | ChatContentPart[] | null;
  name?: string;
  weight?: number;
  [key: string]: unknown;
}

export interface ChatExample {
  messages: ChatMessage[];
  [key: string]: unknown;
}

export interface JsonlProblem {
  /** 1-based line number in the file. */
  line: number;
  /** Cookbook error type (`missing_content`, `example_missing_assistant_message`, ...) or `invalid_json`. */
  code: string;
  message: string;
}

export interface ChatJsonlCheck {
  examples: ChatExample[];
  errors: JsonlProblem[];
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);
const MESSAGE_KEYS = new Set([
  "role",
  "content",
  "name",
  "weight",
  "function_call",
  "tool_calls",
  "tool_call_id",
  "refusal",
]);

/** Text of a message's content, whether a string or an array of `{type: "text", text}` parts. */
export function messageText(content: ChatMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (typeof part.text === "string" ? part.text : "")).join("");
}

/**
 * Cookbook `num_tokens_from_messages` with o200k_base: per message 3 + tokens(role) + tokens(content)
 * (+ tokens(name) + 1 with a name), then + 3 per example. The cookbook encodes every value of the
 * message dict; only role, content and name are text, so those are what is counted here.
 */
export function countChatMessagesTokens(messages: readonly ChatMessage[]): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    tokens += TOKENS_PER_MESSAGE + countTokens(message.role) + countTokens(messageText(message.content));
    if (typeof message.name === "string") tokens += countTokens(message.name) + TOKENS_PER_NAME;
  }
  return tokens;
}

/** Tokens billed for one example: its count, truncated at the per-example limit. */
export function countExampleTokens(
  example: ChatExample,
  maxTokensPerExample = DEFAULT_MAX_TOKENS_PER_EXAMPLE,
): number {
  return Math.min(maxTokensPerExample, countChatMessagesTokens(example.messages));
}

/**
 * n_epochs "auto" (cookbook): 3, unless that trains on fewer than 100 or more than 25,000 examples;
 * then floor(100 / n) capped at 25, or floor(25000 / n) at least 1. Note the floor (Python `//`):
 * 10 examples give 10 epochs, 12 give 8, 40 give 3 (since 40 x 3 >= 100).
 */
export function resolveAutoEpochs(nExamples: number): number {
  if (nExamples <= 0) return TARGET_EPOCHS;
  if (nExamples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES)
    return Math.min(MAX_DEFAULT_EPOCHS, Math.floor(MIN_TARGET_EXAMPLES / nExamples));
  if (nExamples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES)
    return Math.max(MIN_DEFAULT_EPOCHS, Math.floor(MAX_TARGET_EXAMPLES / nExamples));
  return TARGET_EPOCHS;
}

export interface TrainedTokensEstimate {
  examples: number;
  /** Billed tokens of one pass over the file. */
  tokensPerEpoch: number;
  nEpochs: number;
  /** What the job reports as `trained_tokens`: tokensPerEpoch x nEpochs. */
  trainedTokens: number;
}

export function estimateTrainedTokens(
  examples: readonly ChatExample[],
  nEpochs: number | "auto" = "auto",
  maxTokensPerExample = DEFAULT_MAX_TOKENS_PER_EXAMPLE,
): TrainedTokensEstimate {
  const tokensPerEpoch = examples.reduce((sum, ex) => sum + countExampleTokens(ex, maxTokensPerExample), 0);
  const epochs = nEpochs === "auto" ? resolveAutoEpochs(examples.length) : nEpochs;
  return {
    examples: examples.length,
    tokensPerEpoch,
    nEpochs: epochs,
    trainedTokens: tokensPerEpoch * epochs,
  };
}

/**
 * The cookbook's format checks, line by line. Examples with errors are left out of `examples`.
 * A trailing newline (or trailing blank lines) is fine; a blank line in the middle is not JSON.
 */
export function checkChatJsonl(data: Buffer | string): ChatJsonlCheck {
  const lines = (typeof data === "string" ? data : data.toString("utf8")).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  const examples: ChatExample[] = [];
  const errors: JsonlProblem[] = [];
  lines.forEach((text, index) => {
    const line = index + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      errors.push({ line, code: "invalid_json", message: `line ${line} is not valid JSON` });
      return;
    }
    const problems = checkExample(parsed);
    for (const [code, message] of problems) errors.push({ line, code, message: `line ${line}: ${message}` });
    if (problems.length === 0) examples.push(parsed as ChatExample);
  });
  return { examples, errors };
}

function checkExample(value: unknown): Array<[string, string]> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [["data_type", "each line must be a JSON object"]];
  const messages = (value as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0)
    return [["missing_messages_list", "`messages` must be a non-empty array"]];
  const problems: Array<[string, string]> = [];
  messages.forEach((m: unknown, i) => {
    if (typeof m !== "object" || m === null) {
      problems.push(["message_missing_key", `messages[${i}] is not an object`]);
      return;
    }
    const message = m as Record<string, unknown>;
    if (!("role" in message) || !("content" in message))
      problems.push(["message_missing_key", `messages[${i}] needs both \`role\` and \`content\``]);
    const unknownKeys = Object.keys(message).filter((k) => !MESSAGE_KEYS.has(k));
    if (unknownKeys.length)
      problems.push([
        "message_unrecognized_key",
        `messages[${i}] has unrecognized keys: ${unknownKeys.join(", ")}`,
      ]);
    if (typeof message.role !== "string" || !ROLES.has(message.role))
      problems.push([
        "unrecognized_role",
        `messages[${i}].role ${JSON.stringify(message.role)} is not recognized`,
      ]);
    const hasCall = message.function_call != null || message.tool_calls != null;
    const content = message.content;
    const hasText =
      (typeof content === "string" && content.length > 0) ||
      (Array.isArray(content) && messageText(content as ChatContentPart[]).length > 0);
    if (!hasText && !hasCall) problems.push(["missing_content", `messages[${i}] has no text content`]);
  });
  if (!messages.some((m: unknown) => (m as { role?: unknown } | null)?.role === "assistant"))
    problems.push(["example_missing_assistant_message", "the example has no assistant message"]);
  return problems;
}
