// Just enough of the WebAssembly binary format to write a small kernel in TypeScript: instructions by
// name (each returns its bytes), structured blocks, and a module of functions over one imported
// memory. Written out instead of a WAT assembler so the build needs no dependency, and so the
// kernel's source is the code that runs (vector-kernel.ts). Opcodes from the WebAssembly 2.0 spec
// (core, section 5.4) and its SIMD proposal; the validator at compile time catches a wrong one.

export type Code = number[];

/** Value types. */
export const i32 = 0x7f;
export const f64 = 0x7c;
export const v128 = 0x7b;
type ValueType = typeof i32 | typeof f64 | typeof v128;

function unsigned(n: number): Code {
  const out: Code = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function signed(n: number): Code {
  const out: Code = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const name = (s: string): Code => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...unsigned(bytes.length), ...bytes];
};
const vector = (items: Code[]): Code => [...unsigned(items.length), ...items.flat()];
const section = (id: number, items: Code[]): Code => {
  const body = vector(items);
  return [id, ...unsigned(body.length), ...body];
};

/** Alignment (log2 of the access size, a hint) and a constant offset added to the address. */
const memarg = (align: number, offset: number): Code => [...unsigned(align), ...unsigned(offset)];
const simd = (op: number, ...rest: Code): Code => [0xfd, ...unsigned(op), ...rest];
const EMPTY_BLOCK = 0x40;
const END = 0x0b;

export const ins = {
  // Control: blocks nest their bodies; br/br_if count enclosing blocks outwards from 0.
  block: (...body: Code[]): Code => [0x02, EMPTY_BLOCK, ...body.flat(), END],
  /** Runs `body` if the i32 on the stack is not zero. */
  if: (...body: Code[]): Code => [0x04, EMPTY_BLOCK, ...body.flat(), END],
  loop: (...body: Code[]): Code => [0x03, EMPTY_BLOCK, ...body.flat(), END],
  br: (depth: number): Code => [0x0c, ...unsigned(depth)],
  brIf: (depth: number): Code => [0x0d, ...unsigned(depth)],

  localGet: (i: number): Code => [0x20, ...unsigned(i)],
  localSet: (i: number): Code => [0x21, ...unsigned(i)],

  i32Load: (offset = 0): Code => [0x28, ...memarg(2, offset)],
  i32Load16U: (offset = 0): Code => [0x2f, ...memarg(1, offset)],
  f32Load: (offset = 0): Code => [0x2a, ...memarg(2, offset)],
  f64Load: (offset = 0): Code => [0x2b, ...memarg(3, offset)],
  i32Store: (offset = 0): Code => [0x36, ...memarg(2, offset)],
  f64Store: (offset = 0): Code => [0x39, ...memarg(3, offset)],
  i32Store16: (offset = 0): Code => [0x3b, ...memarg(1, offset)],

  i32Const: (n: number): Code => [0x41, ...signed(n)],
  f64Const0: [0x44, 0, 0, 0, 0, 0, 0, 0, 0] as Code,
  i32Eqz: [0x45] as Code,
  i32LtU: [0x49] as Code,
  i32GeS: [0x4e] as Code,
  i32Add: [0x6a] as Code,
  i32Sub: [0x6b] as Code,
  i32Mul: [0x6c] as Code,
  i32And: [0x71] as Code,
  i32Shl: [0x74] as Code,
  f64Add: [0xa0] as Code,
  f64Mul: [0xa2] as Code,
  f64PromoteF32: [0xbb] as Code,

  // SIMD (prefix 0xfd).
  v128Load: (offset = 0): Code => simd(0x00, ...memarg(4, offset)),
  /** Two f32 into the low half, the high half zero. */
  v128Load64Zero: (offset = 0): Code => simd(0x5d, ...memarg(3, offset)),
  v128Zero: simd(0x0c, ...new Array<number>(16).fill(0)),
  v128Xor: simd(0x51),
  i8x16Popcnt: simd(0x62),
  i16x8ExtaddPairwiseI8x16U: simd(0x7d),
  i32x4ExtaddPairwiseI16x8U: simd(0x7f),
  i16x8Add: simd(0x8e),
  i32x4ExtractLane: (lane: number): Code => simd(0x1b, lane),
  f64x2PromoteLowF32x4: simd(0x5f),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
  f64x2ExtractLane: (lane: number): Code => simd(0x21, lane),
};

export interface WasmFunction {
  name: string;
  params: ValueType[];
  results: ValueType[];
  /** Locals after the parameters (their indices follow the parameters'). */
  locals: ValueType[];
  body: Code[];
}

/** A module importing its memory as env.memory and exporting each function by name. */
export function assemble(functions: readonly WasmFunction[]): Uint8Array<ArrayBuffer> {
  const FUNC_TYPE = 0x60;
  const types = functions.map((f) => [
    FUNC_TYPE,
    ...vector(f.params.map((t) => [t])),
    ...vector(f.results.map((t) => [t])),
  ]);
  const MEMORY_IMPORT = 0x02;
  const NO_MAXIMUM = 0x00;
  const imports = [[...name("env"), ...name("memory"), MEMORY_IMPORT, NO_MAXIMUM, ...unsigned(1)]];
  const FUNC_EXPORT = 0x00;
  const exports = functions.map((f, i) => [...name(f.name), FUNC_EXPORT, ...unsigned(i)]);
  const bodies = functions.map((f) => {
    const locals = vector(f.locals.map((t) => [1, t]));
    const code = [...locals, ...f.body.flat(), END];
    return [...unsigned(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d], // "\0asm"
    ...[0x01, 0x00, 0x00, 0x00], // version 1
    ...section(1, types),
    ...section(2, imports),
    ...section(
      3,
      functions.map((_, i) => unsigned(i)),
    ),
    ...section(7, exports),
    ...section(10, bodies),
  ]);
}
