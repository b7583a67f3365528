// Who may be trained on, and who is offered a training. Fine-tuning on a platform's messages needs
// the operator to say they have the right to (FINETUNE_PLATFORMS): Discord's Developer Policy forbids
// training models on message content from its API without Discord's express permission, and
// Slack's API terms restrict LLM training on Slack data (README, "Platform terms"). Offers are made
// on the bot's own initiative only to people who rated at least one reply and have not turned
// offers off (`/assistant training off`); `/assistant train` on request always works where training
// is allowed at all.
import type { Database } from "../../database/open-database.ts";
import { FINE_TUNE_OFF_HOW } from "../messages.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { Platform, UserRef } from "../ports.ts";
import { ensureUser } from "../users.ts";

export interface TrainingConsentSettings {
  /** FINETUNE_PROVIDER is not `none`. */
  providerConfigured: boolean;
  /** FINETUNE_PLATFORMS. */
  platforms: readonly Platform[];
}

const PLATFORM_NAMES: Record<Platform, string> = { discord: "Discord", slack: "Slack" };

export function createTrainingConsent(settings: TrainingConsentSettings) {
  /** Whether training on this platform's messages is allowed by the operator's setting. */
  const platformAllowed = (platform: Platform) => settings.platforms.includes(platform);

  /** Why level 3 is off for someone on `platform`; undefined when it is on. */
  function offReason(platform: Platform): string | undefined {
    if (!settings.providerConfigured) return FINE_TUNE_OFF_HOW;
    if (!platformAllowed(platform))
      return `Training on ${PLATFORM_NAMES[platform]} messages is not enabled on this bot: the platform's terms restrict it, and an admin lists the platforms they have the right to train on in FINETUNE_PLATFORMS. Your memory and best replies still personalise my answers.`;
    return undefined;
  }

  return { platforms: settings.platforms, platformAllowed, offReason };
}

/**
 * `/assistant training off|on`: whether the bot may offer this person a training on its own
 * (scheduled offers). `/assistant train` keeps working either way.
 */
export async function setTrainingOffers(db: Database, ref: UserRef, wanted: string): Promise<Outcome> {
  const w = wanted.trim().toLowerCase();
  if (w !== "on" && w !== "off") return outcome("training_offers.usage");
  const user = await ensureUser(db, ref);
  await db.user.update({ where: { id: user.id }, data: { trainingOffersOff: w === "off" } });
  return outcome(w === "off" ? "training_offers.off" : "training_offers.on");
}

export type TrainingConsent = ReturnType<typeof createTrainingConsent>;
