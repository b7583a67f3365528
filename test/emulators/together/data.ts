// Reference rules for Together's conversational fine-tuning files: the format check Together runs on
// upload and the tokens it bills. Sources:
// * docs.together.ai "Data preparation": JSONL of `{"messages": [{role, content}, ...]}`, roles
//   system/user/assistant, "The conversation must start with system or user and alternate user and
//   assistant afterwards"; a line with two possible formats is rejected.
// * together-python @ eba5e5f0 (2025-12-23) `constants.py` / `utils/files.py`: MIN_SAMPLES = 1, the
//   error texts quoted below, per-message `weight` 0 or 1.
// * docs.together.ai "Fine-tuning pricing": tokens processed = n_epochs x training-file tokens +
//   n_evals x validation-file tokens; no minimum price.
// Together counts with the base model's tokenizer after its chat template. The emulator stands in
// with cl100k_base text plus four template tokens per message (ChatML and Llama 3 frame a message
// with four), a deliberately different BPE from the product's o200k_base estimate, so tests see that
// the provider's count is the one to trust.
import { countTokens as countCl100k } from "gpt-tokenizer/encoding/cl100k_base";

export const MIN_SAMPLES = 1;
export const TEMPLATE_TOKENS_PER_MESSAGE = 4;

export interface TogetherMessage {
  role: string;
  content: string;
  weight?: number;
}

export interface TogetherExample {
  messages: TogetherMessage[];
}

export interface TogetherFileCheck {
  valid: boolean;
  examples: TogetherExample[];
  /** The first problem, worded like Together's checks (what `validation_report.error` carries). */
  error?: string;
  /** Tokens of one pass over the file (0 when invalid). */
  tokens: number;
}

const ROLES = new Set(["system", "user", "assistant"]);

export function countExampleTokens(example: TogetherExample): number {
  return example.messages.reduce(
    (sum, m) =>
      sum +
      TEMPLATE_TOKENS_PER_MESSAGE +
      countCl100k(m.role, { disallowedSpecial: new Set() }) +
      countCl100k(m.content, { disallowedSpecial: new Set() }),
    0,
  );
}

/** Checks a whole file; the first problem makes it invalid, as Together's validator reports one error. */
export function checkTogetherJsonl(data: Buffer): TogetherFileCheck {
  const invalid = (error: string): TogetherFileCheck => ({ valid: false, examples: [], error, tokens: 0 });
  if (data.length === 0) return invalid("File is empty");
  const lines = data.toString("utf8").split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  const examples: TogetherExample[] = [];
  for (const [index, text] of lines.entries()) {
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return invalid(`Error parsing file. Invalid format on line ${line} of the input file.`);
    }
    const problem = checkExample(value, line);
    if (problem) return invalid(problem);
    examples.push(value as TogetherExample);
  }
  if (examples.length < MIN_SAMPLES)
    return invalid(
      `Processing resulted in only ${examples.length} samples. Our minimum is ${MIN_SAMPLES} samples.`,
    );
  return { valid: true, examples, tokens: examples.reduce((sum, e) => sum + countExampleTokens(e), 0) };
}

function checkExample(value: unknown, line: number): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return `Error parsing file. Invalid format on line ${line} of the input file. Expected a JSON object.`;
  const keys = Object.keys(value);
  if (keys.includes("messages") && keys.some((k) => k === "text" || k === "prompt"))
    return `Line ${line}: the example matches more than one dataset format.`;
  const messages = (value as { messages?: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0)
    return `Line ${line}: The \`messages\` column must not be empty.`;
  let expected = "user";
  for (const [i, m] of messages.entries()) {
    const message = m as Record<string, unknown> | null;
    if (typeof message !== "object" || message === null || !("role" in message) || !("content" in message))
      return `Line ${line}: each message needs a \`role\` and a \`content\`.`;
    if (typeof message.role !== "string" || !ROLES.has(message.role))
      return `Line ${line}: Found invalid role \`${String(message.role)}\`. Valid roles are system, user, assistant.`;
    if (typeof message.content !== "string" || message.content === "")
      return `Line ${line}: message ${i} has no text content.`;
    if ("weight" in message && message.weight !== 0 && message.weight !== 1)
      return `Weight must be either 0 or 1 on line ${line}.`;
    if (message.role === "system" && i === 0) continue;
    if (message.role !== expected)
      return `Line ${line}: After the optional system message, conversation roles must alternate between user/assistant/user/assistant.`;
    expected = expected === "user" ? "assistant" : "user";
  }
  if (!messages.some((m) => (m as { role?: unknown }).role === "assistant"))
    return `Line ${line}: At least one message with the assistant role must be present in the example.`;
  return undefined;
}
