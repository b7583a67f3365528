// The hot loops of the memory index's search (memory-index.ts) as WebAssembly: the Hamming distance
// of every row's sign bits to the query's (SIMD), a request's histogram of those distances, and the
// dot products of the query with a list of rows (SIMD). In JavaScript they were a few ms per reply at 10k rows (6-7 ms for the Hamming pass alone
// at 50k), and table lookups, SWAR and carry-save counting won under a fifth; 16 bytes per
// instruction (i8x16.popcnt, f64x2 arithmetic) and no bounds checks do several times better.
//
// The rows live in the instance's memory (a user's copy is one instance; copying the rows in for
// each search would cost more than the search), laid out by the caller; the functions take byte
// addresses in it. Compiled once per process, here; Node 20 has SIMD, so a runtime without it fails
// at start-up with the message below rather than searching slowly on a second code path.
import { assemble, type Code, f64, i32, ins, v128, type WasmFunction } from "./wasm-assembler.ts";

const {
  block,
  loop,
  br,
  brIf,
  localGet: get,
  localSet: set,
  i32Const,
  i32Add,
  i32Sub,
  i32Mul,
  i32Shl,
  i32And,
  i32Eqz,
  i32LtU,
  i32GeS,
} = ins;

/** `body` repeated while `condition` leaves a non-zero i32 (tested before each round). */
const whileTrue = (condition: Code[], body: Code[]): Code =>
  block(loop(...condition, i32Eqz, brIf(1), ...body, br(0)));
/** local[i] += n (an i32 constant). */
const addTo = (i: number, n: number): Code => [...get(i), ...i32Const(n), i32Add, ...set(i)].flat();

/**
 * hamming(bits, query, rows, vectors, out): for each of `rows` rows from `bits`, each `vectors`
 * 16-byte vectors long (zero-padded, at least one), the number of bits in which it differs from
 * the vectors at `query`, as a u16 at `out`, `out` + 2, ...
 */
const hamming: WasmFunction = (() => {
  const [bits, query, rows, vectors, out, q, end, acc] = [0, 1, 2, 3, 4, 5, 6, 7];
  return {
    name: "hamming",
    params: [i32, i32, i32, i32, i32],
    results: [],
    locals: [i32, i32, v128],
    body: [
      whileTrue(
        [get(rows)],
        [
          ins.v128Zero,
          set(acc),
          get(query),
          set(q),
          // end = bits + vectors * 16
          get(bits),
          get(vectors),
          i32Const(4),
          i32Shl,
          i32Add,
          set(end),
          // Each vector's 16 byte counts (at most 8) summed in pairs into acc's 8 u16 lanes: a lane
          // reaches 16 per vector, so 4,096 vectors (65,536 bits) before it could overflow.
          loop(
            get(acc),
            get(bits),
            ins.v128Load(),
            get(q),
            ins.v128Load(),
            ins.v128Xor,
            ins.i8x16Popcnt,
            ins.i16x8ExtaddPairwiseI8x16U,
            ins.i16x8Add,
            set(acc),
            addTo(bits, 16),
            addTo(q, 16),
            get(bits),
            get(end),
            i32LtU,
            brIf(0),
          ),
          get(out),
          get(acc),
          ins.i32x4ExtaddPairwiseI16x8U,
          set(acc),
          ...[0, 1, 2, 3].map((lane) => [...get(acc), ...ins.i32x4ExtractLane(lane)]),
          i32Add,
          i32Add,
          i32Add,
          ins.i32Store16(),
          addTo(out, 2),
          get(rows),
          i32Const(1),
          i32Sub,
          set(rows),
        ],
      ),
    ],
  };
})();

/**
 * histogram(distances, ratings, rows, floor, out): adds one at u32 `out` + 4 * distance for each of
 * the `rows` rows (u16 distances, i32 ratings) rated at least `floor` (signed). `out` starts zeroed
 * by the caller and is as long as the largest distance + 1.
 */
const histogram: WasmFunction = (() => {
  const [distances, ratings, rows, floor, out, at] = [0, 1, 2, 3, 4, 5];
  return {
    name: "histogram",
    params: [i32, i32, i32, i32, i32],
    results: [],
    locals: [i32],
    body: [
      whileTrue(
        [get(rows)],
        [
          get(ratings),
          ins.i32Load(),
          get(floor),
          i32GeS,
          ins.if(
            // at = out + distance * 4; *at += 1
            get(out),
            get(distances),
            ins.i32Load16U(),
            i32Const(2),
            i32Shl,
            i32Add,
            set(at),
            get(at),
            get(at),
            ins.i32Load(),
            i32Const(1),
            i32Add,
            ins.i32Store(),
          ),
          addTo(distances, 2),
          addTo(ratings, 4),
          get(rows),
          i32Const(1),
          i32Sub,
          set(rows),
        ],
      ),
    ],
  };
})();

