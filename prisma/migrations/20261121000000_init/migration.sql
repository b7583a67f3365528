-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "vector";

-- CreateTable
CREATE TABLE "User" (
    "id" UUID NOT NULL,
    "platform" TEXT NOT NULL,
    "externalId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "optedOut" BOOLEAN NOT NULL DEFAULT false,
    "optedOutAt" TIMESTAMP(3),
    "activeModelVersionId" UUID,
    "exchangeCount" INTEGER NOT NULL DEFAULT 0,
    "ratedCount" INTEGER NOT NULL DEFAULT 0,
    "highRatedCount" INTEGER NOT NULL DEFAULT 0,
    "readyCount" INTEGER NOT NULL DEFAULT 0,
    "proposalBlockedUntilReady" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Exchange" (
    "id" BIGSERIAL NOT NULL,
    "userId" UUID NOT NULL,
    "platform" TEXT NOT NULL,
    "channelId" TEXT NOT NULL,
    "threadId" TEXT,
    "userMessageId" TEXT NOT NULL,
    "replyMessageId" TEXT,
    "replyMessageIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "userText" TEXT NOT NULL,
    "replyText" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "model" TEXT,
    "promptTokens" INTEGER,
    "completionTokens" INTEGER,
    "costUsd" DECIMAL(14,6),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "answeredAt" TIMESTAMP(3),
    "embedding" vector,
    "embeddingModel" TEXT,
    "rating" INTEGER,
    "ratedAt" TIMESTAMP(3),
    "trainedAt" TIMESTAMP(3),
    "trainedInJobId" UUID,

    CONSTRAINT "Exchange_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ExchangeReaction" (
    "id" BIGSERIAL NOT NULL,
    "exchangeId" BIGINT NOT NULL,
    "emoji" TEXT NOT NULL,
    "rating" INTEGER NOT NULL,
    "addedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "removedAt" TIMESTAMP(3),

    CONSTRAINT "ExchangeReaction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FineTuneProposal" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "origin" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "baseModel" TEXT NOT NULL,
    "examples" INTEGER NOT NULL,
    "trainExamples" INTEGER NOT NULL,
    "validationExamples" INTEGER NOT NULL,
    "tokens" INTEGER NOT NULL,
    "epochs" INTEGER NOT NULL,
    "redactions" INTEGER NOT NULL,
    "drops" JSONB NOT NULL,
    "estimatedCostUsd" DECIMAL(14,6) NOT NULL,
    "estimatedSeconds" INTEGER NOT NULL,
    "trainJsonl" TEXT NOT NULL,
    "validationJsonl" TEXT,
    "datasetSha256" TEXT NOT NULL,
    "notifiedAt" TIMESTAMP(3),
    "notification" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "decidedAt" TIMESTAMP(3),

    CONSTRAINT "FineTuneProposal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProposalExample" (
    "proposalId" UUID NOT NULL,
    "exchangeId" BIGINT NOT NULL,

    CONSTRAINT "ProposalExample_pkey" PRIMARY KEY ("proposalId","exchangeId")
);

-- CreateTable
CREATE TABLE "FineTuneJob" (
    "id" UUID NOT NULL,
    "proposalId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "baseModel" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'approved',
    "providerFileId" TEXT,
    "providerValidationFileId" TEXT,
    "providerJobId" TEXT,
    "providerStatus" TEXT,
    "fineTunedModel" TEXT,
    "trainedTokens" INTEGER,
    "estimatedCostUsd" DECIMAL(14,6) NOT NULL,
    "actualCostUsd" DECIMAL(14,6),
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "FineTuneJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "jobId" UUID,
    "provider" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    "baseModel" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'available',
    "shutdownDate" TIMESTAMP(3),
    "retirementNoticeAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModelVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CostLedgerEntry" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "userId" UUID,
    "jobId" UUID,
    "proposalId" UUID,
    "exchangeId" BIGINT,
    "amountUsd" DECIMAL(14,6) NOT NULL,
    "period" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "settledAt" TIMESTAMP(3),

    CONSTRAINT "CostLedgerEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AdminLimits" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "trainingPerUserMonthUsd" DECIMAL(14,6),
    "trainingTotalMonthUsd" DECIMAL(14,6),
    "trainingsPerUserMonth" INTEGER,
    "chatPerDayUsd" DECIMAL(14,6),
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AdminLimits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JobRun" (
    "id" BIGSERIAL NOT NULL,
    "job" TEXT NOT NULL,
    "slot" TEXT NOT NULL,
    "claimedBy" TEXT NOT NULL,
    "claimedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),
    "outcome" TEXT,

    CONSTRAINT "JobRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProcessedEvent" (
    "key" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProcessedEvent_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_externalId_key" ON "User"("externalId");

-- CreateIndex
CREATE UNIQUE INDEX "User_activeModelVersionId_key" ON "User"("activeModelVersionId");

-- CreateIndex
CREATE INDEX "User_readyCount_idx" ON "User"("readyCount");

-- CreateIndex
CREATE INDEX "Exchange_userId_createdAt_idx" ON "Exchange"("userId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "Exchange_userId_rating_ratedAt_idx" ON "Exchange"("userId", "rating", "ratedAt" DESC);

-- CreateIndex
CREATE INDEX "Exchange_userId_embeddingModel_idx" ON "Exchange"("userId", "embeddingModel");

-- CreateIndex
CREATE INDEX "Exchange_platform_replyMessageId_idx" ON "Exchange"("platform", "replyMessageId");

-- CreateIndex
CREATE INDEX "Exchange_channelId_threadId_createdAt_idx" ON "Exchange"("channelId", "threadId", "createdAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "Exchange_platform_userMessageId_key" ON "Exchange"("platform", "userMessageId");

-- CreateIndex
CREATE UNIQUE INDEX "ExchangeReaction_exchangeId_emoji_key" ON "ExchangeReaction"("exchangeId", "emoji");

-- CreateIndex
CREATE INDEX "FineTuneProposal_userId_state_idx" ON "FineTuneProposal"("userId", "state");

-- CreateIndex
CREATE INDEX "FineTuneProposal_state_expiresAt_idx" ON "FineTuneProposal"("state", "expiresAt");

-- CreateIndex
CREATE INDEX "ProposalExample_exchangeId_idx" ON "ProposalExample"("exchangeId");

-- CreateIndex
CREATE UNIQUE INDEX "FineTuneJob_proposalId_key" ON "FineTuneJob"("proposalId");

-- CreateIndex
CREATE UNIQUE INDEX "FineTuneJob_providerJobId_key" ON "FineTuneJob"("providerJobId");

-- CreateIndex
CREATE INDEX "FineTuneJob_state_idx" ON "FineTuneJob"("state");

-- CreateIndex
CREATE INDEX "FineTuneJob_userId_createdAt_idx" ON "FineTuneJob"("userId", "createdAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_jobId_key" ON "ModelVersion"("jobId");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_userId_version_key" ON "ModelVersion"("userId", "version");

-- CreateIndex
CREATE INDEX "CostLedgerEntry_kind_period_status_idx" ON "CostLedgerEntry"("kind", "period", "status");

-- CreateIndex
CREATE INDEX "CostLedgerEntry_userId_kind_period_idx" ON "CostLedgerEntry"("userId", "kind", "period");

-- CreateIndex
CREATE INDEX "CostLedgerEntry_jobId_idx" ON "CostLedgerEntry"("jobId");

-- CreateIndex
CREATE INDEX "CostLedgerEntry_kind_createdAt_idx" ON "CostLedgerEntry"("kind", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "JobRun_job_slot_key" ON "JobRun"("job", "slot");

-- CreateIndex
CREATE INDEX "ProcessedEvent_createdAt_idx" ON "ProcessedEvent"("createdAt");

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_activeModelVersionId_fkey" FOREIGN KEY ("activeModelVersionId") REFERENCES "ModelVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Exchange" ADD CONSTRAINT "Exchange_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ExchangeReaction" ADD CONSTRAINT "ExchangeReaction_exchangeId_fkey" FOREIGN KEY ("exchangeId") REFERENCES "Exchange"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FineTuneProposal" ADD CONSTRAINT "FineTuneProposal_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProposalExample" ADD CONSTRAINT "ProposalExample_proposalId_fkey" FOREIGN KEY ("proposalId") REFERENCES "FineTuneProposal"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProposalExample" ADD CONSTRAINT "ProposalExample_exchangeId_fkey" FOREIGN KEY ("exchangeId") REFERENCES "Exchange"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FineTuneJob" ADD CONSTRAINT "FineTuneJob_proposalId_fkey" FOREIGN KEY ("proposalId") REFERENCES "FineTuneProposal"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FineTuneJob" ADD CONSTRAINT "FineTuneJob_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelVersion" ADD CONSTRAINT "ModelVersion_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelVersion" ADD CONSTRAINT "ModelVersion_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "FineTuneJob"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CostLedgerEntry" ADD CONSTRAINT "CostLedgerEntry_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

