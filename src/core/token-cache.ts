// Token counts of prompt texts, remembered across replies: a reply's few-shot examples and recent
// turns are mostly the texts the previous replies counted, and tokenising them again was a tenth of
// a reply's CPU. Keyed by a hash of the text, so no person's text stays in memory through it (a
// forgotten user's texts are not kept here); a collision would only misjudge a prompt budget.
import { createHash } from "node:crypto";
import { countTokens } from "./tokens.ts";

/** Texts remembered; least recently used leave first. */
const MAX_ENTRIES = 4_096;
/** Texts this short cost less to count than to hash. */
const MIN_CHARS = 48;

const counts = new Map<string, number>();

/** countTokens(text), from the cache when this text was counted recently. */
export function cachedTokenCount(text: string): number {
  if (text.length < MIN_CHARS) return countTokens(text);
  const key = createHash("sha1").update(text).digest("base64");
  const known = counts.get(key);
  if (known !== undefined) {
    // Most recently used last.
    counts.delete(key);
    counts.set(key, known);
    return known;
  }
  const n = countTokens(text);
  counts.set(key, n);
  if (counts.size > MAX_ENTRIES) counts.delete(counts.keys().next().value!);
  return n;
}
