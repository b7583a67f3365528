-- A finished training's files at the provider (training, validation and result files) are deleted
-- through DeletionRecord (src/core/fine-tune/lifecycle.ts). This marks the jobs whose files were
-- queued. Jobs that finished before it have no mark and are queued by the next monitoring run.
-- (No semicolons in these comments: the migration runner splits scripts on them.)

-- AlterTable
ALTER TABLE "FineTuneJob" ADD COLUMN "filesCleanupQueuedAt" TIMESTAMP(3);
