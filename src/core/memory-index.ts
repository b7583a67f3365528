// Each active user's embeddings kept in this process, so a reply's memory search is a scan of an
// array (under 1 ms at 10k exchanges) instead of a scan of the user's rows in the database (17-87 ms
// at 10k exchanges on PGlite, 13-62 ms on a server, growing with the width and with how the rows lie).
//
// Results are those of the exact search in exchange-embeddings.ts: a short history is compared in
// full; a longer one (more rows than the rerank count) goes through the sign bits of each vector,
// which pick candidates by Hamming distance, and the best of them are compared in full (the bench
// prints recall@5 against exact search). The rerank count grows as the width shrinks, so every width
// compares about the same number of components in full (RERANK_COMPONENTS): at width 256 the 1,536
// nearest by sign bits, at 1536 the 256 nearest. A reply's two searches (memory, and few-shot among
// the rated rows) share one Hamming pass and one set of full comparisons (`search`), both run by a
// WebAssembly kernel over the rows in its memory (vector-kernel.ts); the choices stay here.
//
// Consistency, including with other processes on the same database: every change search cares about
// bumps the owner's User.memoryVersion and stamps the exchange with the new value (memorySeq), under
// the User row's lock, so the values commit in order; deletions bump User.memoryEpoch. A reply reads
// both with its first statement and hands them to `lookup`: same epoch and version, the copy is
// current; same epoch, newer version, the rows stamped after the copy's version are read first (one
// indexed statement, usually a row or two); another epoch, the copy is dropped and reloaded in the
// background while replies use the database. The process's own answers are applied directly.
//
// Memory is bounded (MEMORY_INDEX_MB): least recently used users leave first, and a user who alone
// would not fit is never loaded (their searches stay in the database).
import type { Database } from "../database/open-database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { Logger } from "./ports.ts";
import { createKernel, type KernelMemory, type VectorKernel } from "./vector-kernel.ts";

/** From this width on, a long history keeps sign bits, and candidates come from them. */
export const BINARY_FROM = 128;
/** Components compared in full per search over a long history: RERANK_COMPONENTS / width rows. */
export const RERANK_COMPONENTS = 256 * 1536;
/** The fewest Hamming candidates compared in full, at any width. */
export const MIN_RERANK = 256;

/** How many Hamming candidates a search compares in full at this width. */
export function rerankCount(dims: number, components = RERANK_COMPONENTS): number {
  return Math.max(MIN_RERANK, Math.floor(components / Math.max(1, dims)));
}
/** Rows read per statement while loading (the embedded database answers others in between). */
const LOAD_PAGE = 1_000;

export interface IndexedRow {
  id: bigint;
  rating: number | null;
  vector: Float32Array;
}

export interface MemoryMatch {
  id: bigint;
  similarity: number;
}

/** One search of a reply: the `limit` nearest rows, rated at least `minRating` if given. */
export interface SearchRequest {
  limit: number;
  minRating?: number;
}

/** Sign-bit words per row: from BINARY_FROM, whole 16-byte vectors (the kernel reads 128 bits at once). */
const wordsFor = (dims: number) => (dims >= BINARY_FROM ? Math.ceil(dims / 128) * 4 : 0);

const PAGE = 65_536;
/** wasm32 addresses: a user's copy beyond this stays in the database. */
const MAX_MEMORY = 65_536 * PAGE;

/**
 * Where each part of a user's copy lies in its kernel memory, in bytes, for a capacity in rows.
 * The rows come right after the query, so growing moves only the (32 times smaller) sign bits and
 * the ratings; the scratch of a search (distances, candidates, scores) is as long as the rows, the
 * most a search uses, and a histogram has a count for each Hamming distance.
 */
function layout(dims: number, vectorsPerRow: number, capacity: number) {
  const at16 = (n: number) => Math.ceil(n / 16) * 16;
  const query = 0;
  const queryBits = at16(dims * 8);
  const vectors = queryBits + vectorsPerRow * 16;
  const bits = at16(vectors + capacity * dims * 4);
  const ratings = bits + capacity * vectorsPerRow * 16;
  const distances = ratings + capacity * 4;
  const candidates = at16(distances + capacity * 2);
  const scores = at16(candidates + capacity * 4);
  const histogram = scores + capacity * 8;
  const end = histogram + (dims + 1) * 4;
  return {
    query,
    queryBits,
    vectors,
    bits,
    ratings,
    distances,
    candidates,
    scores,
    histogram,
    pages: Math.ceil(end / PAGE),
  };
}