/**
 * dots(vectors, dims, query, list, count, out): for each of the `count` row indices (i32) at
 * `list`, the dot product of that row (`dims` f32 at `vectors` + row * dims * 4) with the f64
 * query at `query`, as an f64 at `out`, `out` + 8, ... Each f32 is widened and multiplied in f64,
 * as the JavaScript did, into eight partial sums (four f64x2: one sum's additions would wait on each
 * other); only the order of the additions differs, so a result can differ in its last bits.
 */
const dots: WasmFunction = (() => {
  const [vectors, dims, query, list, count, out, p, q, end, rowEnd, tail] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const [a0, a1, a2, a3] = [11, 12, 13, 14];
  /** acc += the two f32 at p + 8 * k, widened, times the two f64 at q + 16 * k. */
  const pair = (acc: number, k: number): Code =>
    [
      get(acc),
      get(p),
      ins.v128Load64Zero(8 * k),
      ins.f64x2PromoteLowF32x4,
      get(q),
      ins.v128Load(16 * k),
      ins.f64x2Mul,
      ins.f64x2Add,
      set(acc),
    ].flat();
  const sum = (x: number, y: number): Code => [...get(x), ...get(y), ...ins.f64x2Add];
  return {
    name: "dots",
    params: [i32, i32, i32, i32, i32, i32],
    results: [],
    locals: [i32, i32, i32, i32, f64, v128, v128, v128, v128],
    body: [
      whileTrue(
        [get(count)],
        [
          // p = vectors + list[0] * dims * 4; rowEnd = p + dims * 4; end = p + (dims & ~7) * 4
          get(vectors),
          get(list),
          ins.i32Load(),
          get(dims),
          i32Mul,
          i32Const(2),
          i32Shl,
          i32Add,
          set(p),
          get(p),
          get(dims),
          i32Const(2),
          i32Shl,
          i32Add,
          set(rowEnd),
          get(p),
          get(dims),
          i32Const(~7),
          i32And,
          i32Const(2),
          i32Shl,
          i32Add,
          set(end),
          get(query),
          set(q),
          ...[a0, a1, a2, a3].map((a) => [...ins.v128Zero, ...set(a)]),
          whileTrue(
            [get(p), get(end), i32LtU],
            [pair(a0, 0), pair(a1, 1), pair(a2, 2), pair(a3, 3), addTo(p, 32), addTo(q, 64)],
          ),
          // The last dims % 8 components one at a time.
          ins.f64Const0,
          set(tail),
          whileTrue(
            [get(p), get(rowEnd), i32LtU],
            [
              get(tail),
              get(p),
              ins.f32Load(),
              ins.f64PromoteF32,
              get(q),
              ins.f64Load(),
              ins.f64Mul,
              ins.f64Add,
              set(tail),
              addTo(p, 4),
              addTo(q, 8),
            ],
          ),
          get(out),
          sum(a0, a1),
          sum(a2, a3),
          ins.f64x2Add,
          set(a0),
          get(a0),
          ins.f64x2ExtractLane(0),
          get(a0),
          ins.f64x2ExtractLane(1),
          ins.f64Add,
          get(tail),
          ins.f64Add,
          ins.f64Store(),
          addTo(out, 8),
          addTo(list, 4),
          get(count),
          i32Const(1),
          i32Sub,
          set(count),
        ],
      ),
    ],
  };
})();

/** The kernel's bytes, assembled from the functions above. */
export const kernelBytes = assemble([hamming, histogram, dots]);

/**
 * The part of the WebAssembly JavaScript API used here: @types/node 20 does not declare it, and
 * lib.dom would declare the browser's globals too.
 */
interface WasmApi {
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number }) => KernelMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A kernel's memory: 64 KiB pages, grown (never shrunk) by its owner; growing detaches `buffer`. */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

const kernelModule = (() => {
  try {
    return new wasm.Module(kernelBytes);
  } catch (e) {
    throw new Error(
      `memory index: the vector kernel does not compile (it needs WebAssembly SIMD128, which Node 20 has): ${(e as Error).message}`,
      { cause: e },
    );
  }
})();

export interface VectorKernel {
  /** See `hamming` above: addresses in bytes; `vectors` 16-byte vectors per row. */
  hamming(bits: number, query: number, rows: number, vectors: number, out: number): void;
  /** See `histogram` above: addresses in bytes. */
  histogram(distances: number, ratings: number, rows: number, floor: number, out: number): void;
  /** See `dots` above: addresses in bytes. */
  dots(vectors: number, dims: number, query: number, list: number, count: number, out: number): void;
}

/** An instance of the kernel over a new memory of `pages` 64 KiB pages. */
export function createKernel(pages: number): { memory: KernelMemory; kernel: VectorKernel } {
  const memory = new wasm.Memory({ initial: pages });
  const instance = new wasm.Instance(kernelModule, { env: { memory } });
  return { memory, kernel: instance.exports as VectorKernel };
}
