-- Data rights (see src/core/data-rights.ts): provider-side deletions still owed to people who asked
-- to be forgotten, keyed by a hash of their identity, never the identity itself. Additive only.

-- CreateTable
CREATE TABLE "DeletionRecord" (
    "id" BIGSERIAL NOT NULL,
    "subjectHash" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastAttemptAt" TIMESTAMP(3),

    CONSTRAINT "DeletionRecord_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "DeletionRecord_provider_kind_resourceId_key" ON "DeletionRecord"("provider", "kind", "resourceId");

-- CreateIndex
CREATE INDEX "DeletionRecord_subjectHash_idx" ON "DeletionRecord"("subjectHash");

-- CreateIndex
CREATE INDEX "DeletionRecord_status_idx" ON "DeletionRecord"("status");

-- Retention (src/core/retention.ts) deletes old exchanges by age across all users.
CREATE INDEX "Exchange_createdAt_idx" ON "Exchange"("createdAt");