/**
 * One user's searchable exchanges in one embedding space. The rows, their sign bits, their ratings
 * and a search's scratch live in the memory of the user's own kernel instance (vector-kernel.ts); the typed arrays
 * below are views of it, made again whenever it grows (growing detaches the old ones).
 */
export class UserVectors {
  ids: bigint[] = [];
  /** Unrated rows -1 (ratings are the database's int4). */
  ratings!: Int32Array;
  /** Row i at [i * dims, (i + 1) * dims). */
  vectors!: Float32Array;
  inverseNorms: Float64Array;
  /** Sign bits, `words` 32-bit words per row (only from BINARY_FROM), zero-padded to 16 bytes. */
  bits!: Uint32Array;
  readonly words: number;
  size = 0;
  private readonly position = new Map<bigint, number>();
  private readonly memory: KernelMemory;
  private readonly kernel: VectorKernel;
  private at: ReturnType<typeof layout>;
  /** The unit query (f64, as the comparisons multiply) and its sign bits. */
  private query!: Float64Array;
  private queryBits!: Uint32Array;
  private distances!: Uint16Array;
  private candidates!: Int32Array;
  private scores!: Float64Array;
  private histogram!: Uint32Array;

  /** The memory a copy of this capacity takes (what `bytes` is for it when empty), or Infinity. */
  static bytesFor(dims: number, capacity: number): number {
    const pages = layout(dims, wordsFor(dims) / 4, Math.max(1, capacity)).pages;
    return pages * PAGE > MAX_MEMORY ? Infinity : pages * PAGE + Math.max(1, capacity) * 8;
  }

  constructor(
    readonly dims: number,
    capacity: number,
    /** Hamming candidates compared in full (rerankCount); histories up to this size are scanned in full. */
    readonly rerank: number = rerankCount(dims),
  ) {
    this.words = wordsFor(dims);
    this.at = layout(dims, this.words / 4, Math.max(1, capacity));
    ({ memory: this.memory, kernel: this.kernel } = createKernel(this.at.pages));
    this.inverseNorms = new Float64Array(Math.max(1, capacity));
    this.view();
  }

  private view(): void {
    const buffer = this.memory.buffer;
    const at = this.at;
    const capacity = this.inverseNorms.length;
    this.query = new Float64Array(buffer, at.query, this.dims);
    this.queryBits = new Uint32Array(buffer, at.queryBits, this.words);
    this.vectors = new Float32Array(buffer, at.vectors, capacity * this.dims);
    this.bits = new Uint32Array(buffer, at.bits, capacity * this.words);
    this.ratings = new Int32Array(buffer, at.ratings, capacity);
    this.distances = new Uint16Array(buffer, at.distances, capacity);
    this.candidates = new Int32Array(buffer, at.candidates, capacity);
    this.scores = new Float64Array(buffer, at.scores, capacity);
    this.histogram = new Uint32Array(buffer, at.histogram, this.dims + 1);
  }

  /** The kernel memory as it is (it grows in 64 KiB pages and never shrinks) and the rest. */
  get bytes(): number {
    return this.memory.buffer.byteLength + this.inverseNorms.byteLength + this.size * 48;
  }

  private grow(): void {
    // A quarter more, not double: a long history at a large width is hundreds of MB, and doubling it
    // for one new row would push it over MEMORY_INDEX_MB and evict it.
    const capacity = Math.max(16, Math.ceil(this.inverseNorms.length * 1.25));
    const at = layout(this.dims, this.words / 4, capacity);
    if (at.pages * PAGE > MAX_MEMORY) throw new RangeError("memory index: a user's copy would pass 4 GiB");
    const old = this.at;
    this.memory.grow(at.pages - this.memory.buffer.byteLength / PAGE);
    // The sign bits and the ratings move up behind the longer rows, the ratings (higher up) first
    // so the sign bits do not overwrite them (copyWithin copies as if through a buffer).
    const bytes = new Uint8Array(this.memory.buffer);
    bytes.copyWithin(at.ratings, old.ratings, old.ratings + this.size * 4);
    bytes.copyWithin(at.bits, old.bits, old.bits + this.size * this.words * 4);
    this.at = at;
    const n = new Float64Array(capacity);
    n.set(this.inverseNorms);
    this.inverseNorms = n;
    this.view();
  }

