-- A reply reads the person's latest exchanges in its channel or thread. The old index led with the
-- channel, so that read visited every exchange in the channel (all of its members) with no thread
-- and sorted them: at 10k exchanges of one person 1,000 rows and 3 ms on the embedded database,
-- growing with the channel. Led by the person, and read in index order, it visits the few it returns.
-- Nothing else reads the old index.
DROP INDEX "Exchange_channelId_threadId_createdAt_idx";

CREATE INDEX "Exchange_userId_channelId_threadId_createdAt_idx" ON "Exchange"("userId", "channelId", "threadId", "createdAt" DESC);
