// What every stage of the fine-tune lifecycle is built from: the lifecycle's dependencies, its
// settings, and the notices (how a stage reaches a person). lifecycle.ts builds it once.
import type { Database } from "../../database/open-database.ts";
import type { Budgets } from "../budgets.ts";
import type { Clock, FineTuneProvider, Logger, Notifier } from "../ports.ts";
import type { PrivacyFilter } from "../privacy-filter.ts";
import type { Notices } from "./notices.ts";

export interface LifecycleSettings {
  baseModel: string;
  threshold: number;
  minRating: number;
  epochs: "auto" | number;
  pricePer1MTokens: number;
  minReplyChars: number;
  proposalTtlHours: number;
  declineCooldown: number;
  systemPrompt: string;
  /** Days before a model's shutdown date that its user is told. */
  retirementNoticeDays: number;
}

export interface LifecycleDeps {
  db: Database;
  /**
   * Carries out the provider deletions queued for one person (DeletionRecord, by subject hash): the
   * data-rights module's retryDeletions, shared with forget so there is one deletion queue.
   */
  deleteQueued?: (subjectHash: string) => Promise<unknown>;
  clock: Clock;
  log: Logger;
  budgets: Budgets;
  /** Undefined when FINETUNE_PROVIDER=none. */
  provider?: FineTuneProvider;
  notifiers: Partial<Record<string, Notifier>>;
  privacy: PrivacyFilter;
  settings: LifecycleSettings;
}

export interface StageContext extends LifecycleDeps {
  notices: Notices;
}