  /** Adds or replaces a row (a catch-up may deliver a row that is already here). */
  upsert(row: IndexedRow): void {
    if (row.vector.length !== this.dims) return;
    let i = this.position.get(row.id);
    if (i === undefined) {
      if (this.size >= this.inverseNorms.length) this.grow();
      i = this.size++;
      this.position.set(row.id, i);
      this.ids[i] = row.id;
    }
    this.ratings[i] = row.rating ?? -1;
    const d = this.dims;
    const base = i * d;
    let norm = 0;
    for (let k = 0; k < d; k++) {
      const x = row.vector[k]!;
      this.vectors[base + k] = x;
      norm += x * x;
    }
    this.inverseNorms[i] = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    if (this.words) {
      const w0 = i * this.words;
      for (let w = 0; w < this.words; w++) this.bits[w0 + w] = 0;
      for (let k = 0; k < d; k++) if (row.vector[k]! > 0) this.bits[w0 + (k >>> 5)]! |= 1 << (k & 31);
    }
  }

  remove(id: bigint): void {
    const i = this.position.get(id);
    if (i === undefined) return;
    const last = this.size - 1;
    this.position.delete(id);
    if (i !== last) {
      // The last row moves into the hole.
      const lastId = this.ids[last]!;
      this.ids[i] = lastId;
      this.ratings[i] = this.ratings[last]!;
      this.vectors.copyWithin(i * this.dims, last * this.dims, (last + 1) * this.dims);
      this.inverseNorms[i] = this.inverseNorms[last]!;
      if (this.words) this.bits.copyWithin(i * this.words, last * this.words, (last + 1) * this.words);
      this.position.set(lastId, i);
    }
    this.ids.length = last;
    this.size = last;
  }

  /** The `limit` rows most similar to `query`, most similar first (rated >= minRating if given). */
  nearest(query: readonly number[], limit: number, minRating?: number): MemoryMatch[] {
    return this.search(query, [{ limit, minRating }])[0] ?? [];
  }

  /**
   * Several searches with one query vector (a reply's memory and few-shot searches): the query is
   * normalised, its Hamming distances computed and each row compared in full at most once.
   */
  search(query: readonly number[], requests: readonly SearchRequest[]): MemoryMatch[][] {
    if (this.size === 0 || query.length !== this.dims) return requests.map(() => []);
    this.setQuery(query);
    // The lowest rating each request takes (unrated rows are -1); one that wants nothing takes none.
    const least = requests.map((r) => (r.limit <= 0 ? Infinity : (r.minRating ?? -Infinity)));
    const quantised = this.words > 0 && this.size > this.rerank;
    const cuts = quantised ? this.closestByBits(least) : undefined;
    const tops = requests.map((r) => new TopK(r.limit));
    this.rank(least, cuts, tops);
    return tops.map((top) =>
      top.sorted().map(({ item, score }) => ({ id: this.ids[item]!, similarity: score })),
    );
  }

