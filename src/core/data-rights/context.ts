// What the data-rights modules are built from; rights.ts builds it once.
import type { Database } from "../../database/open-database.ts";
import type { Budgets } from "../budgets.ts";
import type { Clock, FineTuneProvider, Logger, Notifier } from "../ports.ts";

export interface DataRightsDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  /** The cost ledger's owner; forget anonymises the person's entries through it. Default: one on `db`. */
  budgets?: Budgets;
  /** The configured fine-tuning provider; without it provider deletions are recorded as pending. */
  provider?: FineTuneProvider;
  /** Lowest rating that counts as highly rated (FINETUNE_MIN_RATING). */
  minRating: number;
  /** The platforms' notifiers, for the export DM (read at each call: platforms connect later). */
  notifiers?: Partial<Record<string, Notifier>>;
  /** Called before a person's rows are deleted (an adapter server unloads their adapters). */
  beforeForget?: (userId: string) => Promise<void>;
  /** Called once a person opted out: nothing learnt from them stays served (their adapters). */
  afterOptOut?: (userId: string) => Promise<void>;
}

/**
 * Longer than the database's default `timeout`: one forget deletes all of a person's rows at once,
 * which takes a while for long histories on the embedded database. Never a `maxWait`: waiting in the
 * embedded database's queue must not time out (src/database/open-database.ts), so the client's
 * patient default applies (test/queued-transactions.test.ts).
 */
export const TX_OPTIONS = { timeout: 120_000 } as const;

export interface RightsContext extends DataRightsDeps {
  budgets: Budgets;
}
