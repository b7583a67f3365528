// Turns a user's answered exchanges into fine-tuning files (OpenAI chat JSONL, Vertex Gemini JSONL, or
// Together's conversational JSONL, which is OpenAI's `{"messages": [...]}` line under stricter rules).
// Pure: no database, no network, no clock. The same exchanges give byte-identical files whatever order
// they arrive in, so a dataset's sha256 says whether a retrain would see anything new.
import { createHash } from "node:crypto";
import type { PrivacyFilter } from "../privacy-filter.ts";
import { countJsonlTokens, type FineTuneProviderName } from "./cost-estimate.ts";

export interface DatasetSource {
  id: bigint;
  userText: string;
  replyText: string | null;
  status: string;
  rating: number | null;
  createdAt: Date;
}

export interface DatasetOptions {
  provider: FineTuneProviderName;
  systemPrompt: string;
  /** Replies shorter than this (in characters, after trimming) teach little and are dropped. */
  minReplyChars: number;
  privacy: PrivacyFilter;
  /** Share of the examples held out for validation. Default 0.1. */
  validationFraction?: number;
  /** Below this many examples there is no validation file: every example is needed for training. Default 20. */
  minForValidation?: number;
}

export type DropReason = "too_short" | "failed_reply" | "duplicate" | "personal_data" | "empty";

export interface DatasetStats {
  examples: number;
  trainExamples: number;
  validationExamples: number;
  /** Tokens of one pass over the training file, counted the way the provider bills (see cost-estimate.ts). */
  tokens: number;
  /** Personal-data findings replaced in the examples that made it into the files. */
  redactions: number;
  drops: Record<DropReason, number>;
}

export interface Dataset {
  trainJsonl: string;
  validationJsonl?: string;
  /** Exchange ids in either file, ascending. */
  usedIds: bigint[];
  stats: DatasetStats;
  /** sha256 (hex) of the training file, a NUL byte, then the validation file (empty when absent). */
  sha256: string;
}

const DEFAULT_VALIDATION_FRACTION = 0.1;
const DEFAULT_MIN_FOR_VALIDATION = 20;
/** Vertex refuses validation datasets of more than 256 examples; the rest go to training. */
const VERTEX_MAX_VALIDATION_EXAMPLES = 256;

interface Example {
  source: DatasetSource;
  user: string;
  reply: string;
  findings: number;
}

