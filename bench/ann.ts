// BENCH_ANN=1: what an HNSW index would cost and return on the same data, so the choice of exact
// search in src/core/exchange-embeddings.ts can be checked. The bot does not use this index.
//
// pgvector's HNSW index needs a fixed width, so it is a partial expression index on
// `embedding::vector(N)` for rows of that width; per-user filtering needs pgvector 0.8's iterative
// scans, switched on inside the statement (set_config before the scan starts) because a pooled
// connection cannot be relied on to keep a session setting.
import { embeddingSpace, nearestExchanges, storeEmbedding } from "../src/core/exchange-embeddings.ts";
import { Prisma } from "../src/generated/prisma/client.ts";
import { EMBEDDING_MODEL, userId, Vocabulary } from "./data.ts";
import type { OpenBench } from "./db.ts";
import { rng } from "./random.ts";
import { type Summary, summarize } from "./stats.ts";

export interface AnnResults {
  width: number;
  m: number;
  efConstruction: number;
  rows: number;
  buildSeconds: number;
  /** Median time to store one embedding, without and with the index. */
  storeMs: { without: number; with: number };
  results: Array<{
    history: number;
    kind: "memory" | "fewShot";
    efSearch: number;
    recall: number;
    similarityRatio: number;
    annMs: Summary;
    exactMs: Summary;
  }>;
}

const M = 16;
const EF_CONSTRUCTION = 64;

async function annNearest(
  db: OpenBench["db"],
  q: {
    userId: string;
    space: string;
    vector: number[];
    limit: number;
    minRating: number | null;
    efSearch: number;
  },
): Promise<Array<{ id: bigint; similarity: number }>> {
  const d = q.vector.length;
  const max = Math.max(...q.vector.map(Math.abs));
  const scale = 2 ** (30 - Math.ceil(Math.log2(max)));
  const literal = Prisma.raw(
    `('{${q.vector.map((x) => Math.round(x * scale)).join(",")}}'::int4[]::vector)::vector(${d})`,
  );
  // "userId" compared as text keeps the btree indexes out of the plan: the order has to come from HNSW.
  const rows = await db.$queryRaw<Array<{ id: bigint; distance: number }>>`
    SELECT "id", "distance" FROM (
      SELECT "id", "embedding"::vector(${Prisma.raw(String(d))}) <=> ${literal} AS distance
      FROM "Exchange"
      WHERE "userId"::text = ${q.userId}
        AND vector_dims("embedding") = ${Prisma.raw(String(d))}
        AND "embeddingModel" = ${q.space}
        AND "status" = 'answered'
        AND (${q.minRating}::int IS NULL OR "rating" >= ${q.minRating}::int)
        AND (SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)
                 || set_config('hnsw.ef_search', ${String(q.efSearch)}, true)) IS NOT NULL
      ORDER BY distance
      LIMIT ${q.limit}) ranked
    ORDER BY "distance"`;
  return rows.map((r) => ({ id: BigInt(r.id), similarity: 1 - Number(r.distance) }));
}

export async function annSuite(
  bench: OpenBench,
  o: { width: number; histories: number[]; queries: number; progress: (line: string) => void },
): Promise<AnnResults> {
  const { db } = bench;
  const space = embeddingSpace(EMBEDDING_MODEL, o.width);
  const vocabulary = new Vocabulary(o.width);
  const random = rng(31337);
  const storeTimes = async () => {
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const v = vocabulary.embed(vocabulary.message(2, random));
      const t0 = performance.now();
      await storeEmbedding(db, BigInt(1 + i), v, space);
      times.push(performance.now() - t0);
    }
    return summarize(times).p50;
  };
  const without = await storeTimes();
  const count = await db.$queryRawUnsafe<Array<{ n: bigint }>>(`SELECT count(*) AS n FROM "Exchange"`);
  o.progress(`  building HNSW (m=${M}, ef_construction=${EF_CONSTRUCTION}) over ${count[0]?.n} rows`);
  const t0 = performance.now();
  await db.$transaction([
    db.$executeRawUnsafe(`SET LOCAL maintenance_work_mem = '256MB'`),
    db.$executeRawUnsafe(
      `CREATE INDEX "_bench_hnsw" ON "Exchange" USING hnsw (("embedding"::vector(${o.width})) vector_cosine_ops)
       WITH (m = ${M}, ef_construction = ${EF_CONSTRUCTION}) WHERE vector_dims("embedding") = ${o.width}`,
    ),
  ]);
  const buildSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const withIndex = await storeTimes();

  const results: AnnResults["results"] = [];
  for (const [i, history] of o.histories.entries()) {
    const id = await userId(db, i + 1);
    for (const kind of ["memory", "fewShot"] as const) {
      const k = kind === "memory" ? 5 : 3;
      const minRating = kind === "memory" ? null : 4;
      for (const efSearch of [40, 100]) {
        let found = 0;
        let expected = 0;
        let simFound = 0;
        let simExpected = 0;
        const annMs: number[] = [];
        const exactMs: number[] = [];
        for (let q = 0; q < o.queries; q++) {
          const vector = vocabulary.embed(vocabulary.message(i + 1, random));
          let t = performance.now();
          const exact = await nearestExchanges(db, {
            userId: id,
            space,
            vector,
            limit: k,
            ...(minRating ? { minRating } : {}),
          });
          exactMs.push(performance.now() - t);
          t = performance.now();
          const ann = await annNearest(db, { userId: id, space, vector, limit: k, minRating, efSearch });
          annMs.push(performance.now() - t);
          const kth = exact.at(-1)?.similarity ?? 0;
          const ids = new Set(exact.map((e) => String(e.id)));
          expected += exact.length;
          simExpected += exact.reduce((s, e) => s + e.similarity, 0);
          for (const a of ann) {
            if (ids.has(String(a.id)) || a.similarity >= kth - 1e-6) found++;
            simFound += a.similarity;
          }
        }
        results.push({
          history,
          kind,
          efSearch,
          recall: Math.round((Math.min(found, expected) / (expected || 1)) * 1000) / 1000,
          similarityRatio: Math.round((simFound / (simExpected || 1)) * 1000) / 1000,
          annMs: summarize(annMs),
          exactMs: summarize(exactMs),
        });
      }
    }
  }
  await db.$executeRawUnsafe(`DROP INDEX "_bench_hnsw"`);
  return {
    width: o.width,
    m: M,
    efConstruction: EF_CONSTRUCTION,
    rows: Number(count[0]?.n ?? 0),
    buildSeconds,
    storeMs: { without, with: withIndex },
    results,
  };
}
