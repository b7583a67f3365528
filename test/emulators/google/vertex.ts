/**
 * Vertex AI side of the Gemini emulator: offline auth, tuning jobs and the tuning-data rules.
 * The HTTP routes live in gemini.ts (one server answers both the Developer API and Vertex).
 *
 * ## Vertex mode offline, with no Google credentials
 *
 * `new GoogleGenAI({ vertexai: true, project, location, httpOptions: { baseUrl } })` builds a
 * `GoogleAuth` (google-auth-library) from `googleAuthOptions` and, before every request, awaits
 * `googleAuth.getRequestHeaders(url)`. With nothing configured that means Application Default
 * Credentials: env vars, gcloud files, then the GCE metadata server, which is network. Read from
 * @google/genai 2.32 (dist/node/index.mjs `NodeAuth`, `ApiClient`) and google-auth-library 10.9:
 *
 * - `googleAuthOptions: { authClient }` is used as-is (GoogleAuth caches it as its credential). An
 *   `OAuth2Client` holding an `access_token` and no `expiry_date` never refreshes, so it just sends
 *   `Authorization: Bearer <token>`. No network, no key material, and the request paths are the real
 *   project/location ones. **This is what `offlineVertexAuth()` returns; use it.** (google-auth-library
 *   is @google/genai's own dependency, and its `GoogleAuthOptions` type is in the SDK's public API.)
 * - Alternatives that also work offline (the first two are exercised in test/emulators-llm.test.ts):
 *   `googleAuthOptions: { apiKey, projectId }` sends `x-goog-api-key` on project/location paths. Leave
 *   out `projectId` and GoogleAuth first looks the project up (runs `gcloud`, probes the GCE metadata
 *   server): slow, and network. "Express mode" (`vertexai: true, apiKey`, no project) skips GoogleAuth
 *   entirely but drops the `projects/.../locations/...` prefix, so tuning calls go to
 *   `/v1beta1/tuningJobs` (the emulator accepts that too, as location "global"). A service-account
 *   `credentials` object with a non-default `universeDomain` also works (it self-signs a JWT locally)
 *   but needs a generated RSA key and bends the universe setting; not worth it.
 * - A `baseUrl` alone does not skip auth: without project/location/apiKey the SDK still asks GoogleAuth.
 *
 * Paths the SDK calls in Vertex mode (default API version v1beta1):
 *   generate:  POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
 *   tuned:     POST /v1beta1/{tunedModel.endpoint}:generateContent   (model = "projects/.../endpoints/{id}")
 *   embed:     POST .../publishers/google/models/{m}:predict for gemini-embedding-001 and text-embedding-*,
 *              POST .../models/{m}:embedContent for other "gemini*" embedding models
 *   tuning:    POST /v1beta1/projects/{p}/locations/{l}/tuningJobs, GET /v1beta1/{job.name},
 *              POST /v1beta1/{job.name}:cancel, GET .../tuningJobs?pageSize&pageToken
 */
import { createHash } from "node:crypto";
import { type GoogleAuthOptions, OAuth2Client } from "google-auth-library";
import type { ManualClock } from "../http-recorder.ts";
import { countTokens } from "../openai/fine-tune-data.ts";
import { googleFail } from "./errors.ts";
import type { GcsReader } from "./gcs.ts";
import { parseGsUri } from "./gcs.ts";

/** googleAuthOptions for `new GoogleGenAI({ vertexai: true, ... })` that never touch the network. */
export function offlineVertexAuth(accessToken = "emulator-access-token"): GoogleAuthOptions {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: accessToken });
  return { authClient };
}

// ---------------------------------------------------------------------------------------------
// Tuning data: JSONL, one `{"systemInstruction"?, "contents": [{role, parts: [{text}]}]}` per line.

/** Vertex's documented minimum for a supervised tuning dataset (older docs; configurable). */
export const VERTEX_MIN_TRAINING_EXAMPLES = 16;

