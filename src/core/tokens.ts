// The one token counter, for prompt budgets and training estimates alike, and the only module that
// touches the tokenizer (biome.json forbids importing it anywhere else in the product): o200k_base,
// the tokenizer of OpenAI's current models. For Gemini it is an approximation, which is all a prompt
// budget needs.
//
// Special-token text that a person types or a model writes ("<|endoftext|>", "<|im_start|>") is
// ordinary text: the providers tokenise message content that way, so it is counted that way. (The
// tokenizer's default throws on it instead, which once broke every reply that quoted one.)
import { countTokens as countO200k } from "gpt-tokenizer/encoding/o200k_base";

const AS_TEXT = { disallowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  return countO200k(text, AS_TEXT);
}
