-- The in-process memory index (src/core/memory-index.ts) keeps each active user's embeddings in
-- the memory of the bot. These columns let every process (replicas share one database) see whether its
-- copy is current from the row its reply reads anyway:
--   User.memoryVersion  bumped by every change to a searchable exchange (answered with its
--                       embedding, rating changed), the exchange gets the new value in memorySeq,
--                       under the User row's lock, so values commit in order per user
--   User.memoryEpoch    bumped when exchanges are deleted (retention, opt-in): copies are reloaded
ALTER TABLE "User" ADD COLUMN "memoryVersion" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "User" ADD COLUMN "memoryEpoch" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "Exchange" ADD COLUMN "memorySeq" BIGINT;
CREATE INDEX "Exchange_userId_memorySeq_idx" ON "Exchange"("userId", "memorySeq");
