// The only module that writes or searches exchange embeddings. Prisma has no type for pgvector, so
// this is raw SQL, kept here on purpose: every query filters on the owner's user id and on the
// embedding space, so one user's rows never reach another's prompt and vectors of different models
// (or widths) are never compared.
//
// Vectors travel to the database as integer arrays (`'{...}'::int4[]::vector`), not as decimal
// text (`'[0.0123,...]'::vector`). The embedded database (PGlite) runs Postgres in WebAssembly,
// where parsing a decimal float goes through software long-double arithmetic: a 1536-wide vector
// literal costs ~3.5 ms to parse there, its integer form ~0.3 ms, and a reply sends three. Search
// vectors are sent scaled to integers (cosine distance ignores the scale); stored vectors are scaled
// back by an exact power of two, so they keep the provider's float32 values (see toScaledIntegers).

import type { Database } from "../database/open-database.ts";
import { Prisma } from "../generated/prisma/client.ts";

/** An embedding space: the model and the width it was asked for. Stored beside each vector. */
export function embeddingSpace(model: string, dimensions: number): string {
  return `${model}@${dimensions}`;
}

/** Integers of up to 2^30 in magnitude: exact in int4, and within float32's 24-bit mantissa after rounding. */
const INT_BITS = 30;

/**
 * `vector` as a power-of-two scale and integers: vector ≈ ints × 2^-exponent. A float32 component of
 * at least 1/128 of the largest comes back bit-identical; a smaller one within 2^-31 of the largest
 * (cosine similarities move by less than 1e-8).
 */
function toScaledIntegers(vector: readonly number[]): { ints: string; exponent: number } {
  let max = 0;
  for (const x of vector) {
    if (!Number.isFinite(x)) throw new Error("embedding contains a non-finite value");
    max = Math.max(max, Math.abs(x));
  }
  // Largest exponent with max × 2^exponent <= 2^30; kept where float32 can hold 2^-exponent exactly.
  const exponent = max === 0 ? 0 : Math.max(-100, Math.min(100, INT_BITS - Math.ceil(Math.log2(max))));
  const scale = 2 ** exponent;
  let ints = "{";
  for (let i = 0; i < vector.length; i++) ints += (i ? "," : "") + Math.round(vector[i]! * scale);
  return { ints: `${ints}}`, exponent };
}

/** A search vector: scaled to integers (cosine distance is the same for any positive scale). */
function searchVector(vector: readonly number[]): Prisma.Sql {
  // Digits, commas and minus signs only, so it can be written into the statement as a literal,
  // which Postgres parses once at parse time.
  return Prisma.raw(`'${toScaledIntegers(vector).ints}'::int4[]::vector`);
}

/** A vector to store: the provider's values, scaled back from integers by an exact power of two. */
function storedVector(vector: readonly number[]): Prisma.Sql {
  const { ints, exponent } = toScaledIntegers(vector);
  if (exponent === 0) return Prisma.raw(`'${ints}'::int4[]::vector`);
  return Prisma.raw(
    `('${ints}'::int4[]::vector * array_fill((2::float8 ^ ${-exponent})::real, ARRAY[${vector.length}])::vector)`,
  );
}

export async function storeEmbedding(
  db: Database,
  exchangeId: bigint,
  vector: readonly number[],
  space: string,
): Promise<void> {
  if (vector.length === 0) throw new Error("embedding is empty");
  await db.$executeRaw`
    UPDATE "Exchange" SET "embedding" = ${storedVector(vector)}, "embeddingModel" = ${space}
    WHERE "id" = ${exchangeId}`;
}

export interface Neighbour {
  id: bigint;
  /** Cosine similarity, 1 = same direction. */
  similarity: number;
}

