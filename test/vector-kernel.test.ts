// The WebAssembly kernel of the memory index (src/core/vector-kernel.ts) against plain JavaScript:
// its Hamming distances and dot products on random data at widths that do not fill its vectors.
import { describe, expect, it } from "vitest";
import { createKernel } from "../src/core/vector-kernel.ts";

/** A small seeded generator, so the data (and so the test) are the same every run. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const popcount = (x: number) => {
  let n = 0;
  for (let y = x >>> 0; y; y >>>= 1) n += y & 1;
  return n;
};

describe("vector kernel", () => {
  for (const dims of [7, 48, 600, 1536]) {
    it(`measures Hamming distances and dot products as plain JavaScript does (width ${dims})`, () => {
      const random = seeded(dims);
      const rows = 37;
      const words = Math.ceil(dims / 128) * 4;
      const at = { query: 0, queryBits: 16_384, list: 20_480, out: 24_576, bits: 32_768, vectors: 65_536 };
      const { memory, kernel } = createKernel(Math.ceil((at.vectors + rows * dims * 4) / 65_536));
      const buffer = memory.buffer;
      const bits = new Uint32Array(buffer, at.bits, rows * words);
      const queryBits = new Uint32Array(buffer, at.queryBits, words);
      // Random words up to the width, zero padding after it (as UserVectors keeps them).
      const live = Math.ceil(dims / 32);
      for (let w = 0; w < live; w++) queryBits[w] = (random() * 2 ** 32) >>> 0;
      for (let i = 0; i < rows; i++)
        for (let w = 0; w < live; w++) bits[i * words + w] = (random() * 2 ** 32) >>> 0;
      kernel.hamming(at.bits, at.queryBits, rows, words / 4, at.out);
      const distances = new Uint16Array(buffer, at.out, rows);
      for (let i = 0; i < rows; i++) {
        let h = 0;
        for (let w = 0; w < words; w++) h += popcount(bits[i * words + w]! ^ queryBits[w]!);
        expect(distances[i]).toBe(h);
      }

      const vectors = new Float32Array(buffer, at.vectors, rows * dims);
      for (let k = 0; k < vectors.length; k++) vectors[k] = random() * 2 - 1;
      const query = new Float64Array(buffer, at.query, dims);
      for (let k = 0; k < dims; k++) query[k] = random() * 2 - 1;
      // Some rows, out of order and one twice.
      const picked = [5, 0, 36, 17, 17, 2];
      new Int32Array(buffer, at.list, picked.length).set(picked);
      kernel.dots(at.vectors, dims, at.query, at.list, picked.length, at.out);
      const dots = new Float64Array(buffer, at.out, picked.length);
      picked.forEach((row, c) => {
        let sum = 0;
        for (let k = 0; k < dims; k++) sum += vectors[row * dims + k]! * query[k]!;
        expect(dots[c]).toBeCloseTo(sum, 12);
      });
    });
  }
});
