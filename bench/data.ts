// Bulk data for the benchmark, generated inside the database with SQL so that 100k+ exchanges load
// in seconds instead of the hours they would take through respond().
//
// Texts and embeddings come from one small "language": a vocabulary of pseudo-words grouped into
// topics, each word with a dense random unit vector. An exchange's text is 17 words (10 from one of
// its owner's interests, 4 from another, 3 common words) and its embedding is the normalised sum of
// its words' vectors. So embeddings are dense and incompressible like real ones (stored size and
// TOAST behave as in production), and similarity is graded by word overlap like real ones (recall
// against exact search means something). The in-process provider (provider.ts) embeds any text the
// same way, so the query vectors of the timed replies live in the same space as the stored ones.
import type { PGlite } from "@electric-sql/pglite";
import { countTokens } from "../src/core/tokens.ts";
import type { Database } from "../src/database/open-database.ts";
import { gaussian, hash32, randomVector, rng } from "./random.ts";

export const TOPICS = 64;
export const WORDS_PER_TOPIC = 64;
export const COMMON_WORDS = 128;
export const VOCABULARY = TOPICS * WORDS_PER_TOPIC + COMMON_WORDS;
export const EMBEDDING_MODEL = "bench-embed";

const SYLLABLES = [
  "ka",
  "lo",
  "mi",
  "ne",
  "ru",
  "sa",
  "ti",
  "vo",
  "be",
  "da",
  "fi",
  "go",
  "hu",
  "ja",
  "ke",
  "li",
  "ma",
  "no",
  "pe",
  "qui",
  "ra",
  "se",
  "to",
  "u",
  "ve",
  "wa",
  "xi",
  "yo",
  "ze",
  "an",
  "el",
  "or",
];

/** The pseudo-word with this id: 2-3 syllables, unique per id. */
export function word(id: number): string {
  const s = SYLLABLES.length;
  const a = SYLLABLES[id % s]!;
  const b = SYLLABLES[Math.floor(id / s) % s]!;
  const c = SYLLABLES[Math.floor(id / (s * s)) % s]!;
  return id < s * s ? `${a}${b}` : `${a}${b}${c}`;
}

/** The topics a bench user talks about: six of the 64, a different mix per user number. */
export function interests(userNo: number): number[] {
  return Array.from({ length: 6 }, (_, i) => (userNo * 7 + i * 11) % TOPICS);
}

/** Word vectors, generated once per width from a fixed seed. */
export class Vocabulary {
  readonly vectors: Float64Array[];
  readonly ids = new Map<string, number>();

  constructor(readonly dims: number) {
    const normal = gaussian(rng(0x5eed + dims));
    this.vectors = Array.from({ length: VOCABULARY }, () => randomVector(dims, 1, normal));
    for (let id = 0; id < VOCABULARY; id++) this.ids.set(word(id), id);
  }

  /** The bench embedding of a text: the normalised sum of its words' vectors. */
  embed(text: string): number[] {
    const sum = new Float64Array(this.dims);
    for (const w of text.toLowerCase().split(/[^a-z]+/)) {
      if (!w) continue;
      const id = this.ids.get(w);
      const v = id === undefined ? randomVector(this.dims, 1, gaussian(rng(hash32(w)))) : this.vectors[id]!;
      for (let i = 0; i < this.dims; i++) sum[i]! += v[i]!;
    }
    let norm = 0;
    for (let i = 0; i < this.dims; i++) norm += sum[i]! * sum[i]!;
    norm = Math.sqrt(norm) || 1;
    return Array.from(sum, (x) => x / norm);
  }

  /** A reply body of 300 to 1,100 characters: sentences of vocabulary words. */
  paragraph(random: () => number): string {
    const target = 300 + Math.floor(800 * random());
    let text = "";
    while (text.length < target) {
      const words = Array.from({ length: 6 + Math.floor(10 * random()) }, () =>
        word(Math.floor(VOCABULARY * random())),
      );
      text += `${text ? " " : ""}${words.join(" ").replace(/^./, (c) => c.toUpperCase())}.`;
    }
    return text;
  }

  /** A message in the same distribution as the stored exchanges of `userNo`. */
  message(userNo: number, random: () => number): string {
    const topics = interests(userNo);
    const primary = topics[Math.floor(6 * random() ** 1.5)]!;
    const secondary = topics[Math.floor(6 * random())]!;
    const words: string[] = [];
    for (let k = 0; k < 10; k++) words.push(word(primary * WORDS_PER_TOPIC + Math.floor(64 * random() ** 2)));
    for (let k = 0; k < 4; k++)
      words.push(word(secondary * WORDS_PER_TOPIC + Math.floor(64 * random() ** 2)));
    for (let k = 0; k < 3; k++)
      words.push(word(TOPICS * WORDS_PER_TOPIC + Math.floor(COMMON_WORDS * random())));
    return words.join(" ");
  }
}

