// The only module that writes or searches exchange embeddings. Prisma has no type for pgvector, so
// this is raw SQL, kept here on purpose: every query filters on the owner's user id and on the
// embedding space, so one user's rows never reach another's prompt and vectors of different models
// (or widths) are never compared.
import type { Database } from "../database/open-database.ts";

/** An embedding space: the model and the width it was asked for. Stored beside each vector. */
export function embeddingSpace(model: string, dimensions: number): string {
  return `${model}@${dimensions}`;
}

function vectorLiteral(vector: readonly number[]): string {
  for (const x of vector) if (!Number.isFinite(x)) throw new Error("embedding contains a non-finite value");
  return `[${vector.join(",")}]`;
}

export async function storeEmbedding(
  db: Database,
  exchangeId: bigint,
  vector: readonly number[],
  space: string,
): Promise<void> {
  await db.$executeRaw`
    UPDATE "Exchange" SET "embedding" = ${vectorLiteral(vector)}::vector, "embeddingModel" = ${space}
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
  },
): Promise<Neighbour[]> {
  const exclude = query.excludeIds ?? [];
  const minRating = query.minRating ?? null;
  const rows = await db.$queryRaw<Array<{ id: bigint; similarity: number }>>`
    SELECT "id", 1 - ("embedding" <=> ${vectorLiteral(query.vector)}::vector) AS similarity
    FROM "Exchange"
    WHERE "userId" = ${query.userId}::uuid
      AND "embeddingModel" = ${query.space}
      AND "embedding" IS NOT NULL
      AND "status" = 'answered'
      AND (${minRating}::int IS NULL OR "rating" >= ${minRating}::int)
      AND NOT ("id" = ANY(${exclude}::bigint[]))
    ORDER BY "embedding" <=> ${vectorLiteral(query.vector)}::vector
    LIMIT ${query.limit}`;
  return rows.map((r) => ({ id: BigInt(r.id), similarity: Number(r.similarity) }));
}
