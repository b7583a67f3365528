// What every stage of the fine-tune lifecycle is built from: the lifecycle's dependencies, its
// settings, and the notices (how a stage reaches a person). lifecycle.ts builds it once.
import type { Database } from "../../database/open-database.ts";
import type { Budgets } from "../budgets.ts";
import type { Clock, FineTuneProvider, Logger, Notifier } from "../ports.ts";
import type { PrivacyFilter } from "../privacy-filter.ts";
import type { AdapterServing } from "./adapters.ts";
import type { CanarySettings } from "./canary.ts";
import type { TrainerHardware } from "./cost-estimate.ts";
import type { Notices } from "./notices.ts";
import type { TrainingConsent } from "./training-consent.ts";

export interface LifecycleSettings {
  baseModel: string;
  threshold: number;
  minRating: number;
  epochs: "auto" | number;
  pricePer1MTokens: number;
  /** FINETUNE_PROVIDER=self-hosted: the operator's GPU (TRAINER_TOKENS_PER_SECOND, TRAINER_GPU_USD_PER_HOUR). */
  trainer?: TrainerHardware;
  minReplyChars: number;
  proposalTtlHours: number;
  declineCooldown: number;
  systemPrompt: string;
  /** Days before a model's shutdown date that its user is told. */
  retirementNoticeDays: number;
  /** New versions' trials (CANARY_*); unset: a new version takes over at once. */
  canary?: CanarySettings;
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
  /** Serves open-weights adapters: loads a person's on activation, unloads it on rollback. */
  adapters?: AdapterServing;
  /** How long to wait for a provider's quote while it validates the files (tests shorten it). */
  quoteOptions?: { attempts?: number; maxWaitMs?: number; sleep?: (ms: number) => Promise<void> };
  /** Which platforms may be trained on (FINETUNE_PLATFORMS); unset: every platform. */
  consent?: TrainingConsent;
  notifiers: Partial<Record<string, Notifier>>;
  privacy: PrivacyFilter;
  settings: LifecycleSettings;
}

export interface StageContext extends LifecycleDeps {
  notices: Notices;
}