  /** The unit query and its sign bits into the kernel's memory. */
  private setQuery(query: readonly number[]): void {
    const q = this.query;
    let norm = 0;
    for (let k = 0; k < this.dims; k++) norm += query[k]! * query[k]!;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < this.dims; k++) q[k] = query[k]! * inv;
    if (!this.words) return;
    const qb = this.queryBits;
    qb.fill(0);
    for (let k = 0; k < this.dims; k++) if (q[k]! > 0) qb[k >>> 5]! |= 1 << (k & 31);
  }

  /**
   * Offers each request the rows it takes, in row order, each row compared in full once however
   * many requests take it. Without cuts a request takes every row rated at least its `least`.
   * The rows taken are listed first, compared in one call of the kernel, then offered in order.
   */
  private rank(least: readonly number[], cuts: Cuts | undefined, tops: readonly TopK[]): void {
    const n = least.length;
    const ratings = this.ratings;
    const distance = cuts?.distance;
    const cut = cuts?.cut ?? least.map(() => Infinity);
    const atCut = cuts?.atCut ?? [];
    const farthest = Math.max(...cut);
    const candidates = this.candidates;
    /** Pairs (candidate, request): request r takes candidates[c]. */
    const offers: number[] = [];
    let count = 0;
    for (let i = 0; i < this.size; i++) {
      const h = distance ? distance[i]! : 0;
      if (h > farthest) continue;
      const rating = ratings[i]!;
      let taken = false;
      for (let r = 0; r < n; r++) {
        if (rating < least[r]! || h > cut[r]!) continue;
        // Rows at the cut-off distance fill up in row order.
        if (h === cut[r]) {
          if (atCut[r]! === 0) continue;
          atCut[r]!--;
        }
        taken = true;
        offers.push(count, r);
      }
      if (taken) candidates[count++] = i;
    }
    const at = this.at;
    this.kernel.dots(at.vectors, this.dims, at.query, at.candidates, count, at.scores);
    const scores = this.scores;
    for (let o = 0; o < offers.length; o += 2) {
      const c = offers[o]!;
      const i = candidates[c]!;
      tops[offers[o + 1]!]!.offer(i, scores[c]! * this.inverseNorms[i]!);
    }
  }

  /**
   * Each request's `rerank` nearest rows by Hamming distance to the query's sign bits, as a cut-off:
   * the rows nearer than `cut`, and the first `atCut` rows at it. The kernel measures every row,
   * then counts each request's rows by distance.
   */
  private closestByBits(least: readonly number[]): Cuts {
    const at = this.at;
    this.kernel.hamming(at.bits, at.queryBits, this.size, this.words / 4, at.distances);
    const histogram = this.histogram;
    const cut: number[] = [];
    const atCut: number[] = [];
    for (const f of least) {
      histogram.fill(0);
      // Ratings are int4: rated at least f is rated at least ceil(f), and none is rated above 2^31 - 1
      // (nor taken by a request that takes none, whose f is Infinity).
      if (f <= 2 ** 31 - 1)
        this.kernel.histogram(
          at.distances,
          at.ratings,
          this.size,
          Math.max(-(2 ** 31), Math.ceil(f)),
          at.histogram,
        );
      let eligible = 0;
      for (let c = 0; c <= this.dims; c++) eligible += histogram[c]!;
      const wanted = Math.min(this.rerank, eligible);
      let c = 0;
      let below = 0;
      while (c <= this.dims && below + histogram[c]! < wanted) below += histogram[c++]!;
      cut.push(c);
      atCut.push(wanted - below);
    }
    const distance = this.distances;
    return { distance, cut, atCut };
  }
}

/** Which rows the Hamming pass leaves each request (see closestByBits). */
interface Cuts {
  distance: Uint16Array;
  cut: number[];
  atCut: number[];
}

/** The k best items by score (a small sorted array: k is 5 to 20 here). */
class TopK {
  private readonly items: Array<{ item: number; score: number }> = [];
  constructor(private readonly k: number) {}
  offer(item: number, score: number): void {
    const items = this.items;
    if (items.length === this.k && score <= items[items.length - 1]!.score) return;
    let j = items.length;
    while (j > 0 && items[j - 1]!.score < score) j--;
    items.splice(j, 0, { item, score });
    if (items.length > this.k) items.pop();
  }
  sorted() {
    return this.items;
  }
}

interface Entry {
  key: string;
  userId: string;
  space: string;
  epoch: number;
  /** The memoryVersion this copy includes every change up to. */
  version: bigint;
  vectors: UserVectors;
}

/** What the reply's first statement read from the user's row. */
export interface MemoryStamp {
  version: bigint;
  epoch: number;
}

/** Parses pgvector's binary form (vector_send): int16 dims, int16 unused, float4 big-endian. */
export function vectorFromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = view.getInt16(0);
  const out = new Float32Array(dims);
  for (let k = 0; k < dims; k++) out[k] = view.getFloat32(4 + 4 * k);
  return out;
}