export interface GeminiPart {
  text?: string;
  [key: string]: unknown;
}

export interface GeminiContent {
  role?: string;
  parts: GeminiPart[];
}

export interface VertexExample {
  systemInstruction?: GeminiContent;
  contents: GeminiContent[];
}

export interface VertexDataProblem {
  line: number;
  code: string;
  message: string;
}

export function partsText(content: GeminiContent | undefined): string {
  return (content?.parts ?? []).map((p) => (typeof p.text === "string" ? p.text : "")).join("");
}

/**
 * Token count of one example. Gemini's tokenizer is not available offline, so the emulator counts
 * o200k_base tokens of every text part (system instruction included) as a deterministic stand-in.
 */
export function countVertexExampleTokens(example: VertexExample): { input: number; output: number } {
  let input = countTokens(partsText(example.systemInstruction));
  let output = 0;
  for (const content of example.contents) {
    const tokens = countTokens(partsText(content));
    if (content.role === "model") output += tokens;
    else input += tokens;
  }
  return { input, output };
}

/** Tokens of one pass over the dataset: what `totalBillableTokenCount` reports (billing = x epochs). */
export function countVertexDatasetTokens(examples: readonly VertexExample[]): number {
  return examples.reduce((sum, ex) => {
    const { input, output } = countVertexExampleTokens(ex);
    return sum + input + output;
  }, 0);
}

export function checkVertexJsonl(data: Buffer | string): {
  examples: VertexExample[];
  errors: VertexDataProblem[];
} {
  const lines = (typeof data === "string" ? data : data.toString("utf8")).split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === "") lines.pop();
  const examples: VertexExample[] = [];
  const errors: VertexDataProblem[] = [];
  lines.forEach((text, index) => {
    const line = index + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      errors.push({ line, code: "invalid_json", message: `line ${line}: not valid JSON` });
      return;
    }
    const problems = checkVertexExample(parsed);
    for (const [code, message] of problems) errors.push({ line, code, message: `line ${line}: ${message}` });
    if (!problems.length) examples.push(parsed as VertexExample);
  });
  return { examples, errors };
}

function checkVertexExample(value: unknown): Array<[string, string]> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return [["data_type", "each line must be a JSON object"]];
  const example = value as Record<string, unknown>;
  if (!Array.isArray(example.contents) || example.contents.length === 0)
    return [
      [
        "missing_contents",
        "`contents` must be a non-empty array" +
          (Array.isArray(example.messages) ? " (this line uses OpenAI's `messages` format)" : ""),
      ],
    ];
  const problems: Array<[string, string]> = [];
  const checkContent = (content: unknown, where: string, roles: string[] | null) => {
    const c = content as Partial<GeminiContent> | null;
    if (typeof c !== "object" || c === null) return problems.push(["data_type", `${where} is not an object`]);
    if (roles && (typeof c.role !== "string" || !roles.includes(c.role)))
      problems.push([
        "invalid_role",
        `${where}.role must be one of ${roles.join(", ")}, got ${JSON.stringify(c.role)}`,
      ]);
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      return problems.push(["missing_parts", `${where}.parts must be a non-empty array`]);
    if (!partsText(c as GeminiContent)) problems.push(["missing_text", `${where} has no text part`]);
  };
  if (example.systemInstruction !== undefined)
    checkContent(example.systemInstruction, "systemInstruction", null);
  for (const [i, c] of example.contents.entries()) checkContent(c, `contents[${i}]`, ["user", "model"]);
  if (!example.contents.some((c) => (c as GeminiContent | null)?.role === "model"))
    problems.push(["missing_model_turn", "the example has no `model` turn to learn from"]);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Tuning jobs: JOB_STATE_PENDING (dataset validation) -> JOB_STATE_RUNNING -> SUCCEEDED | FAILED,
// or CANCELLED. Int64 fields are JSON strings, as Vertex (proto3 JSON) sends them.

