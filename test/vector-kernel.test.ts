// The WebAssembly kernel of the memory index (src/core/vector-kernel.ts) against plain JavaScript:
// its Hamming distances, histograms and dot products on random data (widths that do not fill its
// vectors), and UserVectors' searches over it (rows and ratings in the kernel's memory) through
// growth, replacement and removal, against a direct reading of what a search promises.
import { describe, expect, it } from "vitest";
import { rng as seeded } from "../bench/random.ts";
import { BINARY_FROM, UserVectors } from "../src/core/memory-index.ts";
import { createKernel } from "../src/core/vector-kernel.ts";

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

interface Row {
  id: bigint;
  rating: number | null;
  vector: Float32Array;
}

/**
 * What a search promises, read directly: each request's rows in row order; from a long history at a
 * width with sign bits the `rerank` nearest by Hamming distance (ties in row order); of those the
 * `limit` most similar by cosine (ties in row order).
 */
function expected(
  rows: readonly Row[],
  dims: number,
  rerank: number,
  query: number[],
  limit: number,
  minRating?: number,
) {
  const norm = Math.hypot(...query);
  const q = query.map((x) => x / norm);
  const cosine = (v: Float32Array) => {
    let dot = 0;
    let n = 0;
    for (let k = 0; k < dims; k++) {
      dot += v[k]! * q[k]!;
      n += v[k]! * v[k]!;
    }
    return dot / Math.sqrt(n);
  };
  const hamming = (v: Float32Array) => {
    let h = 0;
    for (let k = 0; k < dims; k++) if (v[k]! > 0 !== q[k]! > 0) h++;
    return h;
  };
  let taken = rows.map((r, i) => ({ i, r })).filter(({ r }) => (r.rating ?? -1) >= (minRating ?? -Infinity));
  if (dims >= BINARY_FROM && rows.length > rerank)
    taken = taken
      .map((t) => ({ ...t, h: hamming(t.r.vector) }))
      .sort((a, b) => a.h - b.h || a.i - b.i)
      .slice(0, rerank);
  return taken
    .map(({ i, r }) => ({ i, id: r.id, similarity: cosine(r.vector) }))
    .sort((a, b) => b.similarity - a.similarity || a.i - b.i)
    .slice(0, limit);
}

describe("vector kernel histogram", () => {
  it("counts the rows rated at least the floor by distance", () => {
    const random = seeded(7);
    const rows = 500;
    const span = 49;
    const at = { distances: 0, ratings: 4_096, out: 8_192 };
    const { memory, kernel } = createKernel(1);
    const distances = new Uint16Array(memory.buffer, at.distances, rows);
    const ratings = new Int32Array(memory.buffer, at.ratings, rows);
    for (let i = 0; i < rows; i++) {
      distances[i] = Math.floor(random() * span);
      ratings[i] = random() < 0.5 ? -1 : Math.floor(random() * 6);
    }
    for (const floor of [-(2 ** 31), -1, 0, 4, 6]) {
      const out = new Uint32Array(memory.buffer, at.out, span).fill(0);
      kernel.histogram(at.distances, at.ratings, rows, floor, at.out);
      const want = new Array<number>(span).fill(0);
      for (let i = 0; i < rows; i++) if (ratings[i]! >= floor) want[distances[i]!]!++;
      expect([...out]).toEqual(want);
    }
  });
});

describe("UserVectors over the kernel", () => {
  for (const dims of [48, 600]) {
    it(`finds what a search promises after growing, replacing and removing rows (width ${dims})`, () => {
      const random = seeded(1000 + dims);
      const rerank = 40;
      // Capacity 1: every few rows grow the memory, so rows written after a growth must land in the
      // new views, and the sign bits written before it must have moved with their region.
      const vectors = new UserVectors(dims, 1, rerank);
      const rows: Row[] = [];
      const newRow = (id: bigint): Row => ({
        id,
        rating: random() < 0.3 ? 1 + Math.floor(random() * 5) : null,
        vector: Float32Array.from({ length: dims }, () => random() * 2 - 1),
      });
      const check = () => {
        for (let t = 0; t < 5; t++) {
          const query = Array.from({ length: dims }, () => random() * 2 - 1);
          const [memory, fewShot] = vectors.search(query, [{ limit: 11 }, { limit: 9, minRating: 4 }]);
          for (const [got, want] of [
            [memory!, expected(rows, dims, rerank, query, 11)],
            [fewShot!, expected(rows, dims, rerank, query, 9, 4)],
          ] as const) {
            expect(got.map((m) => m.id)).toEqual(want.map((m) => m.id));
            for (const [j, m] of got.entries()) expect(m.similarity).toBeCloseTo(want[j]!.similarity, 12);
          }
        }
      };
      let next = 0n;
      for (let round = 0; round < 6; round++) {
        for (let n = 0; n < 60; n++) {
          const row = newRow(next++);
          vectors.upsert(row);
          rows.push(row);
        }
        // A row delivered again with another vector and rating replaces it in place.
        const at = Math.floor(random() * rows.length);
        rows[at] = newRow(rows[at]!.id);
        vectors.upsert(rows[at]!);
        // Removals move the last row into the hole.
        for (let n = 0; n < 15; n++) {
          const i = Math.floor(random() * rows.length);
          vectors.remove(rows[i]!.id);
          const last = rows.pop()!;
          if (i < rows.length) rows[i] = last;
        }
        expect(vectors.size).toBe(rows.length);
        check();
      }
      expect(rows.length).toBeGreaterThan(rerank * 5);
      // The copy's size is the memory's own: whole 64 KiB pages, at least the rows it holds.
      expect(vectors.bytes % 8).toBe(0);
      expect(vectors.bytes).toBeGreaterThan(rows.length * dims * 4);
    });
  }
});
