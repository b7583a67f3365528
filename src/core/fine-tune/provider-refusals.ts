// A fine-tuning provider that no longer takes new jobs from this bot's account. OpenAI is winding
// self-serve fine-tuning down in stages: organisations that had never fine-tuned lost job creation
// on 2026-05-07, those without fine-tuned inference in the past 60 days on 2026-07-02, everyone on
// 2027-01-06 (developers.openai.com/api/docs/deprecations). A refused create is an HTTP 403
// ("permission denied"); its exact code is not documented, so any 403 on job creation counts.
// Once refused (or past the date), no offer is made: the approval DM is never sent, a person who
// asks is told why, and the log names the setting to change.
import type { Database } from "../../database/open-database.ts";
import type { Clock, FineTuneProvider, Logger } from "../ports.ts";
import { ProviderError } from "../ports.ts";
import { clipStorable } from "../storable-text.ts";

/** OpenAI: no new fine-tuning jobs for anyone from this day (UTC). */
export const OPENAI_NEW_JOBS_END = new Date("2027-01-06T00:00:00Z");
/**
 * How long a recorded refusal holds: then one offer tries again (an organisation may regain access,
 * or the operator may fix the account); a second 403 records it again.
 */
export const REFUSAL_HOLDS_MS = 7 * 86_400_000;

interface Deps {
  db: Database;
  clock: Clock;
  log: Logger;
}

/**
 * OpenAI's gpt-4o / 4o-mini / 4.1 / 4.1-mini snapshots, and every fine-tune on them, are removed from
 * the API on 2027-01-14 (deprecations page, "GPT-4 series"). Used when OpenAI is no longer the
 * configured provider and cannot be asked for the model's `shutdown_date`.
 */
const OPENAI_TUNED_SHUTDOWN = new Date("2027-01-14T00:00:00Z");
const OPENAI_RETIRING_BASES = /^gpt-(4o|4o-mini|4\.1|4\.1-mini)-\d{4}-\d{2}-\d{2}$/;

export function knownShutdownDate(provider: string, baseModel: string): Date | undefined {
  if (provider === "openai" && OPENAI_RETIRING_BASES.test(baseModel)) return OPENAI_TUNED_SHUTDOWN;
  return undefined;
}

/** Why `provider` takes no new jobs now, or undefined when it may. */
export async function providerRefusal(deps: Deps, provider: FineTuneProvider): Promise<string | undefined> {
  const now = deps.clock.now();
  if (provider.name === "openai" && now >= OPENAI_NEW_JOBS_END)
    return "OpenAI stopped accepting new fine-tuning jobs on 2027-01-06";
  const row = await deps.db.fineTuneProviderRefusal.findUnique({ where: { provider: provider.name } });
  if (!row || now.getTime() - row.refusedAt.getTime() > REFUSAL_HOLDS_MS) return undefined;
  return row.reason;
}

/** Whether a job-creation error means the provider refuses this account new jobs. */
export function isJobRefusal(error: unknown): error is ProviderError {
  return error instanceof ProviderError && error.status === 403;
}

/** What the person whose approved training was refused is told. */
export function refusedJobReason(provider: string): string {
  return `${provider} refused to start it: it no longer accepts new fine-tuning jobs from this bot's account. An admin needs to switch FINETUNE_PROVIDER (see the README's Fine-tuning section)`;
}

/** Records a refusal and says in the log which setting to change. */
export async function recordProviderRefusal(
  deps: Deps,
  provider: FineTuneProvider,
  error: ProviderError,
): Promise<void> {
  const reason = clipStorable(`${provider.name} refused to create the job (HTTP 403): ${error.message}`, 300);
  const now = deps.clock.now();
  await deps.db.fineTuneProviderRefusal.upsert({
    where: { provider: provider.name },
    create: { provider: provider.name, reason, refusedAt: now },
    update: { reason, refusedAt: now },
  });
  logRefusal(deps.log, provider, error.code);
}

export function logRefusal(log: Logger, provider: FineTuneProvider, code?: string): void {
  log.error("fine-tuning provider refuses new jobs: no training offers are made; set FINETUNE_PROVIDER", {
    setting: "FINETUNE_PROVIDER",
    provider: provider.name,
    code,
    fix: "FINETUNE_PROVIDER=together with TOGETHER_API_KEY (see README, Fine-tuning)",
  });
}
