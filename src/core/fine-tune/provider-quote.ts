// The provider's own price for an offer, before the person sees it. Together prices a job only on
// uploaded, validated files (POST /v1/fine-tunes/estimate-price: "The cost estimate is only
// available after your input datasets pass server-side validation"), with the base model's own
// tokenizer and its current rates, which this bot cannot know. So for a provider that quotes, the
// offer's dataset is uploaded when the offer is made, the quote is shown in the approval DM next
// to our own count, the reservation uses the higher of the two, and the launch trains on the same
// uploaded files (no second upload). Files of an offer that is never approved are deleted
// (file-cleanup.ts; forget).
import type { FineTunePriceQuote, FineTuneProvider, Logger } from "../ports.ts";
import { ProviderError } from "../ports.ts";
import type { Dataset } from "./dataset.ts";

export interface ProviderQuote {
  quote: FineTunePriceQuote;
  trainingFile: string;
  validationFile?: string;
}

/** Two prices further apart than this (relative to the higher) are called out in the offer. */
export const QUOTE_DIFFERENCE_NOTED = 0.05;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The name an offer's dataset file is uploaded under (before any job exists). */
export function offerFileName(datasetSha256: string, role: "training" | "validation"): string {
  return `offer-${datasetSha256.slice(0, 16)}-${role === "training" ? "train" : "validation"}.jsonl`;
}

/**
 * Uploads the offer's files and asks the provider for its price, waiting while it validates them.
 * Undefined when the provider gives no quotes. Throws ProviderError when it cannot (the files it
 * uploaded are deleted again first).
 */
export async function quoteWithProvider(
  provider: FineTuneProvider,
  dataset: Pick<Dataset, "trainJsonl" | "validationJsonl" | "sha256">,
  job: { baseModel: string; epochs: number },
  options: { log: Logger; attempts?: number; maxWaitMs?: number; sleep?: (ms: number) => Promise<void> },
): Promise<ProviderQuote | undefined> {
  if (!provider.quotePrice) return undefined;
  const sleep = options.sleep ?? realSleep;
  const attempts = options.attempts ?? 8;
  const maxWaitMs = options.maxWaitMs ?? 5_000;
  const trainingFile = await provider.uploadFile({
    filename: offerFileName(dataset.sha256, "training"),
    content: dataset.trainJsonl,
  });
  const uploaded = [trainingFile];
  try {
    const validationFile = dataset.validationJsonl
      ? await provider.uploadFile({
          filename: offerFileName(dataset.sha256, "validation"),
          content: dataset.validationJsonl,
        })
      : undefined;
    if (validationFile) uploaded.push(validationFile);
    for (let attempt = 1; ; attempt++) {
      try {
        const quote = await provider.quotePrice({
          baseModel: job.baseModel,
          trainingFile,
          ...(validationFile ? { validationFile } : {}),
          epochs: job.epochs,
        });
        return { quote, trainingFile, ...(validationFile ? { validationFile } : {}) };
      } catch (e) {
        // Still validating (or a passing fault): ask again a few times, then give up.
        if (!(e instanceof ProviderError && e.retryable) || attempt >= attempts) throw e;
        await sleep(Math.min(maxWaitMs, e.retryAfterMs ?? maxWaitMs));
      }
    }
  } catch (e) {
    await deleteQuietly(provider, uploaded, options.log);
    throw e;
  }
}

/** Deletes an abandoned offer's files; a failure is only logged (the files hold no more than the offer). */
export async function deleteQuietly(provider: FineTuneProvider, files: string[], log: Logger): Promise<void> {
  for (const file of files) {
    await provider
      .deleteFile(file)
      .catch((e: unknown) => log.warn("could not delete an offer's file", { error: e }));
  }
}