/** The user's exchanges nearest to `vector` in `space`, most similar first. */
export async function nearestExchanges(
  db: Database,
  query: {
    userId: string;
    space: string;
    vector: readonly number[];
    limit: number;
    /** Only exchanges rated at least this (few-shot candidates). */
    minRating?: number;
    excludeIds?: bigint[];
    /** Only exchanges of this server (null: of DMs); absent: every exchange (MEMORY_SCOPE=user). */
    serverId?: string | null;
  },
): Promise<Neighbour[]> {
  if (query.limit <= 0 || query.vector.length === 0) return [];
  const exclude = query.excludeIds ?? [];
  const minRating = query.minRating ?? null;
  // Exact search over this user's rows (every one of them in the space), so recall is 1 and the
  // cost depends on their history only, never on other users'. Replies use it while the user's
  // vectors are not in the process's memory index yet (memory-index.ts; see the README's
  // Performance section for why no ANN index is used). With a rating floor, the space test is
  // written so that no index can use it: the (userId, rating) index then narrows the scan to the
  // rated rows. The embedded database never gathers statistics (no autovacuum), so without this
  // the planner takes the (userId, embeddingModel) index and reads every row of the user.
  const inSpace =
    minRating === null
      ? Prisma.sql`"embeddingModel" = ${query.space}`
      : Prisma.sql`("embeddingModel" = ${query.space}) IS TRUE`;
  const inServer =
    query.serverId === undefined
      ? Prisma.empty
      : query.serverId === null
        ? Prisma.sql`AND "serverId" IS NULL`
        : Prisma.sql`AND "serverId" = ${query.serverId}`;
  // The distance is computed once per row and sorted on.
  const rows = await db.$queryRaw<Array<{ id: bigint; distance: number }>>`
    SELECT "id", "embedding" <=> ${searchVector(query.vector)} AS distance
    FROM "Exchange"
    WHERE "userId" = ${query.userId}::uuid
      AND ${inSpace}
      AND "embedding" IS NOT NULL
      AND "status" = 'answered'
      AND (${minRating}::int IS NULL OR "rating" >= ${minRating}::int)
      AND NOT ("id" = ANY(${exclude}::bigint[])) ${inServer}
    ORDER BY distance
    LIMIT ${query.limit}`;
  return rows.map((r) => ({ id: BigInt(r.id), similarity: 1 - Number(r.distance) }));
}

/** The answer to an exchange, stored with the embedding of the user's message. */
export interface StoredAnswer {
  exchangeId: bigint;
  userId: string;
  replyText: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
  answeredAt: Date;
  embedding?: { vector: readonly number[]; space: string };
  /** How the reply was answered (evaluation/reply-plan.ts `recordOf`): version, arm, level, holdout. */
  record?: { modelVersionId: string | null; arm: string | null; level: string; holdout: boolean };
  /** Tokens of the exchange's userText plus replyText, for later prompts (Exchange.textTokens). */
  textTokens?: number;
  /** The cost's ledger row (budgets.ts `chatLedgerInsert`), written by the same statement. */
  ledger?: Prisma.Sql;
}

/**
 * Marks the exchange answered and stores its embedding, in one statement written after the model
 * answered (the embedding is not needed for this reply: the exchange is never its own memory). It
 * bumps the owner's memoryVersion and stamps the row with it (memory-index.ts), and returns the new
 * version, and books the reply's cost when given its ledger row. A crash before it leaves the
 * exchange pending and nothing booked: the restart answers it (recovery.ts) and embeds the message
 * again.
 */
export async function storeAnswer(db: Database, a: StoredAnswer): Promise<bigint> {
  const embedding = a.embedding
    ? Prisma.sql`"embedding" = ${storedVector(a.embedding.vector)}, "embeddingModel" = ${a.embedding.space},`
    : Prisma.empty;
  const r = a.record;
  const record = r
    ? Prisma.sql`"modelVersionId" = ${r.modelVersionId}::uuid, "arm" = ${r.arm}, "level" = ${r.level}, "holdout" = ${r.holdout},`
    : Prisma.empty;
  // A data-modifying WITH runs whether or not the rest reads it.
  const ledger = a.ledger ? Prisma.sql`, ledger AS (${a.ledger})` : Prisma.empty;
  const rows = await db.$queryRaw<Array<{ version: bigint }>>`
    WITH v AS (
      UPDATE "User" SET "memoryVersion" = "memoryVersion" + 1 WHERE "id" = ${a.userId}::uuid
      RETURNING "memoryVersion") ${ledger}
    UPDATE "Exchange" SET
      "status" = 'answered', "replyText" = ${a.replyText}, "model" = ${a.model},
      "promptTokens" = ${a.promptTokens}::int, "completionTokens" = ${a.completionTokens}::int,
      "costUsd" = ${a.costUsd}::numeric, "answeredAt" = (${a.answeredAt.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
      "claimedAt" = NULL, "textTokens" = ${a.textTokens ?? null}::int, ${embedding} ${record}
      "memorySeq" = (SELECT "memoryVersion" FROM v)
    WHERE "id" = ${a.exchangeId}
    RETURNING "memorySeq" AS version`;
  return BigInt(rows[0]?.version ?? 0);
}

/**
 * An exchange changed in a way search cares about (its rating): the owner's memoryVersion moves on
 * and the row is stamped with it, so in-process copies of their vectors catch up (memory-index.ts).
 */
export async function markMemoryChanged(
  tx: Database | Prisma.TransactionClient,
  exchangeId: bigint,
  userId: string,
): Promise<void> {
  await tx.$executeRaw`
    WITH v AS (
      UPDATE "User" SET "memoryVersion" = "memoryVersion" + 1 WHERE "id" = ${userId}::uuid
      RETURNING "memoryVersion")
    UPDATE "Exchange" SET "memorySeq" = (SELECT "memoryVersion" FROM v) WHERE "id" = ${exchangeId}`;
}
