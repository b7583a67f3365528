// Token counting for prompt budgets and cost estimates: o200k_base, the tokenizer of OpenAI's
// current models. For Gemini it is an approximation, which is all a prompt budget needs.
import { encode } from "gpt-tokenizer/encoding/o200k_base";

export function countTokens(text: string): number {
  return encode(text).length;
}