function literal(v: ArrayLike<number>): string {
  let s = "[";
  for (let i = 0; i < v.length; i++) s += (i ? "," : "") + (v[i]! as number).toPrecision(6);
  return `${s}]`;
}

/** The database the bench loads into: Prisma always, the PGlite instance when embedded (for COPY). */
export interface BenchDb {
  db: Database;
  pglite?: PGlite;
}

/** Creates the helper tables (prefixed `_bench_`) and uploads the vocabulary. */
export async function createVocabularyTables({ db, pglite }: BenchDb, vocabulary: Vocabulary): Promise<void> {
  await db.$executeRawUnsafe(`DROP TABLE IF EXISTS "_bench_word"`);
  await db.$executeRawUnsafe(
    `CREATE TABLE "_bench_word" ("id" int PRIMARY KEY, "word" text NOT NULL, "v" vector)`,
  );
  // One row per page, never toasted: the bulk insert reads these vectors millions of times.
  await db.$executeRawUnsafe(`ALTER TABLE "_bench_word" ALTER COLUMN "v" SET STORAGE PLAIN`);
  if (pglite) {
    // Binary COPY: PGlite parses decimal floats slowly (software long double in WebAssembly), so
    // 4k vectors as text take seconds; as binary they take a tenth of one.
    await pglite.query(`COPY "_bench_word" FROM '/dev/blob' WITH (FORMAT binary)`, [], {
      blob: new Blob([binaryCopy(vocabulary)]),
    });
  } else {
    const batch = 256;
    for (let start = 0; start < VOCABULARY; start += batch) {
      const rows: string[] = [];
      for (let id = start; id < Math.min(VOCABULARY, start + batch); id++)
        rows.push(`(${id}, '${word(id)}', '${literal(vocabulary.vectors[id]!)}')`);
      await db.$executeRawUnsafe(`INSERT INTO "_bench_word" ("id", "word", "v") VALUES ${rows.join(",")}`);
    }
  }
  await db.$executeRawUnsafe(`DROP TABLE IF EXISTS "_bench_user"`);
  await db.$executeRawUnsafe(`CREATE TABLE "_bench_user" ("no" int PRIMARY KEY, "id" uuid NOT NULL)`);
  // Reply bodies: chat replies are a few sentences, which decides how Postgres stores the row.
  await db.$executeRawUnsafe(`DROP TABLE IF EXISTS "_bench_reply"`);
  await db.$executeRawUnsafe(`CREATE TABLE "_bench_reply" ("id" int PRIMARY KEY, "body" text NOT NULL)`);
  const random = rng(0x7e47);
  const bodies = Array.from(
    { length: REPLY_BODIES },
    (_, id) => `(${id}, '${vocabulary.paragraph(random)}')`,
  );
  await db.$executeRawUnsafe(`INSERT INTO "_bench_reply" ("id", "body") VALUES ${bodies.join(",")}`);
}

const REPLY_BODIES = 256;

/** Postgres binary COPY of (id int4, word text, v vector): pgvector's wire format is int16 dims, int16 0, float4s. */
function binaryCopy(vocabulary: Vocabulary): Uint8Array {
  const dims = vocabulary.dims;
  const buf = Buffer.alloc(19 + VOCABULARY * (2 + 8 + 4 + 16 + 4 + 4 + 4 * dims) + 2);
  let o = buf.write("PGCOPY\n\xff\r\n\0", 0, "latin1");
  o = buf.writeInt32BE(0, o);
  o = buf.writeInt32BE(0, o);
  for (let id = 0; id < VOCABULARY; id++) {
    o = buf.writeInt16BE(3, o);
    o = buf.writeInt32BE(4, o);
    o = buf.writeInt32BE(id, o);
    const w = Buffer.from(word(id));
    o = buf.writeInt32BE(w.length, o);
    o += w.copy(buf, o);
    o = buf.writeInt32BE(4 + 4 * dims, o);
    o = buf.writeInt16BE(dims, o);
    o = buf.writeInt16BE(0, o);
    for (const x of vocabulary.vectors[id]!) o = buf.writeFloatBE(x, o);
  }
  o = buf.writeInt16BE(-1, o);
  return buf.subarray(0, o);
}

