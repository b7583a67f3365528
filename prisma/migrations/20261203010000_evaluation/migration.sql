-- Issue 16: which model version, trial arm and level answered each reply, trials and validation
-- loss on the version. Additive only.

-- AlterTable
ALTER TABLE "Exchange" ADD COLUMN "modelVersionId" UUID,
ADD COLUMN "arm" TEXT,
ADD COLUMN "level" TEXT,
ADD COLUMN "holdout" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN "canaryState" TEXT,
ADD COLUMN "canaryStartedAt" TIMESTAMP(3),
ADD COLUMN "canaryEndedAt" TIMESTAMP(3),
ADD COLUMN "canaryIncumbentId" UUID,
ADD COLUMN "canaryResult" JSONB,
ADD COLUMN "validationLoss" DOUBLE PRECISION,
ADD COLUMN "trainingLoss" DOUBLE PRECISION;

-- CreateIndex
CREATE INDEX "Exchange_modelVersionId_idx" ON "Exchange"("modelVersionId");

-- CreateIndex
CREATE INDEX "Exchange_userId_level_idx" ON "Exchange"("userId", "level");

-- CreateIndex
CREATE INDEX "ModelVersion_canaryState_idx" ON "ModelVersion"("canaryState");
