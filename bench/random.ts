// Deterministic randomness for the benchmark: the same seed gives the same data on every machine.

/** mulberry32: a small, fast, seedable 32-bit generator; returns floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Standard normal samples (Box-Muller). */
export function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** A random direction of length `norm` in `dims` dimensions. */
export function randomVector(dims: number, norm: number, normal: () => number): Float64Array {
  const v = new Float64Array(dims);
  let sum = 0;
  for (let i = 0; i < dims; i++) {
    const x = normal();
    v[i] = x;
    sum += x * x;
  }
  const scale = norm / Math.sqrt(sum);
  for (let i = 0; i < dims; i++) v[i]! *= scale;
  return v;
}

/** FNV-1a, for turning a text into a seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