/**
 * Vectors travel as base64 text of their binary form: a third of the decimal text, and decoded
 * natively (bytea's hex form through the driver cost several times more on the embedded database).
 */
function withBytes<T extends { b64: string | null }>(r: T): Omit<T, "b64"> & { bytes: Uint8Array | null } {
  const { b64, ...rest } = r;
  return { ...rest, bytes: b64 === null ? null : Buffer.from(b64, "base64") };
}

interface RowOut {
  id: bigint;
  rating: number | null;
  seq: bigint | null;
  searchable: boolean;
  bytes: Uint8Array | null;
}

export function createMemoryIndex(deps: {
  db: Database;
  log: Logger;
  maxBytes: number;
  /** Components compared in full per search of a long history (RERANK_COMPONENTS; tests lower it). */
  rerankComponents?: number;
}) {
  const { db, log, maxBytes } = deps;
  /** Insertion order is recency: a use moves the entry to the end, eviction takes from the front. */
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<void>>();
  /** Users whose copy would not fit even alone: not tried again until their epoch changes. */
  const tooBig = new Map<string, number>();
  let bytes = 0;
  const keyOf = (userId: string, space: string) => `${userId} ${space}`;

  function drop(key: string): void {
    const e = entries.get(key);
    if (!e) return;
    bytes -= e.vectors.bytes;
    entries.delete(key);
  }

  function evictFor(incoming: number): void {
    for (const [key] of entries) {
      if (bytes + incoming <= maxBytes) return;
      drop(key);
    }
  }

  /** Rows read back: searchable ones in the space are (re)placed, the others leave. */
  function apply(vectors: UserVectors, rows: Array<RowOut & { space?: string | null }>, space: string) {
    for (const r of rows) {
      if (r.searchable && r.bytes && (r.space === undefined || r.space === space))
        vectors.upsert({ id: BigInt(r.id), rating: r.rating, vector: vectorFromBytes(r.bytes) });
      else vectors.remove(BigInt(r.id));
    }
  }

  const searchable = Prisma.sql`("status" = 'answered' AND "replyText" IS NOT NULL AND "embedding" IS NOT NULL)`;

  async function load(userId: string, space: string, dims: number): Promise<void> {
    const key = keyOf(userId, space);
    const [stamp] = await db.$queryRaw<Array<{ version: bigint; epoch: number; n: bigint }>>`
      SELECT u."memoryVersion" AS version, u."memoryEpoch" AS epoch,
             (SELECT count(*) FROM "Exchange" e WHERE e."userId" = u."id" AND e."embeddingModel" = ${space}) AS n
      FROM "User" u WHERE u."id" = ${userId}::uuid`;
    if (!stamp) return;
    const expected = Number(stamp.n);
    // Room for the new exchanges of a while without growing.
    const capacity = expected + Math.max(64, Math.ceil(expected / 50));
    if (UserVectors.bytesFor(dims, capacity) > maxBytes) {
      tooBig.set(key, stamp.epoch);
      log.info("memory index: user too large for MEMORY_INDEX_MB; their searches stay in the database", {
        rows: expected,
      });
      return;
    }
    const vectors = new UserVectors(dims, capacity, rerankCount(dims, deps.rerankComponents));
    // The ids first (one scan of the user's index entries), then the vectors by primary key, a page
    // at a time: paging with "id > last" re-read every row of the user for each page.
    const ids = await db.$queryRaw<Array<{ id: bigint }>>`
      SELECT "id" FROM "Exchange"
      WHERE "userId" = ${userId}::uuid AND "embeddingModel" = ${space} AND ${searchable}`;
    for (let from = 0; from < ids.length; from += LOAD_PAGE) {
      const page = ids.slice(from, from + LOAD_PAGE).map((r) => BigInt(r.id));
      const rows = await db.$queryRaw<Array<Omit<RowOut, "bytes"> & { b64: string | null }>>`
        SELECT "id", "rating", "memorySeq" AS seq, ${searchable} AS searchable,
               encode(vector_send("embedding"), 'base64') AS b64
        FROM "Exchange" WHERE "id" = ANY(${page}::bigint[]) AND "userId" = ${userId}::uuid`;
      apply(vectors, rows.map(withBytes), space);
      // Let replies waiting on the database go first.
      await new Promise((resolve) => setImmediate(resolve));
    }
    evictFor(vectors.bytes);
    if (bytes + vectors.bytes > maxBytes) return;
    // Rows changed while loading have a memorySeq above stamp.version: the first lookup catches up.
    entries.set(key, { key, userId, space, epoch: stamp.epoch, version: BigInt(stamp.version), vectors });
    bytes += vectors.bytes;
  }

  function startLoading(userId: string, space: string, dims: number): void {
    const key = keyOf(userId, space);
    if (loading.has(key) || maxBytes <= 0) return;
    const p = load(userId, space, dims)
      .catch((e) =>
        log.warn("memory index: loading a user failed; their searches stay in the database", { error: e }),
      )
      .finally(() => loading.delete(key));
    loading.set(key, p);
  }

  /**
   * The user's copy, brought up to `stamp` (the reply's own read of their row), or undefined: not
   * loaded yet (loading starts now), dropped, or too large. Undefined means: search in the database.
   */
  async function lookup(
    userId: string,
    space: string,
    dims: number,
    stamp: MemoryStamp,
  ): Promise<Searcher | undefined> {
    if (maxBytes <= 0) return undefined;
    const key = keyOf(userId, space);
    const big = tooBig.get(key);
    if (big !== undefined) {
      if (big === stamp.epoch) return undefined;
      tooBig.delete(key);
    }
    const e = entries.get(key);
    if (!e || e.epoch !== stamp.epoch || e.vectors.dims !== dims) {
      if (e) drop(key);
      startLoading(userId, space, dims);
      return undefined;
    }
    // Most recently used last.
    entries.delete(key);
    entries.set(key, e);
    if (e.version < stamp.version) {
      const read = await db.$queryRaw<
        Array<Omit<RowOut, "bytes"> & { b64: string | null; space: string | null }>
      >`
        SELECT "id", "rating", "memorySeq" AS seq, ${searchable} AS searchable,
               CASE WHEN ${searchable} THEN encode(vector_send("embedding"), 'base64') END AS b64,
               "embeddingModel" AS space
        FROM "Exchange" WHERE "userId" = ${userId}::uuid AND "memorySeq" > ${e.version}`;
      const rows = read.map(withBytes);
      const before = e.vectors.bytes;
      apply(e.vectors, rows, space);
      bytes += e.vectors.bytes - before;
      let seen = stamp.version;
      for (const r of rows) if (r.seq !== null && BigInt(r.seq) > seen) seen = BigInt(r.seq);
      e.version = seen;
      if (bytes > maxBytes) evictFor(0);
    }
    const vectors = e.vectors;
    return {
      rows: vectors.size,
      nearest: (query, limit, minRating) => vectors.nearest(query, limit, minRating),
      search: (query, requests) => vectors.search(query, requests),
    };
  }

  /**
   * This process wrote a searchable row and the write returned the user's new memoryVersion: applied
   * here if the copy held everything before it (otherwise the next lookup catches up).
   */
  function written(userId: string, space: string, version: bigint, row: IndexedRow): void {
    const e = entries.get(keyOf(userId, space));
    if (!e || e.version !== version - 1n) return;
    const before = e.vectors.bytes;
    e.vectors.upsert(row);
    bytes += e.vectors.bytes - before;
    e.version = version;
    if (bytes > maxBytes) evictFor(0);
  }

  /** Drops every copy of a user's vectors (forget, opt-out): nothing of theirs stays in memory. */
  function dropUser(userId: string): void {
    for (const [key, e] of entries) if (e.userId === userId) drop(key);
  }

  return {
    lookup,
    written,
    dropUser,
    /** Resolves when every load under way has finished (tests and the bench). */
    settled: async () => {
      while (loading.size) await Promise.all([...loading.values()]);
    },
    stats: () => ({ users: entries.size, bytes, maxBytes }),
  };
}

export interface Searcher {
  rows: number;
  nearest(query: readonly number[], limit: number, minRating?: number): MemoryMatch[];
  /** Several searches with one query, sharing the work (see UserVectors.search). */
  search(query: readonly number[], requests: readonly SearchRequest[]): MemoryMatch[][];
}

export type MemoryIndex = ReturnType<typeof createMemoryIndex>;
