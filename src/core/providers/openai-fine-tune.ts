// OpenAI fine-tuning through the official SDK: file upload, supervised jobs, tuned-model lifecycle.
// Every failure leaves as a ProviderError so the job runner's retry logic sees one error type.
import OpenAI, { toFile } from "openai";
import { type FineTuneJobInfo, type FineTuneProvider, type FineTuneStatus, ProviderError } from "../ports.ts";

export interface OpenAIFineTuneOptions {
  apiKey: string;
  /** e.g. "https://api.openai.com/v1" (the SDK default when omitted). */
  baseUrl?: string;
  /**
   * SDK-level retries. Default 0: retrying is the caller's business (ports.ts), and a blind retry of
   * an upload or job creation that reached the server would create a duplicate.
   */
  maxRetries?: number;
  timeoutMs?: number;
}

/** OpenAI refuses training files with fewer examples. */
const OPENAI_MIN_EXAMPLES = 10;
/** OpenAI's limit on `suffix`. */
const MAX_SUFFIX_LENGTH = 64;

const STATUSES: Record<string, FineTuneStatus> = {
  validating_files: "validating",
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};

export function createOpenAIFineTuneProvider(options: OpenAIFineTuneOptions): FineTuneProvider {
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries: options.maxRetries ?? 0,
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });

  const toInfo = (job: OpenAI.FineTuning.FineTuningJob): FineTuneJobInfo => ({
    providerJobId: job.id,
    // A status newer than this code is not terminal as far as we know: keep polling.
    status: STATUSES[job.status] ?? "running",
    ...(job.fine_tuned_model ? { fineTunedModel: job.fine_tuned_model } : {}),
    ...(typeof job.trained_tokens === "number" ? { trainedTokens: job.trained_tokens } : {}),
    ...(job.status === "failed"
      ? { error: job.error?.message || job.error?.code || "the job failed without a reason" }
      : {}),
    ...(job.result_files?.length ? { resultFiles: [...job.result_files] } : {}),
  });

  return {
    name: "openai",
    minExamples: OPENAI_MIN_EXAMPLES,

    uploadFile: ({ filename, content }) =>
      call(async () => {
        // The API only accepts fine-tuning files whose name ends in .jsonl.
        const name = filename.endsWith(".jsonl") ? filename : `${filename}.jsonl`;
        const file = await client.files.create({
          file: await toFile(Buffer.from(content, "utf8"), name),
          purpose: "fine-tune",
        });
        return file.id;
      }),

    createJob: ({ baseModel, trainingFile, validationFile, epochs, suffix }) =>
      call(async () => {
        const safeSuffix = sanitiseSuffix(suffix, MAX_SUFFIX_LENGTH);
        const job = await client.fineTuning.jobs.create({
          model: baseModel,
          training_file: trainingFile,
          ...(validationFile ? { validation_file: validationFile } : {}),
          ...(safeSuffix ? { suffix: safeSuffix } : {}),
          method: { type: "supervised", supervised: { hyperparameters: { n_epochs: epochs } } },
        });
        return toInfo(job);
      }),

    getJob: (id) =>
      call(async () => {
        const job = await client.fineTuning.jobs.retrieve(id);
        const info = toInfo(job);
        // The held-out loss: the last checkpoint's metrics, `full_valid_loss` (the whole validation
        // file, computed at each epoch's end) before `valid_loss` (one batch of it).
        if (info.status === "succeeded" && job.validation_file) {
          let last: { step: number; loss?: number } | undefined;
          for await (const c of client.fineTuning.jobs.checkpoints.list(id, { limit: 10 })) {
            const loss = c.metrics.full_valid_loss ?? c.metrics.valid_loss;
            if (!last || c.step_number > last.step) last = { step: c.step_number, loss };
          }
          if (typeof last?.loss === "number") info.validationLoss = last.loss;
        }
        return info;
      }),

    findJobByTrainingFile: (trainingFile) =>
      call(async () => {
        // Newest first; a job we may have created moments before a crash is near the top.
        for await (const job of client.fineTuning.jobs.list({ limit: 50 })) {
          if (job.training_file === trainingFile) return toInfo(job);
        }
        return undefined;
      }),

    cancelJob: (id) =>
      call(async () => {
        try {
          await client.fineTuning.jobs.cancel(id);
        } catch (error) {
          // Cancelling twice (a retried request, two admins) is not an error; cancelling a job that
          // already finished otherwise is, because the caller would believe no model exists.
          if (!(error instanceof OpenAI.APIError && error.status === 400)) throw error;
          const job = await client.fineTuning.jobs.retrieve(id);
          if (job.status !== "cancelled") throw error;
        }
      }),

    modelShutdownDate: (model) =>
      call(async () => {
        const info = await client.models.retrieve(model);
        // `shutdown_date` is not in the SDK's Model type (yet); the API sends it on deprecated models.
        return parseDate((info as unknown as Record<string, unknown>).shutdown_date);
      }),

    // Deletions run after a training and when a user asks to be forgotten: one that is already gone
    // has succeeded.
    deleteFile: (fileId) => call(() => ignoreNotFound(client.files.delete(fileId))),
    deleteModel: (model) => call(() => ignoreNotFound(client.models.delete(model))),
  };
}

/** Model names embed the suffix between colons (`ft:base:org:suffix:id`), so keep it to safe characters. */
export function sanitiseSuffix(suffix: string, maxLength: number): string {
  return suffix
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, maxLength);
}

/** ISO date/time string, or Unix seconds (the API's other timestamp form). */
function parseDate(value: unknown): Date | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return new Date(value * 1000);
  if (typeof value !== "string" || value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!(error instanceof OpenAI.APIError && error.status === 404)) throw error;
  }
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toProviderError(error);
  }
}

export function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof OpenAI.APIError) {
    // Connection errors and timeouts carry no status: ProviderError treats that as retryable.
    const status = typeof error.status === "number" ? error.status : undefined;
    const headers = error.headers instanceof Headers ? error.headers : undefined;
    return new ProviderError(
      error.message,
      status,
      retryAfterMs(headers),
      error.code ?? error.type ?? undefined,
    );
  }
  return new ProviderError(error instanceof Error ? error.message : String(error), undefined);
}

/** `retry-after-ms` (OpenAI's precise form) first, then `retry-after` in seconds or as an HTTP date. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
