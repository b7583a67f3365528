-- Every change to the admin limits, from the /assistant limits command or the operator dashboard:
-- who made it, when, and the value before and after (NULL: no limit). budgets.setLimits writes one
-- row per limit it changed, in the transaction that changes AdminLimits.
CREATE TABLE "LimitChange" (
    "id" BIGSERIAL NOT NULL,
    "changedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "changedBy" TEXT,
    "limitKey" TEXT NOT NULL,
    "oldValue" DECIMAL(14,6),
    "newValue" DECIMAL(14,6),

    CONSTRAINT "LimitChange_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "LimitChange_changedAt_idx" ON "LimitChange"("changedAt" DESC);
CREATE INDEX "LimitChange_changedBy_idx" ON "LimitChange"("changedBy");
