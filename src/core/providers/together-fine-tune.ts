// LoRA fine-tuning on Together AI over its REST API (https://api.together.ai/v1), with plain fetch.
// Every failure leaves as a ProviderError so the job runner's retry logic sees one error type.
//
// Why not the official `together-ai` SDK: its file upload helper (0.52, lib/upload) ignores the
// client's baseURL, cannot run as an ES module (it calls `require`) and cannot send a file stream on
// Node 20 (no `duplex` option), so uploads would need hand-written HTTP anyway; the other eight calls
// are small JSON requests, and one fetch path keeps one error mapping (status, retry-after, code).
// test/emulator-together.test.ts checks the emulator against the SDK, so both speak the same API.
//
// The API shapes relied on (togethercomputer/openapi openapi.yaml @ 090263aa, 2026-04-28, and the
// SDK's types at 0.52):
// * POST /files/upload, multipart `purpose=fine-tune`, `file_name`, `file_type=jsonl`, `file` -> `{id}`
// * POST /fine-tunes `{model, training_file, validation_file?, n_epochs, n_evals, suffix,
//   training_type: {type: "Lora", lora_r, lora_alpha}, training_method: {method: "sft",
//   train_on_inputs: "auto"}}` -> job; GET /fine-tunes/{id} -> job; GET /fine-tunes -> `{data: jobs}`
//   (no filters or pages); POST /fine-tunes/{id}/cancel; DELETE /fine-tunes/{id}
// * job: `id`, `status` (pending|queued|running|compressing|uploading|cancel_requested|cancelled|
//   error|completed), `training_file`, `created_at`, `model_output_name`, `token_count`,
//   `total_price` (integer nano-dollars)
// * GET /fine-tunes/{id}/events -> `{data: [{type, level, message}]}`: the only place the reason for
//   an `error` job is given; GET /fine-tunes/{id}/metrics -> `{metrics: [{"eval/loss": ...}]}`
// * POST /fine-tunes/estimate-price -> `{estimation_available?, unavailable_reason?,
//   estimated_total_price (dollars), estimated_train_token_count, estimated_eval_token_count,
//   allowed_to_proceed}`
// * errors: `{"error": {"message", "type", "param", "code"}}`
import { type FineTuneJobInfo, type FineTuneProvider, type FineTuneStatus, ProviderError } from "../ports.ts";
import { retryAfterFromHeaders } from "../retry.ts";
import { sanitiseSuffix } from "./openai-fine-tune.ts";

export interface TogetherFineTuneOptions {
  apiKey: string;
  /** Default "https://api.together.ai/v1". */
  baseUrl?: string;
  /**
   * LoRA rank (`lora_r`). Default 16: a few hundred examples of one person's style need no more, the
   * adapter stays small to download and load, and it fits vLLM's default `--max-lora-rank` of 16.
   * Together caps the rank per model (64 for most, 16 for DeepSeek V3/R1, Kimi K2, GLM-5).
   */
  loraRank?: number;
  /** LoRA alpha (`lora_alpha`). Default twice the rank, as together-python does. */
  loraAlpha?: number;
  /** Evaluations on the validation file, when there is one (each is billed). Default 1. */
  evals?: number;
  /** Per-request timeout. Default 120 s (uploads of large files included). */
  timeoutMs?: number;
}

/** Together's MIN_SAMPLES (together-python constants.py). */
const TOGETHER_MIN_EXAMPLES = 1;
/** "Up to 40 character suffix" (together-python resources/finetune.py). */
const MAX_SUFFIX_LENGTH = 40;
const NANO_DOLLARS = 1_000_000_000;
/** How long to wait before asking for a quote again while Together validates the file. */
const NOT_VALIDATED_RETRY_MS = 5_000;

const STATUSES: Record<string, FineTuneStatus> = {
  pending: "queued",
  queued: "queued",
  running: "running",
  compressing: "running",
  uploading: "running",
  // Not terminal: the job may still finish (or fail) before the cancel lands, as Vertex's
  // CANCELLING; the caller keeps polling until "cancelled".
  cancel_requested: "running",
  cancelled: "cancelled",
  error: "failed",
  completed: "succeeded",
};

interface TogetherJob {
  id: string;
  status: string;
  training_file?: string;
  validation_file?: string;
  created_at?: string;
  model_output_name?: string;
  token_count?: number;
  total_price?: number;
  n_evals?: number;
  adapter_object_id?: string;
  adapter_object_name?: string;
}

interface EstimateResponse {
  estimation_available?: boolean;
  unavailable_reason?: string;
  estimated_total_price?: number;
  estimated_train_token_count?: number;
  estimated_eval_token_count?: number;
  allowed_to_proceed?: boolean;
}