export function buildDataset(sources: DatasetSource[], options: DatasetOptions): Dataset {
  const drops: Record<DropReason, number> = {
    too_short: 0,
    failed_reply: 0,
    duplicate: 0,
    personal_data: 0,
    empty: 0,
  };

  const candidates: Example[] = [];
  for (const source of sources) {
    const reply = source.replyText?.trim() ?? "";
    if (source.status !== "answered" || reply === "") {
      drops.failed_reply++;
      continue;
    }
    const userText = source.userText.trim();
    if (normalisePrompt(userText) === "") {
      drops.empty++;
      continue;
    }
    if ([...reply].length < options.minReplyChars) {
      drops.too_short++;
      continue;
    }
    // Training mode: the shape of personal data is enough, checksum or not (privacy-filter.ts). Every
    // training export (proposals, `npm run admin -- export-dataset`) is built here.
    const user = options.privacy.redact(userText, "training");
    const answer = options.privacy.redact(reply, "training");
    // A second pass catches what redaction itself cannot remove (overlapping or operator patterns that
    // match the placeholders): such an example is unsafe to train on at all.
    if (
      options.privacy.containsPersonalData(user.text, "training") ||
      options.privacy.containsPersonalData(answer.text, "training")
    ) {
      drops.personal_data++;
      continue;
    }
    candidates.push({
      source,
      user: user.text,
      reply: answer.text,
      findings: user.findings.length + answer.findings.length,
    });
  }

  // Near-duplicates are keyed on the redacted prompt: that is the text the model would see twice.
  const byPrompt = new Map<string, Example>();
  for (const candidate of candidates) {
    const key = normalisePrompt(candidate.user);
    const kept = byPrompt.get(key);
    if (kept) drops.duplicate++;
    if (!kept || preferred(candidate, kept)) byPrompt.set(key, candidate);
  }
  const examples = [...byPrompt.values()].sort(chronological);

  const validationIds = chooseValidation(examples, options);
  const train = examples.filter((e) => !validationIds.has(e.source.id));
  const validation = examples.filter((e) => validationIds.has(e.source.id));

  // The system prompt is operator configuration, not user data, and must match the one used when the
  // tuned model answers, so it goes in verbatim.
  // Together reads the same `{"messages": [...]}` lines as OpenAI (docs.together.ai, "Data
  // preparation": conversational format); only its validation rules differ.
  const line = options.provider === "vertex" ? vertexLine : openAILine;
  const trainJsonl = toJsonl(train.map((e) => line(options.systemPrompt, e)));
  const validationJsonl =
    validation.length > 0 ? toJsonl(validation.map((e) => line(options.systemPrompt, e))) : undefined;

  if (examples.length > 0) {
    const validate = VALIDATORS[options.provider];
    const problems = [...validate(trainJsonl), ...(validationJsonl ? validate(validationJsonl) : [])];
    if (problems.length)
      throw new Error(`buildDataset produced an invalid ${options.provider} file: ${problems.join("; ")}`);
  }

  return {
    trainJsonl,
    ...(validationJsonl !== undefined ? { validationJsonl } : {}),
    usedIds: examples.map((e) => e.source.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    stats: {
      examples: examples.length,
      trainExamples: train.length,
      validationExamples: validation.length,
      tokens: countJsonlTokens(trainJsonl, options.provider),
      redactions: examples.reduce((sum, e) => sum + e.findings, 0),
      drops,
    },
    sha256: createHash("sha256")
      .update(trainJsonl)
      .update("\0")
      .update(validationJsonl ?? "")
      .digest("hex"),
  };
}

/** Lowercase, punctuation stripped, whitespace collapsed: "What's up?" and "whats  up" are one prompt. */
export function normalisePrompt(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\p{P}+/gu, "")
    .replace(/\s+/gu, " ")
    .trim();
}

/** Of two answers to the same prompt, the better-rated one teaches the style the user liked; then the newer. */
function preferred(a: Example, b: Example): boolean {
  const ra = a.source.rating ?? Number.NEGATIVE_INFINITY;
  const rb = b.source.rating ?? Number.NEGATIVE_INFINITY;
  if (ra !== rb) return ra > rb;
  const ta = a.source.createdAt.getTime();
  const tb = b.source.createdAt.getTime();
  if (ta !== tb) return ta > tb;
  return a.source.id > b.source.id;
}

function chronological(a: Example, b: Example): number {
  const dt = a.source.createdAt.getTime() - b.source.createdAt.getTime();
  if (dt !== 0) return dt;
  return a.source.id < b.source.id ? -1 : a.source.id > b.source.id ? 1 : 0;
}

/**
 * Held-out ids: the examples whose id hashes lowest. Hashing (rather than taking the newest) spreads the
 * validation set over the user's history, and depends only on the ids, not on the input order. Ranking
 * instead of thresholding the hash gives exactly round(n x fraction) examples even for small n.
 */
