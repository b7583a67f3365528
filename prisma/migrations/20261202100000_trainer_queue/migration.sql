-- The self-hosted trainer's queue (trainer/, see trainer/README.md for the contract): one row per
-- LoRA training, claimed by GPU workers with FOR UPDATE SKIP LOCKED. Additive only.

-- CreateTable
CREATE TABLE "TrainerJob" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "fineTuneJobId" UUID NOT NULL,
    "baseModel" TEXT NOT NULL,
    "trainJsonl" TEXT NOT NULL,
    "validationJsonl" TEXT,
    "datasetSha256" TEXT NOT NULL,
    "hyperparameters" JSONB NOT NULL DEFAULT '{}',
    "state" TEXT NOT NULL DEFAULT 'queued',
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 3,
    "claimedBy" TEXT,
    "claimToken" UUID,
    "heartbeatAt" TIMESTAMP(3),
    "leaseExpiresAt" TIMESTAMP(3),
    "progress" JSONB,
    "adapterPath" TEXT,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "TrainerJob_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "TrainerJob_fineTuneJobId_key" ON "TrainerJob"("fineTuneJobId");

-- CreateIndex
CREATE INDEX "TrainerJob_state_createdAt_idx" ON "TrainerJob"("state", "createdAt");

-- CreateIndex
CREATE INDEX "TrainerJob_state_leaseExpiresAt_idx" ON "TrainerJob"("state", "leaseExpiresAt");

-- AddForeignKey
ALTER TABLE "TrainerJob" ADD CONSTRAINT "TrainerJob_fineTuneJobId_fkey" FOREIGN KEY ("fineTuneJobId") REFERENCES "FineTuneJob"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Guards the database keeps whichever side writes (Prisma's schema language cannot express them).
-- A state outside the contract, or a running job without the token that fences its worker, is refused.
ALTER TABLE "TrainerJob" ADD CONSTRAINT "TrainerJob_state_check"
  CHECK ("state" IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE "TrainerJob" ADD CONSTRAINT "TrainerJob_running_is_claimed_check"
  CHECK ("state" <> 'running' OR ("claimToken" IS NOT NULL AND "leaseExpiresAt" IS NOT NULL));
ALTER TABLE "TrainerJob" ADD CONSTRAINT "TrainerJob_attempts_check"
  CHECK ("attempts" >= 0 AND "maxAttempts" >= 1);
