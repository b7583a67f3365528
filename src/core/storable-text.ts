// Text from outside (what people write, what models answer, what providers say when they fail) as
// Postgres and Prisma can store it. Anyone can type, paste or generate two things that neither
// takes: a NUL character (Postgres text cannot hold U+0000) and a lone UTF-16 surrogate (not valid
// Unicode; Prisma's query protocol rejects it). Both become U+FFFD, the replacement character, so a
// message with one gets an answer instead of an error, and the reader still sees that something was
// there. Everything else passes unchanged.

export const REPLACEMENT_CHARACTER = "\uFFFD";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with NUL characters and lone surrogates replaced by U+FFFD. */
export function storableText(text: string): string {
  return text.replaceAll("\u0000", REPLACEMENT_CHARACTER).replace(LONE_SURROGATE, REPLACEMENT_CHARACTER);
}

/**
 * At most `max` UTF-16 units of storable text. A plain `slice` can cut a surrogate pair in two and
 * leave a lone half at the end, which is exactly what cannot be stored.
 */
export function clipStorable(text: string, max: number): string {
  const clean = storableText(text);
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** One line of storable text (white space folded), at most `max` characters with an ellipsis. */
export function oneLine(text: string | null | undefined, max: number): string {
  const line = storableText(text ?? "")
    .replace(/\s+/g, " ")
    .trim();
  return line.length <= max ? line : `${clipStorable(line, max - 1)}…`;
}