function chooseValidation(examples: Example[], options: DatasetOptions): Set<bigint> {
  const fraction = options.validationFraction ?? DEFAULT_VALIDATION_FRACTION;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError("validationFraction must be in [0, 1)");
  const n = examples.length;
  if (n < (options.minForValidation ?? DEFAULT_MIN_FOR_VALIDATION) || fraction === 0) return new Set();
  let count = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  if (options.provider === "vertex") count = Math.min(count, VERTEX_MAX_VALIDATION_EXAMPLES);
  const ranked = examples
    .map((e) => ({
      id: e.source.id,
      rank: createHash("sha256").update(`split:${e.source.id}`).digest("hex"),
    }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  return new Set(ranked.slice(0, count).map((r) => r.id));
}

function openAILine(systemPrompt: string, e: Example): unknown {
  return {
    messages: [
      // OpenAI rejects messages with empty content, so no system prompt means no system message.
      ...(systemPrompt ? [{ role: "system", content: systemPrompt }] : []),
      { role: "user", content: e.user },
      { role: "assistant", content: e.reply },
    ],
  };
}

function vertexLine(systemPrompt: string, e: Example): unknown {
  return {
    ...(systemPrompt ? { systemInstruction: { role: "system", parts: [{ text: systemPrompt }] } } : {}),
    contents: [
      { role: "user", parts: [{ text: e.user }] },
      { role: "model", parts: [{ text: e.reply }] },
    ],
  };
}

function toJsonl(lines: unknown[]): string {
  return lines.map((l) => `${JSON.stringify(l)}\n`).join("");
}

// ---------------------------------------------------------------------------------------------
// Validators. They check the subset of each provider's format that this product writes, so that a
// bug here fails before upload instead of an hour later as a failed job.

type LineCheck = (value: Record<string, unknown>) => string[];

const VALIDATORS: Record<FineTuneProviderName, (jsonl: string) => string[]> = {
  openai: (jsonl) => validateOpenAIJsonl(jsonl),
  vertex: (jsonl) => validateVertexJsonl(jsonl),
  together: (jsonl) => validateTogetherJsonl(jsonl),
  // The trainer reads OpenAI's chat JSONL (trainer/README.md, "The contract").
  "self-hosted": (jsonl) => validateOpenAIJsonl(jsonl),
};

function validateLines(jsonl: string, check: LineCheck): string[] {
  const lines = jsonl.split(/\r?\n/);
  // A trailing newline (or several) is fine; a blank line in the middle is not JSON to the providers.
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  if (lines.length === 0) return ["the file has no examples"];
  const problems: string[] = [];
  lines.forEach((text, index) => {
    const where = `line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      problems.push(`${where}: not valid JSON`);
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${where}: must be a JSON object`);
      return;
    }
    for (const problem of check(value as Record<string, unknown>)) problems.push(`${where}: ${problem}`);
  });
  return problems;
}

function unexpectedKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): string[] {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  return extra.length ? [`${where} has unexpected keys: ${extra.join(", ")}`] : [];
}

const OPENAI_LINE_KEYS = ["messages", "tools", "functions", "parallel_tool_calls"];
const OPENAI_MESSAGE_KEYS = ["role", "content", "name", "weight"];
// OpenAI also accepts developer/tool/function roles; this product never writes them, so seeing one
// means a bug.
const OPENAI_ROLES = ["system", "user", "assistant"];
const OPENAI_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** OpenAI chat fine-tuning format problems, one string per problem; empty means valid. */
export function validateOpenAIJsonl(jsonl: string): string[] {
  return validateLines(jsonl, (line) => {
    const problems = unexpectedKeys(line, OPENAI_LINE_KEYS, "the example");
    const messages = line.messages;
    if (!Array.isArray(messages) || messages.length === 0)
      return [...problems, "`messages` must be a non-empty array"];
    messages.forEach((m: unknown, i) => {
      const where = `messages[${i}]`;
      if (typeof m !== "object" || m === null || Array.isArray(m)) {
        problems.push(`${where} must be an object`);
        return;
      }
      const message = m as Record<string, unknown>;
      problems.push(...unexpectedKeys(message, OPENAI_MESSAGE_KEYS, where));
      if (typeof message.role !== "string" || !OPENAI_ROLES.includes(message.role))
        problems.push(`${where}.role must be one of ${OPENAI_ROLES.join(", ")}`);
      if (typeof message.content !== "string" || message.content === "")
        problems.push(`${where}.content must be a non-empty string`);
      if ("name" in message && (typeof message.name !== "string" || !OPENAI_NAME.test(message.name)))
        problems.push(`${where}.name must be 1-64 letters, digits, "_" or "-"`);
      if (
        "weight" in message &&
        (message.role !== "assistant" || (message.weight !== 0 && message.weight !== 1))
      )
        problems.push(`${where}.weight is only allowed on assistant messages, as 0 or 1`);
    });
    if (!messages.some((m) => (m as { role?: unknown } | null)?.role === "assistant"))
      problems.push("the example has no assistant message");
    return problems;
  });
}

const TOGETHER_ROLES = ["system", "user", "assistant"];
const TOGETHER_MESSAGE_KEYS = ["role", "content", "weight"];

