-- Exchanges a stop left unanswered are answered after the restart: who is answering an exchange,
-- and since when, so a redelivered event and the restart sweep never both answer it.
ALTER TABLE "Exchange" ADD COLUMN "claimedAt" TIMESTAMP(3),
ADD COLUMN "claimedBy" TEXT;

-- CreateIndex
CREATE INDEX "Exchange_status_createdAt_idx" ON "Exchange"("status", "createdAt");
