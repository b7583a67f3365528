// Vertex AI supervised-tuning data, as the emulator checks it: JSONL, one
// `{"systemInstruction"?, "contents": [{role, parts: [{text}]}]}` per line, its token counts and the
// documented minimum number of examples.
import { countTokens } from "../tokens.ts";

/** Vertex's documented minimum for a supervised tuning dataset (older docs; configurable). */
export const VERTEX_MIN_TRAINING_EXAMPLES = 16;

export interface GeminiPart {
  text?: string;
  [key: string]: unknown;
}

export interface GeminiContent {
  role?: string;
  parts: GeminiPart[];
}

export interface VertexExample {
  systemInstruction?: GeminiContent;
  contents: GeminiContent[];
}

export interface VertexDataProblem {
  line: number;
  code: string;
  message: string;
}

export function partsText(content: GeminiContent | undefined): string {
  return (content?.parts ?? []).map((p) => (typeof p.text === "string" ? p.text : "")).join("");
}

/**
 * Token count of one example. Gemini's tokenizer is not available offline, so the emulator counts
 * o200k_base tokens of every text part (system instruction included) as a deterministic stand-in.
 */
export function countVertexExampleTokens(example: VertexExample): { input: number; output: number } {
  let input = countTokens(partsText(example.systemInstruction));
  let output = 0;
  for (const content of example.contents) {
    const tokens = countTokens(partsText(content));
    if (content.role === "model") output += tokens;
    else input += tokens;
  }
  return { input, output };
}

/** Tokens of one pass over the dataset: what `totalBillableTokenCount` reports (billing = x epochs). */
export function countVertexDatasetTokens(examples: readonly VertexExample[]): number {
  return examples.reduce((sum, ex) => {
    const { input, output } = countVertexExampleTokens(ex);
    return sum + input + output;
  }, 0);
}

export function checkVertexJsonl(data: Buffer | string): {
  examples: VertexExample[];
  errors: VertexDataProblem[];
} {
  const lines = (typeof data === "string" ? data : data.toString("utf8")).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  const examples: VertexExample[] = [];
  const errors: VertexDataProblem[] = [];
  lines.forEach((text, index) => {
    const line = index + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      errors.push({ line, code: "invalid_json", message: `line ${line}: not valid JSON` });
      return;
    }
    const problems = checkVertexExample(parsed);
    for (const [code, message] of problems) errors.push({ line, code, message: `line ${line}: ${message}` });
    if (!problems.length) examples.push(parsed as VertexExample);
  });
  return { examples, errors };
}

function checkVertexExample(value: unknown): Array<[string, string]> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [["data_type", "each line must be a JSON object"]];
  const example = value as Record<string, unknown>;
  if (!Array.isArray(example.contents) || example.contents.length === 0)
    return [
      [
        "missing_contents",
        "`contents` must be a non-empty array" +
          (Array.isArray(example.messages) ? " (this line uses OpenAI's `messages` format)" : ""),
      ],
    ];
  const problems: Array<[string, string]> = [];
  const checkContent = (content: unknown, where: string, roles: string[] | null) => {
    const c = content as Partial<GeminiContent> | null;
    if (typeof c !== "object" || c === null) return problems.push(["data_type", `${where} is not an object`]);
    if (roles && (typeof c.role !== "string" || !roles.includes(c.role)))
      problems.push([
        "invalid_role",
        `${where}.role must be one of ${roles.join(", ")}, got ${JSON.stringify(c.role)}`,
      ]);
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      return problems.push(["missing_parts", `${where}.parts must be a non-empty array`]);
    if (!partsText(c as GeminiContent)) problems.push(["missing_text", `${where} has no text part`]);
  };
  if (example.systemInstruction !== undefined)
    checkContent(example.systemInstruction, "systemInstruction", null);
  for (const [i, c] of example.contents.entries()) checkContent(c, `contents[${i}]`, ["user", "model"]);
  if (!example.contents.some((c) => (c as GeminiContent | null)?.role === "model"))
    problems.push(["missing_model_turn", "the example has no `model` turn to learn from"]);
  return problems;
}
