// Retention: a scheduled job deletes exchanges older than `retentionDays` (default 90), with their
// embeddings, reactions and dataset links. Kept past that age: exchanges their owner rated highly
// (>= minRating) that no fine-tune has used yet, because they are the training examples of the
// person's next model; unless the person opted out, then those go too (nothing of theirs is used for
// training). Once trained on, an exchange lives on only in the training record, and ages out.
//
// Training offers that never became a training (declined, expired, cancelled) hold copies of
// exchanges in their datasets, so they age out the same way. Offers that trained are the record of
// what a model was built from and stay as long as the person does (`/assistant forget` removes them).
//
// Deletion is batched: each batch is one statement that locks the rows it takes (skipping rows a
// rating is changing right now), deletes them and corrects the owners' counters from what it
// deleted, so the counters (exchangeCount, ratedCount, highRatedCount, readyCount) stay exact.
import type { Database } from "../database/open-database.ts";
import type { Clock, Logger } from "./ports.ts";

export interface RetentionDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  /** Age in days after which exchanges are deleted. Default 90. */
  retentionDays?: number;
  /** Lowest rating that makes an exchange a training example (FINETUNE_MIN_RATING). */
  minRating: number;
  /** Exchanges per statement. Default 1000. */
  batchSize?: number;
}

export interface RetentionResult {
  /** Exchanges created before this were candidates. */
  cutoff: Date;
  deletedExchanges: number;
  /** People who lost at least one exchange. */
  users: number;
  /** Old offers that never trained, deleted with their datasets. */
  deletedProposals: number;
  batches: number;
}

export const DEFAULT_RETENTION_DAYS = 90;

export async function runRetention(deps: RetentionDeps): Promise<RetentionResult> {
  const { db, log, minRating } = deps;
  const days = deps.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const batchSize = deps.batchSize ?? 1000;
  if (!(Number.isFinite(days) && days > 0)) throw new RangeError(`retentionDays must be > 0, got ${days}`);
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new RangeError("batchSize must be a positive integer");
  const cutoff = new Date(deps.clock.now().getTime() - days * 86_400_000);
  // Prisma keeps DateTime columns as UTC `timestamp(3)`; compare in UTC whatever the session's zone.
  const before = cutoff.toISOString();

  let deletedExchanges = 0;
  let batches = 0;
  const users = new Set<string>();
  for (;;) {
    const [row] = await db.$queryRaw<Array<{ deleted: number; users: string[] }>>`
      WITH doomed AS (
        SELECT e."id"
        FROM "Exchange" e JOIN "User" u ON u."id" = e."userId"
        WHERE e."createdAt" < (${before}::timestamptz AT TIME ZONE 'UTC')
          AND (u."optedOut"
               OR NOT (e."rating" IS NOT NULL AND e."rating" >= ${minRating}::int
                       AND e."trainedAt" IS NULL AND e."status" = 'answered'))
        ORDER BY e."createdAt", e."id"
        LIMIT ${batchSize}::int
        FOR UPDATE OF e SKIP LOCKED
      ),
      deleted AS (
        DELETE FROM "Exchange" e USING doomed d WHERE e."id" = d."id"
        RETURNING e."userId", e."rating", e."trainedAt", e."status"
      ),
      per_user AS (
        SELECT "userId",
               COUNT(*)::int AS n,
               COUNT("rating")::int AS rated,
               (COUNT(*) FILTER (WHERE "rating" >= ${minRating}::int))::int AS high,
               (COUNT(*) FILTER (WHERE "rating" >= ${minRating}::int AND "trainedAt" IS NULL
                                   AND "status" = 'answered'))::int AS ready
        FROM deleted GROUP BY "userId"
      ),
      counted AS (
        UPDATE "User" u
        SET "exchangeCount" = GREATEST(u."exchangeCount" - p.n, 0),
            "ratedCount" = GREATEST(u."ratedCount" - p.rated, 0),
            "highRatedCount" = GREATEST(u."highRatedCount" - p.high, 0),
            "readyCount" = GREATEST(u."readyCount" - p.ready, 0)
        FROM per_user p WHERE u."id" = p."userId"
        RETURNING u."id"
      )
      SELECT (SELECT COALESCE(SUM(n), 0) FROM per_user)::int AS deleted,
             ARRAY(SELECT "id"::text FROM counted) AS users`;
    batches++;
    const deleted = Number(row?.deleted ?? 0);
    deletedExchanges += deleted;
    for (const id of row?.users ?? []) users.add(id);
    if (deleted < batchSize) break;
  }

  const proposals = await db.fineTuneProposal.deleteMany({
    where: {
      state: { in: ["declined", "expired", "cancelled"] },
      createdAt: { lt: cutoff },
      job: { is: null },
    },
  });

  const result = {
    cutoff,
    deletedExchanges,
    users: users.size,
    deletedProposals: proposals.count,
    batches,
  };
  log.info("retention", { ...result, retentionDays: days });
  return result;
}
