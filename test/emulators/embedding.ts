// Deterministic stand-in for provider embeddings, shared by the OpenAI and Gemini emulators.
// Real embeddings are semantic; tests only need "texts that share words are closer than texts that
// don't", stable across runs and machines. So: hash word unigrams and bigrams into a signed feature
// vector (the "hashing trick") and normalise it. Cosine similarity then tracks word overlap.

/** OpenAI text-embedding-3-small's native width. */
export const DEFAULT_OPENAI_DIMENSIONS = 1536;

/** Words: lowercased, punctuation removed (so "Pizza!" and "pizza" match), split on whitespace. */
export function embeddingWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, "")
    .split(/\s+/)
    .filter(Boolean);
}

/** A unit vector of length `dims`. Empty text still gets a (fixed) unit vector, as providers do. */
export function embed(text: string, dims: number = DEFAULT_OPENAI_DIMENSIONS): number[] {
  if (!Number.isInteger(dims) || dims < 1)
    throw new RangeError(`dims must be a positive integer, got ${dims}`);
  const words = embeddingWords(text);
  const features: Array<[string, number]> = words.map((w) => [`1:${w}`, 1]);
  // Bigrams weigh less than words: they reward shared phrasing without swamping shared vocabulary.
  for (let i = 0; i + 1 < words.length; i++) features.push([`2:${words[i]} ${words[i + 1]}`, 0.5]);
  if (features.length === 0) features.push(["0:<empty>", 1]);

  const vector = new Array<number>(dims).fill(0);
  for (const [feature, weight] of features) {
    const h = fnv1a(feature);
    // A second, independent hash picks the sign, so collisions cancel out on average instead of
    // inflating the similarity of unrelated texts.
    const sign = fnv1a(`sign:${feature}`) & 1 ? 1 : -1;
    vector[h % dims]! += sign * weight;
  }
  const norm = Math.hypot(...vector);
  return vector.map((v) => v / norm);
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb));
}

/** Little-endian float32 bytes in base64: OpenAI's `encoding_format: "base64"` wire format. */
export function toBase64Float32(vector: readonly number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString("base64");
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
