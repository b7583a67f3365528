// Vertex AI tuning jobs on the emulator's manual clock: JOB_STATE_PENDING (dataset validation) ->
// JOB_STATE_RUNNING -> SUCCEEDED | FAILED, or CANCELLED, reading their datasets from the GCS
// emulator and creating the tuned models generateContent answers with (gemini.ts routes them).
import { createHash } from "node:crypto";
import type { ManualClock } from "../http-recorder.ts";
import { googleFail } from "./errors.ts";
import { type GcsReader, parseGsUri } from "./gcs.ts";
import {
  checkVertexJsonl,
  countVertexDatasetTokens,
  countVertexExampleTokens,
  partsText,
  type VertexExample,
} from "./vertex-data.ts";
import type { VertexExperiments } from "./vertex-experiments.ts";

// Int64 fields are JSON strings, as Vertex (proto3 JSON) sends them.

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

/**
 * Base models supervised tuning accepts, as the 2026 Agent Platform (formerly Vertex AI) docs name
 * them: the 2.5 family (GA) and gemini-3.1-flash-lite (limited preview, release notes 2026-05-20).
 */
export const VERTEX_TUNABLE_MODELS = [
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-2.5-pro",
  "gemini-3.1-flash-lite",
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
  /** The Vertex AI Experiment (a Metadata Context) holding the job's loss curves, once it ran. */
  experiment?: string;
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
  /** Where a finished job's metrics go (its experiment and TensorBoard time series). */
  experiments?: VertexExperiments;
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
      const experiment = this.options.experiments?.record({
        jobId: record.job.name.split("/").at(-1)!,
        location,
        epochs,
        stepsPerEpoch: Math.ceil(examples.length / 8),
        validation: record.job.supervisedTuningSpec.validationDatasetUri !== undefined,
        startedAt: this.options.clock.now(),
      });
      if (experiment) record.job.experiment = experiment;
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