export type VertexJobState =
  | "JOB_STATE_PENDING"
  | "JOB_STATE_RUNNING"
  | "JOB_STATE_SUCCEEDED"
  | "JOB_STATE_FAILED"
  | "JOB_STATE_CANCELLED";

export interface VertexTuningTimings {
  pendingMs: number;
  epochMs: number;
}

export const DEFAULT_VERTEX_TIMINGS: VertexTuningTimings = { pendingMs: 60_000, epochMs: 120_000 };

export const VERTEX_TUNABLE_MODELS = [
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-2.5-pro",
  "gemini-2.0-flash-001",
  "gemini-2.0-flash-lite-001",
];

export interface TuningJobJson {
  name: string;
  tunedModelDisplayName: string;
  description?: string;
  baseModel: string;
  supervisedTuningSpec: {
    trainingDatasetUri: string;
    validationDatasetUri?: string;
    hyperParameters: { epochCount: string; learningRateMultiplier: number; adapterSize?: string };
  };
  state: VertexJobState;
  createTime: string;
  updateTime: string;
  startTime?: string;
  endTime?: string;
  error?: { code: number; message: string };
  tunedModel?: { model: string; endpoint: string };
  tuningDataStats?: { supervisedTuningDataStats: Record<string, unknown> };
  labels?: Record<string, string>;
}

export interface TunedModelInfo {
  displayName: string;
  baseModel: string;
  jobName: string;
  model: string;
  endpoint: string;
}

interface VertexJobRecord {
  job: TuningJobJson;
  failure?: string;
  /** Dataset tokens x epochs: what the job is billed for. */
  billedTokens?: number;
}

export interface VertexTuningOptions {
  clock: ManualClock;
  gcs?: GcsReader;
  /** Vertex names resources with the project number, whatever id the request used. */
  projectNumber: string;
  timings: VertexTuningTimings;
  minExamples: number;
  /** Epochs when the request sets none (Vertex picks a recommended value; this is the emulator's). */
  defaultEpochCount: number;
  tunableModels: string[];
}

const TERMINAL: ReadonlySet<VertexJobState> = new Set([
  "JOB_STATE_SUCCEEDED",
  "JOB_STATE_FAILED",
  "JOB_STATE_CANCELLED",
]);

export class VertexTuning {
  readonly records = new Map<string, VertexJobRecord>();
  /** Tuned models, keyed by `models/{id}` and `endpoints/{id}` (what generateContent addresses). */
  readonly tunedModels = new Map<string, TunedModelInfo>();
  private failures: string[] = [];
  private counter = 0;

  constructor(private readonly options: VertexTuningOptions) {}

  failNextJob(message: string): void {
    this.failures.push(message);
  }