/** Users `from`..`to` (inclusive) named `discord:bench-<no>`, with their ids kept in `_bench_user`. */
export async function insertUsers(db: Database, from: number, to: number): Promise<void> {
  if (to < from) return;
  await db.$executeRawUnsafe(`
    WITH created AS (
      INSERT INTO "User" ("id", "platform", "externalId", "updatedAt")
      SELECT gen_random_uuid(), 'discord', 'discord:bench-' || g, now()
      FROM generate_series(${from}, ${to}) g
      RETURNING "id", "externalId")
    INSERT INTO "_bench_user" ("no", "id")
    SELECT substring("externalId" FROM 15)::int, "id" FROM created`);
}

/** SQL for a pseudo-random float in [0, 1) from a bigint seed: deterministic, no state. */
const r = (seed: string) => `((hashint8(${seed}) & 1048575)::float8 / 1048576.0)`;

/**
 * `perUser` exchanges for each of users `fromNo`..`toNo`, answered, 20% of them rated (14% with 4
 * or 5), spread over 8 channels (30% in threads), one a minute from 2026-01-01. Inserted in batches
 * so the database never holds more than a few thousand vector sums at once.
 */
export async function insertExchanges(
  db: Database,
  options: { fromNo: number; toNo: number; perUser: number; space: string; batchRows?: number },
): Promise<void> {
  const batchRows = options.batchRows ?? 2_000;
  const users = options.toNo - options.fromNo + 1;
  if (users <= 0 || options.perUser <= 0) return;
  // Batches cut along (user, n): users at a time when they are small, ranges of n when one is large.
  const usersPerBatch = Math.max(1, Math.floor(batchRows / options.perUser));
  const nPerBatch = Math.min(options.perUser, batchRows);
  for (let u = options.fromNo; u <= options.toNo; u += usersPerBatch) {
    const uTo = Math.min(options.toNo, u + usersPerBatch - 1);
    for (let n = 1; n <= options.perUser; n += nPerBatch) {
      const nTo = Math.min(options.perUser, n + nPerBatch - 1);
      await insertBatch(db, { uFrom: u, uTo, nFrom: n, nTo, space: options.space });
    }
  }
}

/**
 * Several users' histories written the way a live bot writes them: interleaved, each user's rows
 * spread over the table in `rounds` slices (proportional to their history), not one user's rows
 * contiguously, which would make their scans cheaper than in production.
 */
export async function insertInterleaved(
  db: Database,
  options: { users: Array<{ no: number; history: number }>; space: string; rounds?: number },
): Promise<void> {
  const rounds = options.rounds ?? 100;
  for (let round = 0; round < rounds; round++)
    for (const u of options.users) {
      const from = Math.floor((u.history * round) / rounds) + 1;
      const to = Math.floor((u.history * (round + 1)) / rounds);
      if (to >= from)
        await insertBatch(db, { uFrom: u.no, uTo: u.no, nFrom: from, nTo: to, space: options.space });
    }
}

