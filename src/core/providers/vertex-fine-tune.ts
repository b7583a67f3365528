// Gemini supervised tuning on Vertex AI: training files go to Cloud Storage (JSON API media upload),
// jobs run through @google/genai's `tunings`. Every failure leaves as a ProviderError.
//
// Credentials: one google-auth-library configuration feeds both the SDK and the Storage calls. In
// production leave `googleAuthOptions` unset to use Application Default Credentials (service account
// on GCE/Cloud Run/GKE, GOOGLE_APPLICATION_CREDENTIALS, or gcloud's user login). Tests pass
// `{ authClient }` holding a fixed access token, which never touches the network.
import { GoogleGenAI, type TuningJob } from "@google/genai";
import { GoogleAuth, type GoogleAuthOptions } from "google-auth-library";
import { type FineTuneJobInfo, type FineTuneProvider, type FineTuneStatus, ProviderError } from "../ports.ts";
import { readVertexValidationLoss } from "./vertex-tuning-metrics.ts";

export interface VertexFineTuneOptions {
  project: string;
  /** Region where jobs run and tuned endpoints live, e.g. "us-central1". */
  location: string;
  /** Cloud Storage bucket for training files; the Vertex service agent needs read access to it. */
  bucket: string;
  /** Object-name prefix inside the bucket. Default "fine-tune/". */
  objectPrefix?: string;
  /** Vertex API base URL; the SDK's regional endpoint when omitted. */
  baseUrl?: string;
  /** Cloud Storage JSON API base URL. Default "https://storage.googleapis.com". */
  gcsBaseUrl?: string;
  /** google-auth-library options; unset means Application Default Credentials. */
  googleAuthOptions?: GoogleAuthOptions;
  /** Per-request timeout. Default 120 s (uploads of large datasets included). */
  timeoutMs?: number;
}

/**
 * Vertex's documented minimum for a supervised tuning dataset in its older docs (current docs only
 * recommend 100+); 16 keeps jobs from failing validation on either rule set.
 */
const VERTEX_MIN_EXAMPLES = 16;
/** Vertex limits tuned model display names to 128 characters. */
const MAX_DISPLAY_NAME = 128;
const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

const STATES: Record<string, FineTuneStatus> = {
  JOB_STATE_UNSPECIFIED: "queued",
  JOB_STATE_QUEUED: "queued",
  // Tuning jobs sit in PENDING while Vertex validates the dataset and provisions the pipeline.
  JOB_STATE_PENDING: "validating",
  JOB_STATE_RUNNING: "running",
  JOB_STATE_UPDATING: "running",
  // Not terminal: a cancelling job may still succeed or fail.
  JOB_STATE_CANCELLING: "running",
  JOB_STATE_PAUSED: "running",
  JOB_STATE_SUCCEEDED: "succeeded",
  JOB_STATE_PARTIALLY_SUCCEEDED: "succeeded",
  JOB_STATE_FAILED: "failed",
  JOB_STATE_EXPIRED: "failed",
  JOB_STATE_CANCELLED: "cancelled",
};

