// The token count the emulators bill and cut replies by when their provider's tokenizer is not
// public (Gemini, Vertex) or is o200k (OpenAI's gpt-4o and gpt-4.1 families): o200k_base, with
// special-token text counted as ordinary text, as the product's own counter does.
import { countTokens as countO200k } from "gpt-tokenizer/encoding/o200k_base";

export function countTokens(text: string): number {
  return countO200k(text, { disallowedSpecial: new Set() });
}