  create(location: string, body: unknown): TuningJobJson {
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const baseModel =
      typeof b.baseModel === "string" ? b.baseModel.replace(/^(publishers\/google\/)?models\//, "") : "";
    if (!baseModel) googleFail(400, "baseModel is required.", "INVALID_ARGUMENT");
    if (!this.options.tunableModels.includes(baseModel))
      googleFail(400, `Base model ${baseModel} is not supported for supervised tuning.`, "INVALID_ARGUMENT");
    const spec = (b.supervisedTuningSpec ?? {}) as Record<string, unknown>;
    const training = spec.trainingDatasetUri;
    if (typeof training !== "string" || !parseGsUri(training))
      googleFail(
        400,
        `supervisedTuningSpec.trainingDatasetUri must be a gs:// URI, got ${JSON.stringify(training)}.`,
        "INVALID_ARGUMENT",
      );
    const validation = spec.validationDatasetUri;
    if (validation !== undefined && (typeof validation !== "string" || !parseGsUri(validation)))
      googleFail(400, "supervisedTuningSpec.validationDatasetUri must be a gs:// URI.", "INVALID_ARGUMENT");
    const hyper = (spec.hyperParameters ?? {}) as Record<string, unknown>;
    const epochs = hyper.epochCount === undefined ? this.options.defaultEpochCount : Number(hyper.epochCount);
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > 100)
      googleFail(
        400,
        `epochCount must be an integer between 1 and 100, got ${String(hyper.epochCount)}.`,
        "INVALID_ARGUMENT",
      );
    const displayName =
      typeof b.tunedModelDisplayName === "string" ? b.tunedModelDisplayName : `${baseModel}-tuned`;
    if (displayName.length > 128)
      googleFail(400, "tunedModelDisplayName must be at most 128 characters.", "INVALID_ARGUMENT");

    const id = this.numericId();
    const now = this.time();
    const job: TuningJobJson = {
      name: `projects/${this.options.projectNumber}/locations/${location}/tuningJobs/${id}`,
      tunedModelDisplayName: displayName,
      ...(typeof b.description === "string" ? { description: b.description } : {}),
      baseModel,
      supervisedTuningSpec: {
        trainingDatasetUri: training,
        ...(typeof validation === "string" ? { validationDatasetUri: validation } : {}),
        hyperParameters: {
          epochCount: String(epochs),
          learningRateMultiplier:
            typeof hyper.learningRateMultiplier === "number" ? hyper.learningRateMultiplier : 1,
          ...(typeof hyper.adapterSize === "string" ? { adapterSize: hyper.adapterSize } : {}),
        },
      },
      state: "JOB_STATE_PENDING",
      createTime: now,
      updateTime: now,
      ...(b.labels ? { labels: b.labels as Record<string, string> } : {}),
    };
    const record: VertexJobRecord = { job, failure: this.failures.shift() };
    this.records.set(id, record);
    this.after(record, this.options.timings.pendingMs, () => this.validate(record, location, epochs));
    return job;
  }

  get(id: string): TuningJobJson {
    return this.record(id).job;
  }

  /** Newest first; the page token is the index of the next job. */
  list(
    pageSize: number,
    pageToken: string | undefined,
  ): { tuningJobs: TuningJobJson[]; nextPageToken?: string } {
    const all = [...this.records.values()].map((r) => r.job).reverse();
    const start = Number(pageToken ?? 0) || 0;
    const tuningJobs = all.slice(start, start + pageSize);
    return start + pageSize < all.length
      ? { tuningJobs, nextPageToken: String(start + pageSize) }
      : { tuningJobs };
  }

  cancel(id: string): void {
    const record = this.record(id);
    if (TERMINAL.has(record.job.state))
      googleFail(
        400,
        `Tuning job ${record.job.name} is in state ${record.job.state} and cannot be cancelled.`,
        "FAILED_PRECONDITION",
      );
    this.finish(record, "JOB_STATE_CANCELLED", { code: 1, message: "CANCELED" });
  }

  billedTokens(id: string): number | undefined {
    return this.record(id).billedTokens;
  }

  /** The training examples, or why the datasets are unusable (Vertex fails the job with code 3). */
  private readDatasets(record: VertexJobRecord): VertexExample[] | string {
    const spec = record.job.supervisedTuningSpec;
    const read = (uri: string) => {
      const parsed = parseGsUri(uri);
      return parsed && this.options.gcs?.readObject(parsed.bucket, parsed.name);
    };
    const training = read(spec.trainingDatasetUri);
    if (!training)
      return `Failed to read the training dataset ${spec.trainingDatasetUri}: the object does not exist or is not readable.`;
    const { examples, errors } = checkVertexJsonl(training.bytes);
    if (errors.length) {
      const shown = errors.slice(0, 3).map((e) => e.message);
      if (errors.length > 3) shown.push(`and ${errors.length - 3} more`);
      return `Training dataset validation failed: ${shown.join("; ")}`;
    }
    if (examples.length < this.options.minExamples)
      return `Training dataset has ${examples.length} examples; at least ${this.options.minExamples} are required.`;
    if (spec.validationDatasetUri) {
      const validation = read(spec.validationDatasetUri);
      if (!validation || checkVertexJsonl(validation.bytes).errors.length)
        return `Validation dataset ${spec.validationDatasetUri} is missing or invalid.`;
    }
    return examples;
  }

