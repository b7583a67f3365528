-- Issue 14: the provider's own quote on an offer, adapters served by an adapter server, the
-- training-offers switch, and providers that refuse new jobs. Additive only.

-- AlterTable
ALTER TABLE "FineTuneProposal" ADD COLUMN "quotedUsd" DECIMAL(14,6),
ADD COLUMN "quotedTokens" INTEGER,
ADD COLUMN "quoteFileId" TEXT,
ADD COLUMN "quoteValidationFileId" TEXT;

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN "adapterName" TEXT,
ADD COLUMN "adapterSource" TEXT,
ADD COLUMN "adapterServer" TEXT;

-- AlterTable
ALTER TABLE "User" ADD COLUMN "trainingOffersOff" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "FineTuneProviderRefusal" (
    "provider" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "refusedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "FineTuneProviderRefusal_pkey" PRIMARY KEY ("provider")
);
