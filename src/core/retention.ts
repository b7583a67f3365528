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
// Deletion is batched: each batch is one transaction that locks the rows it takes (skipping rows a
// rating is changing right now), deletes them and corrects the owners' counters from what it
// deleted (user-counters.ts), so the counters stay exact.
//
// Bookkeeping that would otherwise grow forever goes too, by age (fixed, not settings: nothing an
// operator would tune). ProcessedEvent keys (delivery ids of handled events and clicks) exist to
// recognise a redelivery; Slack retries for about an hour and Discord interactions live 15 minutes,
// so a week is far beyond any replay. A JobRun claims one scheduled minute; after 30 days it is only
// history, except each job's latest run, kept as its last known outcome however long ago it was.
import type { Database } from "../database/open-database.ts";
import type { Clock, Logger } from "./ports.ts";
import { type CountedExchange, uncountDeleted } from "./user-counters.ts";

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
  /** Handled-event keys older than PROCESSED_EVENT_RETENTION_DAYS. */
  deletedEvents: number;
  /** Scheduled-run records older than JOB_RUN_RETENTION_DAYS (each job's latest is kept). */
  deletedJobRuns: number;
  batches: number;
}

export const DEFAULT_RETENTION_DAYS = 90;
export const PROCESSED_EVENT_RETENTION_DAYS = 7;
export const JOB_RUN_RETENTION_DAYS = 30;

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
    // One transaction a batch: the rows it deletes and their owners' counters change together.
    const { deleted, owners } = await db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Array<CountedExchange & { userId: string }>>`
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
        )
        DELETE FROM "Exchange" e USING doomed d WHERE e."id" = d."id"
        RETURNING e."userId"::text AS "userId", e."rating", e."trainedAt", e."status"`;
      return { deleted: rows.length, owners: await uncountDeleted(tx, rows, minRating) };
    });
    batches++;
    deletedExchanges += deleted;
    for (const id of owners) users.add(id);
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
    ...(await pruneBookkeeping(db, deps.clock.now(), batchSize)),
    batches,
  };
  log.info("retention", { ...result, retentionDays: days });
  return result;
}

const DAY_MS = 86_400_000;

/** Old ProcessedEvent and JobRun rows, in batches of `batchSize` (a first run may find a backlog). */
async function pruneBookkeeping(
  db: Database,
  now: Date,
  batchSize: number,
): Promise<{ deletedEvents: number; deletedJobRuns: number }> {
  const eventsBefore = new Date(now.getTime() - PROCESSED_EVENT_RETENTION_DAYS * DAY_MS).toISOString();
  const runsBefore = new Date(now.getTime() - JOB_RUN_RETENTION_DAYS * DAY_MS).toISOString();
  let deletedEvents = 0;
  for (;;) {
    const n = await db.$executeRaw`
      WITH doomed AS (
        SELECT "key" FROM "ProcessedEvent"
        WHERE "createdAt" < (${eventsBefore}::timestamptz AT TIME ZONE 'UTC')
        ORDER BY "createdAt" LIMIT ${batchSize}::int
      )
      DELETE FROM "ProcessedEvent" p USING doomed d WHERE p."key" = d."key"`;
    deletedEvents += n;
    if (n < batchSize) break;
  }
  let deletedJobRuns = 0;
  for (;;) {
    const n = await db.$executeRaw`
      WITH latest AS (
        SELECT DISTINCT ON ("job") "id" FROM "JobRun" ORDER BY "job", "claimedAt" DESC, "id" DESC
      ),
      doomed AS (
        SELECT "id" FROM "JobRun"
        WHERE "claimedAt" < (${runsBefore}::timestamptz AT TIME ZONE 'UTC')
          AND "id" NOT IN (SELECT "id" FROM latest)
        ORDER BY "claimedAt" LIMIT ${batchSize}::int
      )
      DELETE FROM "JobRun" j USING doomed d WHERE j."id" = d."id"`;
    deletedJobRuns += n;
    if (n < batchSize) break;
  }
  return { deletedEvents, deletedJobRuns };
}