  private validate(record: VertexJobRecord, location: string, epochs: number): void {
    const examples = this.readDatasets(record);
    if (typeof examples === "string") {
      this.finish(record, "JOB_STATE_FAILED", { code: 3, message: examples });
      return;
    }

    const counts = examples.map(countVertexExampleTokens);
    const tokens = countVertexDatasetTokens(examples);
    const characters = examples.reduce(
      (sum, ex) =>
        sum +
        partsText(ex.systemInstruction).length +
        ex.contents.reduce((n, c) => n + partsText(c).length, 0),
      0,
    );
    const distribution = (values: number[]) => ({
      sum: String(values.reduce((a, b) => a + b, 0)),
      billableSum: String(values.reduce((a, b) => a + b, 0)),
      min: Math.min(...values),
      max: Math.max(...values),
      mean: values.reduce((a, b) => a + b, 0) / values.length,
    });
    record.job.tuningDataStats = {
      supervisedTuningDataStats: {
        tuningDatasetExampleCount: String(examples.length),
        totalTuningCharacterCount: String(characters),
        totalBillableCharacterCount: String(characters),
        totalBillableTokenCount: String(tokens),
        // Emulator's choice: batches of 8 examples.
        tuningStepCount: String(Math.ceil(examples.length / 8) * epochs),
        userInputTokenDistribution: distribution(counts.map((c) => c.input)),
        userOutputTokenDistribution: distribution(counts.map((c) => c.output)),
      },
    };
    record.billedTokens = tokens * epochs;
    record.job.state = "JOB_STATE_RUNNING";
    record.job.startTime = this.time();
    record.job.updateTime = record.job.startTime;
    this.after(record, this.options.timings.epochMs * epochs, () => {
      if (record.failure) {
        this.finish(record, "JOB_STATE_FAILED", { code: 13, message: record.failure });
        return;
      }
      const projectPath = `projects/${this.options.projectNumber}/locations/${location}`;
      const modelId = this.numericId();
      const endpointId = this.numericId();
      const tuned: TunedModelInfo = {
        displayName: record.job.tunedModelDisplayName,
        baseModel: record.job.baseModel,
        jobName: record.job.name,
        model: `${projectPath}/models/${modelId}@1`,
        endpoint: `${projectPath}/endpoints/${endpointId}`,
      };
      this.tunedModels.set(`models/${modelId}`, tuned);
      this.tunedModels.set(`endpoints/${endpointId}`, tuned);
      record.job.tunedModel = { model: tuned.model, endpoint: tuned.endpoint };
      this.finish(record, "JOB_STATE_SUCCEEDED");
    });
  }

  private finish(record: VertexJobRecord, state: VertexJobState, error?: TuningJobJson["error"]): void {
    record.job.state = state;
    record.job.endTime = this.time();
    record.job.updateTime = record.job.endTime;
    if (error) record.job.error = error;
  }

  private after(record: VertexJobRecord, ms: number, run: () => void): void {
    this.options.clock.setTimeout(() => {
      if (!TERMINAL.has(record.job.state)) run();
    }, ms);
  }

  private record(id: string): VertexJobRecord {
    const record = this.records.get(id);
    if (!record) googleFail(404, `The TuningJob "${id}" does not exist.`, "NOT_FOUND");
    return record;
  }

  /** Vertex ids are 19-digit numbers; derive them from a counter so runs are reproducible. */
  private numericId(): string {
    const digest = createHash("sha256")
      .update(`vertex:${this.counter++}`)
      .digest();
    return (
      (BigInt(`0x${digest.subarray(0, 8).toString("hex")}`) % 9_000_000_000_000_000_000n) +
      1_000_000_000_000_000_000n
    ).toString();
  }

  private time(): string {
    return new Date(this.options.clock.now()).toISOString();
  }
}