async function insertBatch(
  db: Database,
  b: { uFrom: number; uTo: number; nFrom: number; nTo: number; space: string },
): Promise<void> {
  // seed: a distinct bigint per exchange; slots 1-10 primary topic, 11-14 secondary, 15-17 common.
  const topic = (k: string) => `(((i."no" * 7) + (floor(6 * ${k}))::int * 11) % ${TOPICS})`;
  await db.$executeRawUnsafe(`
    WITH items AS (
      SELECT u."no", u."id" AS "userId", n, (u."no"::bigint * 10000000 + n) AS seed
      FROM "_bench_user" u, generate_series(${b.nFrom}, ${b.nTo}) n
      WHERE u."no" BETWEEN ${b.uFrom} AND ${b.uTo}),
    slots AS (
      SELECT i.*, k,
        CASE WHEN k <= 10 THEN ${topic(`power(${r("i.seed * 3")}, 1.5)`)} * ${WORDS_PER_TOPIC}
                               + floor(64 * power(${r("i.seed * 64 + k")}, 2))::int
             WHEN k <= 14 THEN ${topic(r("i.seed * 5"))} * ${WORDS_PER_TOPIC}
                               + floor(64 * power(${r("i.seed * 64 + k")}, 2))::int
             ELSE ${TOPICS * WORDS_PER_TOPIC} + floor(${COMMON_WORDS} * ${r("i.seed * 64 + k")})::int
        END AS "wordId"
      FROM items i, generate_series(1, 17) k),
    texts AS (
      SELECT s."no", s."userId", s.n, s.seed,
             string_agg(w."word", ' ' ORDER BY s.k) AS "text",
             l2_normalize(sum(w."v")) AS "embedding"
      FROM slots s JOIN "_bench_word" w ON w."id" = s."wordId"
      GROUP BY s."no", s."userId", s.n, s.seed)
    INSERT INTO "Exchange" ("userId", "platform", "channelId", "threadId", "userMessageId", "replyMessageId",
      "replyMessageIds", "userText", "replyText", "status", "model", "promptTokens", "completionTokens",
      "costUsd", "createdAt", "answeredAt", "embedding", "embeddingModel", "rating", "ratedAt")
    SELECT t."userId", 'discord', 'bench-channel-' || (t.n % 8),
      CASE WHEN t.n % 10 < 3 THEN 'bench-thread-' || (t.n % 50) END,
      'bench-' || t."no" || '-' || t.n, 'bench-reply-' || t."no" || '-' || t.n,
      ARRAY['bench-reply-' || t."no" || '-' || t.n],
      t."text" || ' (question ' || t.n || ')',
      'About ' || t."text" || ': ' || rb."body" || ' (answer ' || t.n || ')',
      'answered', 'bench-chat', 800, 150, 0.00056,
      timestamp '2026-01-01' + t.n * interval '1 minute',
      timestamp '2026-01-01' + t.n * interval '1 minute' + interval '2 seconds',
      t."embedding", '${b.space}',
      rr.rating, CASE WHEN rr.rating IS NOT NULL THEN timestamp '2026-01-01' + t.n * interval '1 minute' + interval '1 hour' END
    FROM texts t JOIN "_bench_reply" rb ON rb."id" = (t.seed % ${REPLY_BODIES}), LATERAL (SELECT CASE
        WHEN ${r("t.seed * 11")} < 0.08 THEN 5 WHEN ${r("t.seed * 11")} < 0.14 THEN 4
        WHEN ${r("t.seed * 11")} < 0.17 THEN 3 WHEN ${r("t.seed * 11")} < 0.19 THEN 2
        WHEN ${r("t.seed * 11")} < 0.20 THEN 1 END AS rating) rr`);
}

/** Brings the users' counters in step with their rows, as the app keeps them. */
export async function refreshCounters(
  db: Database,
  fromNo: number,
  toNo: number,
  minRating = 4,
): Promise<void> {
  await db.$executeRawUnsafe(`
    UPDATE "User" u SET
      "exchangeCount" = c.total, "ratedCount" = c.rated, "highRatedCount" = c.high, "readyCount" = c.ready
    FROM (
      SELECT e."userId", count(*)::int AS total, count(e."rating")::int AS rated,
             count(*) FILTER (WHERE e."rating" >= ${minRating})::int AS high,
             count(*) FILTER (WHERE e."rating" >= ${minRating} AND e."trainedAt" IS NULL AND e."status" = 'answered')::int AS ready
      FROM "Exchange" e JOIN "_bench_user" b ON b."id" = e."userId"
      WHERE b."no" BETWEEN ${fromNo} AND ${toNo}
      GROUP BY e."userId") c
    WHERE u."id" = c."userId"`);
}

export async function userId(db: Database, no: number): Promise<string> {
  const rows = await db.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT "id"::text AS id FROM "_bench_user" WHERE "no" = ${no}`,
  );
  if (!rows[0]) throw new Error(`bench user ${no} does not exist`);
  return rows[0].id;
}

/**
 * Exchange.textTokens for the users' rows, as a live bot stores it with each answer (the exact
 * count of both texts): the prompt then counts remembered exchanges by it instead of tokenising
 * them. Counted here in JavaScript, a page at a time; SQL cannot tokenise.
 */
export async function countTexts(db: Database, fromNo: number, toNo: number): Promise<void> {
  const page = 5_000;
  let after = 0n;
  for (;;) {
    const rows = await db.$queryRawUnsafe<Array<{ id: bigint; userText: string; replyText: string | null }>>(
      `SELECT e."id", e."userText", e."replyText" FROM "Exchange" e JOIN "_bench_user" b ON b."id" = e."userId"
       WHERE b."no" BETWEEN ${fromNo} AND ${toNo} AND e."id" > ${after} ORDER BY e."id" LIMIT ${page}`,
    );
    if (!rows.length) return;
    const ids = rows.map((r) => String(r.id));
    const counts = rows.map((r) => countTokens(r.userText) + countTokens(r.replyText ?? ""));
    await db.$executeRawUnsafe(
      `UPDATE "Exchange" e SET "textTokens" = c.n
       FROM unnest('{${ids.join(",")}}'::bigint[], '{${counts.join(",")}}'::int[]) AS c(id, n) WHERE e."id" = c.id`,
    );
    after = BigInt(rows[rows.length - 1]!.id);
  }
}