export function createTogetherFineTuneProvider(options: TogetherFineTuneOptions): FineTuneProvider {
  const baseUrl = (options.baseUrl ?? "https://api.together.ai/v1").replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 120_000;
  const loraRank = options.loraRank ?? 16;
  const loraAlpha = options.loraAlpha ?? loraRank * 2;
  const evals = options.evals ?? 1;
  const trainingType = { type: "Lora", lora_r: loraRank, lora_alpha: loraAlpha };
  const trainingMethod = { method: "sft", train_on_inputs: "auto" };

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          accept: "application/json",
          ...(body !== undefined && !(body instanceof FormData)
            ? { "content-type": "application/json" }
            : {}),
        },
        ...(body === undefined ? {} : { body: body instanceof FormData ? body : JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      // Network failures and timeouts carry no status: ProviderError treats that as retryable.
      throw new ProviderError(`Together is unreachable: ${(error as Error).message}`, undefined);
    }
    const text = await response.text();
    if (!response.ok) throw errorFrom(response, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ProviderError(`Together answered ${method} ${path} with something other than JSON`, 502);
    }
  }

  /** The reason an `error` job failed: the last error-level (or job_error) event's message. */
  async function failureReason(id: string): Promise<string> {
    const { data } = await request<{ data?: Array<{ type?: string; level?: string; message?: string }> }>(
      "GET",
      `/fine-tunes/${encodeURIComponent(id)}/events`,
    );
    const last = (data ?? []).filter((e) => e.type === "job_error" || e.level === "error").at(-1);
    return last?.message || "the job failed without a reason";
  }

  /** The last eval/loss, if the job evaluated on a validation file. */
  async function validationLoss(id: string): Promise<number | undefined> {
    const { metrics } = await request<{ metrics?: Array<Record<string, number>> }>(
      "GET",
      `/fine-tunes/${encodeURIComponent(id)}/metrics`,
    );
    const loss = (metrics ?? []).filter((m) => typeof m["eval/loss"] === "number").at(-1)?.["eval/loss"];
    return loss;
  }

  async function toInfo(job: TogetherJob): Promise<FineTuneJobInfo> {
    // A status newer than this code is not terminal as far as we know: keep polling.
    const status = STATUSES[job.status] ?? "running";
    const billed = status === "succeeded" || status === "cancelled";
    const info: FineTuneJobInfo = { providerJobId: job.id, status };
    if (status === "succeeded" && job.model_output_name) info.fineTunedModel = job.model_output_name;
    if (status === "succeeded" && job.adapter_object_id && job.adapter_object_name)
      info.adapter = { id: job.adapter_object_id, name: job.adapter_object_name };
    if (billed && typeof job.token_count === "number") info.trainedTokens = job.token_count;
    if (billed && typeof job.total_price === "number") info.billedUsd = job.total_price / NANO_DOLLARS;
    if (status === "failed") info.error = await failureReason(job.id);
    if (status === "succeeded" && job.validation_file && (job.n_evals ?? 1) > 0) {
      const loss = await validationLoss(job.id);
      if (loss !== undefined) info.validationLoss = loss;
    }
    return info;
  }

  const getJob = async (id: string) =>
    toInfo(await request<TogetherJob>("GET", `/fine-tunes/${encodeURIComponent(id)}`));

  /** Jobs newest first (the API has no filters or pages: it returns them all). */
  async function allJobs(): Promise<TogetherJob[]> {
    const { data } = await request<{ data?: TogetherJob[] }>("GET", "/fine-tunes");
    // Ties (same second) keep the API's order reversed: it lists jobs oldest first.
    return (data ?? [])
      .map((job, index) => ({ job, index, at: Date.parse(job.created_at ?? "") || 0 }))
      .sort((a, b) => b.at - a.at || b.index - a.index)
      .map((x) => x.job);
  }

  return {
    name: "together",
    minExamples: TOGETHER_MIN_EXAMPLES,

    async uploadFile({ filename, content }) {
      const name = filename.endsWith(".jsonl") ? filename : `${filename}.jsonl`;
      const form = new FormData();
      form.append("purpose", "fine-tune");
      form.append("file_name", name);
      form.append("file_type", "jsonl");
      form.append("file", new Blob([content], { type: "application/jsonl" }), name);
      const file = await request<{ id?: string }>("POST", "/files/upload", form);
      if (!file.id) throw new ProviderError("Together accepted the upload but returned no file id", 502);
      return file.id;
    },

    async createJob({ baseModel, trainingFile, validationFile, epochs, suffix }) {
      const safeSuffix = sanitiseSuffix(suffix, MAX_SUFFIX_LENGTH);
      const job = await request<TogetherJob>("POST", "/fine-tunes", {
        model: baseModel,
        training_file: trainingFile,
        ...(validationFile ? { validation_file: validationFile, n_evals: evals } : { n_evals: 0 }),
        n_epochs: epochs,
        ...(safeSuffix ? { suffix: safeSuffix } : {}),
        training_type: trainingType,
        training_method: trainingMethod,
      });
      return toInfo(job);
    },

    getJob,

    async quotePrice({ baseModel, trainingFile, validationFile, epochs }) {
      const estimate = await request<EstimateResponse>("POST", "/fine-tunes/estimate-price", {
        training_file: trainingFile,
        ...(validationFile ? { validation_file: validationFile, n_evals: evals } : { n_evals: 0 }),
        model: baseModel,
        n_epochs: epochs,
        training_type: trainingType,
        training_method: trainingMethod,
      });
      if (estimate.estimation_available === false) {
        const reason = estimate.unavailable_reason ?? "unknown";
        if (reason.endsWith("_not_validated"))
          throw new ProviderError(
            "Together is still checking the uploaded file; ask for the price again shortly.",
            503,
            NOT_VALIDATED_RETRY_MS,
            reason,
          );
        const file = reason.startsWith("eval") ? validationFile : trainingFile;
        const detail = file ? await fileProblem(file) : undefined;
        throw new ProviderError(
          `Together cannot price this job (${reason})${detail ? `: ${detail}` : ""}`,
          400,
          undefined,
          reason,
        );
      }
      if (typeof estimate.estimated_total_price !== "number")
        throw new ProviderError("Together returned a price estimate without a price", 502);
      const tokens = (estimate.estimated_train_token_count ?? 0) + (estimate.estimated_eval_token_count ?? 0);
      return {
        usd: estimate.estimated_total_price,
        ...(tokens > 0 ? { tokens } : {}),
        ...(typeof estimate.allowed_to_proceed === "boolean"
          ? { allowedToProceed: estimate.allowed_to_proceed }
          : {}),
      };
    },

    async findJobByTrainingFile(trainingFile) {
      // Newest first: if a crashed launch and a later one both used the file, the later one counts.
      const match = (await allJobs()).find((job) => job.training_file === trainingFile);
      return match ? getJob(match.id) : undefined;
    },

    async cancelJob(id) {
      try {
        await request("POST", `/fine-tunes/${encodeURIComponent(id)}/cancel`);
      } catch (error) {
        // Cancelling twice (a retried request, two admins) is not an error; cancelling a job that
        // already finished otherwise is, because the caller would believe no model exists.
        if (!(error instanceof ProviderError && error.status === 400)) throw error;
        const job = await request<TogetherJob>("GET", `/fine-tunes/${encodeURIComponent(id)}`);
        if (job.status !== "cancelled" && job.status !== "cancel_requested") throw error;
      }
    },

    // Together announces no retirement dates for tuned models.
    modelShutdownDate: async () => undefined,

    // Deletions run when a user asks to be forgotten: one that is already gone has succeeded.
    async deleteFile(fileId) {
      await ignoreNotFound(request("DELETE", `/files/${encodeURIComponent(fileId)}`));
    },

    async deleteModel(model) {
      // Together's v1 API deletes a fine-tuned model with its job (DELETE /fine-tunes/{id}); the model
      // name leads back to the job. No job with that output name: already deleted.
      for (const job of await allJobs())
        if (job.model_output_name === model)
          await ignoreNotFound(request("DELETE", `/fine-tunes/${encodeURIComponent(job.id)}`));
    },
  };

  async function fileProblem(fileId: string): Promise<string | undefined> {
    try {
      const file = await request<{ validation_report?: { error?: string } }>(
        "GET",
        `/files/${encodeURIComponent(fileId)}`,
      );
      return file.validation_report?.error;
    } catch {
      return undefined;
    }
  }
}

function errorFrom(response: Response, text: string): ProviderError {
  let message = `Together answered HTTP ${response.status}`;
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: unknown; code?: unknown; type?: unknown } | string;
      message?: unknown;
    };
    const error = typeof body.error === "object" && body.error !== null ? body.error : undefined;
    const found = error?.message ?? (typeof body.error === "string" ? body.error : body.message);
    if (typeof found === "string" && found) message = found;
    const rawCode = error?.code ?? error?.type;
    if (typeof rawCode === "string" && rawCode) code = rawCode;
  } catch {
    // Not JSON (a proxy's HTML page): the status says enough.
  }
  const retryAfterMs = retryAfterFromHeaders((name) => response.headers.get(name));
  return new ProviderError(message, response.status, retryAfterMs, code);
}

async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!(error instanceof ProviderError && error.status === 404)) throw error;
  }
}