/**
 * Together conversational format problems, one string per problem; empty means valid. The rules are
 * Together's (docs.together.ai "Data preparation"; together-python `utils/files.py` @ eba5e5f0):
 * roles system/user/assistant; "The conversation must start with system or user and alternate user
 * and assistant afterwards"; at least one assistant message; `weight`, if present, 0 or 1. A line must
 * hold only `messages`: "If the same file has two possible formats ... the server rejects it."
 */
export function validateTogetherJsonl(jsonl: string): string[] {
  return validateLines(jsonl, (line) => {
    const problems = unexpectedKeys(line, ["messages"], "the example");
    const messages = line.messages;
    if (!Array.isArray(messages) || messages.length === 0)
      return [...problems, "The `messages` column must not be empty."];
    let expected: "user" | "assistant" = "user";
    messages.forEach((m: unknown, i) => {
      const where = `messages[${i}]`;
      if (typeof m !== "object" || m === null || Array.isArray(m)) {
        problems.push(`${where} must be an object`);
        return;
      }
      const message = m as Record<string, unknown>;
      problems.push(...unexpectedKeys(message, TOGETHER_MESSAGE_KEYS, where));
      if (typeof message.role !== "string" || !TOGETHER_ROLES.includes(message.role))
        problems.push(`${where}.role must be one of ${TOGETHER_ROLES.join(", ")}`);
      else if (message.role === "system") {
        if (i !== 0) problems.push(`${where}: a system message may only open the conversation`);
      } else if (message.role !== expected) {
        problems.push(
          `${where}: after the optional system message, roles must alternate user/assistant (expected ${expected})`,
        );
      } else expected = expected === "user" ? "assistant" : "user";
      if (typeof message.content !== "string" || message.content === "")
        problems.push(`${where}.content must be a non-empty string`);
      if ("weight" in message && message.weight !== 0 && message.weight !== 1)
        problems.push(`${where}.weight must be either 0 or 1`);
    });
    if (!messages.some((m) => (m as { role?: unknown } | null)?.role === "assistant"))
      problems.push("At least one message with the assistant role must be present in the example.");
    return problems;
  });
}

/** Vertex (Gemini) supervised tuning format problems, one string per problem; empty means valid. */
export function validateVertexJsonl(jsonl: string): string[] {
  return validateLines(jsonl, (line) => {
    const problems = unexpectedKeys(line, ["systemInstruction", "contents"], "the example");
    if ("messages" in line) problems.push("this line uses OpenAI's `messages` format");
    if ("systemInstruction" in line)
      problems.push(...checkContent(line.systemInstruction, "systemInstruction"));
    const contents = line.contents;
    if (!Array.isArray(contents) || contents.length === 0)
      return [...problems, "`contents` must be a non-empty array"];
    contents.forEach((c: unknown, i) => {
      const where = `contents[${i}]`;
      problems.push(...checkContent(c, where));
      const expected = i % 2 === 0 ? "user" : "model";
      const role = (c as { role?: unknown } | null)?.role;
      if (role !== expected)
        problems.push(`${where}.role must be "${expected}" (turns alternate user/model, starting with user)`);
    });
    if ((contents.at(-1) as { role?: unknown } | null)?.role !== "model")
      problems.push("the last turn must be the model's");
    return problems;
  });
}

function checkContent(value: unknown, where: string): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [`${where} must be an object`];
  const content = value as Record<string, unknown>;
  const problems = unexpectedKeys(content, ["role", "parts"], where);
  if ("role" in content && typeof content.role !== "string") problems.push(`${where}.role must be a string`);
  if (!Array.isArray(content.parts) || content.parts.length === 0)
    return [...problems, `${where}.parts must be a non-empty array`];
  content.parts.forEach((p: unknown, j) => {
    const part = p as Record<string, unknown> | null;
    if (typeof part !== "object" || part === null || Array.isArray(part)) {
      problems.push(`${where}.parts[${j}] must be an object`);
      return;
    }
    problems.push(...unexpectedKeys(part, ["text"], `${where}.parts[${j}]`));
    if (typeof part.text !== "string" || part.text === "")
      problems.push(`${where}.parts[${j}].text must be a non-empty string`);
  });
  return problems;
}
