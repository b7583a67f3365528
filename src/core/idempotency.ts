// Platforms deliver some events more than once (Slack retries, a redelivered reaction, a double
// click on a button). Each such event carries a delivery id; the first caller to claim it handles
// the event, every later one sees it was handled. The keys are pruned by age (src/core/retention.ts).
import type { Database } from "../database/open-database.ts";
import type { Prisma } from "../generated/prisma/client.ts";

/**
 * Claims the event `key` (a platform delivery or interaction id): true for the first claim, false
 * when it was claimed before. In a transaction, the claim commits or rolls back with the caller's
 * other writes.
 */
export async function claimEvent(tx: Database | Prisma.TransactionClient, key: string): Promise<boolean> {
  const r = await tx.processedEvent.createMany({ data: [{ key }], skipDuplicates: true });
  return r.count === 1;
}