export function createVertexFineTuneProvider(options: VertexFineTuneOptions): FineTuneProvider {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const gcsBaseUrl = (options.gcsBaseUrl ?? "https://storage.googleapis.com").replace(/\/+$/, "");
  const prefix = options.objectPrefix ?? "fine-tune/";
  const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE], ...options.googleAuthOptions });

  const ai = new GoogleGenAI({
    vertexai: true,
    project: options.project,
    location: options.location,
    ...(options.googleAuthOptions ? { googleAuthOptions: options.googleAuthOptions } : {}),
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: timeoutMs,
      // The SDK's ApiError keeps the status but drops the headers, so `retry-after` would be lost;
      // failing inside fetch lets the full response become the ProviderError (the SDK rethrows it).
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.ok) throw await errorFromResponse(response);
        return response;
      },
    },
  });

  const gcs = async (url: string, init: RequestInit): Promise<Response> => {
    const token = await auth.getAccessToken();
    if (!token) throw new ProviderError("Google credentials produced no access token", 401);
    const response = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response;
  };

  // The experiments and TensorBoard APIs the SDK does not wrap (the job's loss curves), at v1.
  const vertexBaseUrl = (
    options.baseUrl ??
    `https://${options.location === "global" ? "" : `${options.location}-`}aiplatform.googleapis.com`
  ).replace(/\/+$/, "");
  const vertexGet = async (path: string, query: Record<string, string> = {}) => {
    const search = new URLSearchParams(query).toString();
    const response = await gcs(`${vertexBaseUrl}/v1/${path}${search ? `?${search}` : ""}`, { method: "GET" });
    if (!response.ok) throw await errorFromResponse(response);
    return response.json() as Promise<unknown>;
  };

  /**
   * The validation loss of a finished job that had a validation dataset. It is a warning sign on
   * the version, not what decides it (the trial does), so a failure to read it (no permission on
   * the TensorBoard, a deleted experiment, an outage) leaves the version without one instead of
   * holding back a model that trained well.
   */
  // A finished job's loss never changes, and a finished job is read more than once (the monitor,
  // then the file clean-up): keep the last few so the experiment is walked once per job.
  const losses = new Map<string, number | undefined>();
  const withValidationLoss = async (job: TuningJob, info: FineTuneJobInfo): Promise<FineTuneJobInfo> => {
    if (info.status !== "succeeded" || !job.experiment || !job.supervisedTuningSpec?.validationDatasetUri)
      return info;
    let loss = losses.get(info.providerJobId);
    if (!losses.has(info.providerJobId)) {
      try {
        loss = await readVertexValidationLoss(vertexGet, job.experiment);
        losses.set(info.providerJobId, loss);
        if (losses.size > 100) losses.delete(losses.keys().next().value!);
      } catch {
        // Not cached: the next read of the job tries again.
        return info;
      }
    }
    return loss === undefined ? info : { ...info, validationLoss: loss };
  };

  const toInfo = (job: TuningJob): FineTuneJobInfo => {
    if (!job.name) throw new ProviderError("Vertex returned a tuning job without a name", 502);
    const status = (job.state && STATES[job.state]) ?? "running";
    const stats = job.tuningDataStats?.supervisedTuningDataStats;
    const datasetTokens = Number(stats?.totalBillableTokenCount);
    const epochs = Number(job.supervisedTuningSpec?.hyperParameters?.epochCount);
    return {
      providerJobId: job.name,
      status,
      // The endpoint is what generateContent is called with; the model resource is not servable.
      ...(status === "succeeded" && job.tunedModel?.endpoint
        ? { fineTunedModel: job.tunedModel.endpoint }
        : {}),
      // Known once validation has counted the dataset; the bill is dataset tokens x epochs.
      ...(Number.isFinite(datasetTokens) && datasetTokens > 0 && Number.isFinite(epochs) && epochs > 0
        ? { trainedTokens: datasetTokens * epochs }
        : {}),
      ...(status === "failed"
        ? { error: job.error?.message || `the tuning job ended in ${job.state ?? "an unknown state"}` }
        : {}),
    };
  };

  return {
    name: "vertex",
    minExamples: VERTEX_MIN_EXAMPLES,

    uploadFile: ({ filename, content }) =>
      call(async () => {
        const name = `${prefix}${filename}`;
        const url = `${gcsBaseUrl}/upload/storage/v1/b/${encodeURIComponent(options.bucket)}/o?uploadType=media&name=${encodeURIComponent(name)}`;
        const response = await gcs(url, {
          method: "POST",
          headers: { "content-type": "application/jsonl" },
          body: content,
        });
        if (!response.ok) throw await errorFromResponse(response);
        return `gs://${options.bucket}/${name}`;
      }),

    createJob: ({ baseModel, trainingFile, validationFile, epochs, suffix }) =>
      call(async () => {
        const displayName = suffix.trim().slice(0, MAX_DISPLAY_NAME);
        const job = await ai.tunings.tune({
          baseModel,
          trainingDataset: { gcsUri: trainingFile },
          config: {
            // Always explicit: Vertex's own default is unpublished, and the estimate must match the bill.
            epochCount: epochs,
            ...(displayName ? { tunedModelDisplayName: displayName } : {}),
            ...(validationFile ? { validationDataset: { gcsUri: validationFile } } : {}),
          },
        });
        return toInfo(job);
      }),

    getJob: (name) =>
      call(async () => {
        const job = await ai.tunings.get({ name });
        return withValidationLoss(job, toInfo(job));
      }),

    cancelJob: (name) =>
      call(async () => {
        try {
          await ai.tunings.cancel({ name });
        } catch (error) {
          // As with OpenAI: cancelling an already-cancelled job is fine, a finished one is not.
          if (!(error instanceof ProviderError && error.status === 400)) throw error;
          const job = await ai.tunings.get({ name });
          if (job.state !== "JOB_STATE_CANCELLED") throw error;
        }
      }),

    // Vertex announces retirements per base model on its deprecation pages, not per tuned model via
    // the API, so there is nothing to read here.
    modelShutdownDate: async () => undefined,

    deleteFile: (gsUri) =>
      call(async () => {
        const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(gsUri);
        if (!match) throw new ProviderError(`not a gs:// URI: ${gsUri}`, 400);
        const [, bucket, name] = match as unknown as [string, string, string];
        const response = await gcs(
          `${gcsBaseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`,
          { method: "DELETE" },
        );
        // Already gone counts as deleted: deletions run after a training and when a user asks to
        // be forgotten. (The tuning jobs created here write nothing to the bucket: only these uploads.)
        if (!response.ok && response.status !== 404) throw await errorFromResponse(response);
      }),

    // Deleting a tuned Gemini model means undeploying it from its endpoint, deleting the endpoint and
    // then the model, each a long-running operation the SDK does not wrap. Until that exists, say so
    // instead of pretending; 405 keeps callers from retrying it.
    deleteModel: async (model) => {
      throw new ProviderError(
        `Deleting tuned Vertex models is not supported by this product yet; delete ${model} (endpoint, then model) in the Google Cloud console`,
        405,
        undefined,
        "unsupported",
      );
    },
  };
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toProviderError(error);
  }
}

function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  // Fallback for SDK paths that bypass the fetch hook: the status survives, the headers do not.
  const status = (error as { status?: unknown } | null)?.status;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === "ApiError" && typeof status === "number")
    return new ProviderError(message, status);
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError"))
    return new ProviderError(`Google API request timed out: ${message}`, undefined, undefined, "timeout");
  return new ProviderError(message, undefined);
}

/** Google's error body is `{error: {code, message, status, errors?: [{reason}]}}` (Vertex and Storage alike). */
async function errorFromResponse(response: Response): Promise<ProviderError> {
  const text = await response.text().catch(() => "");
  let message = text || response.statusText || `HTTP ${response.status}`;
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: unknown; status?: unknown; errors?: Array<{ reason?: unknown }> };
    };
    if (typeof body.error?.message === "string") message = body.error.message;
    const reason = body.error?.errors?.[0]?.reason;
    if (typeof body.error?.status === "string") code = body.error.status;
    else if (typeof reason === "string") code = reason;
  } catch {
    // Not JSON (a proxy's HTML page): keep the text.
  }
  return new ProviderError(message, response.status, retryAfterMs(response.headers), code);
}

function retryAfterMs(headers: Headers): number | undefined {
  const raw = headers.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
