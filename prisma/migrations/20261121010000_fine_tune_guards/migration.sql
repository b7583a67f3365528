-- Guards the database itself keeps, so two replicas or a double click can never pay twice.

-- One ledger entry per proposal (training) and per exchange (chat).
CREATE UNIQUE INDEX "CostLedgerEntry_kind_proposalId_key" ON "CostLedgerEntry"("kind", "proposalId");
CREATE UNIQUE INDEX "CostLedgerEntry_kind_exchangeId_key" ON "CostLedgerEntry"("kind", "exchangeId");

-- At most one pending proposal per user (the readiness job and /assistant train may race).
CREATE UNIQUE INDEX "FineTuneProposal_one_pending_per_user" ON "FineTuneProposal"("userId") WHERE "state" = 'pending';

-- At most one unfinished fine-tune job per user.
CREATE UNIQUE INDEX "FineTuneJob_one_active_per_user" ON "FineTuneJob"("userId")
  WHERE "state" NOT IN ('succeeded', 'failed', 'cancelled');
