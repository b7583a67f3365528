// OpenAI fine-tuning jobs as a state machine on the emulator's manual clock:
// validating_files -> queued -> running (one step per epoch) -> succeeded | failed, or cancelled.
// Object shapes, statuses and event wording follow the real API; durations are the emulator's own
// (configurable) because only their order matters to a product that polls.
import type { EmuResponse, ManualClock, RecordedRequest } from "../http-recorder.ts";
import { invalidUrl, jsonBody, openaiFail } from "./errors.ts";
import {
  type ChatExample,
  type ChatJsonlCheck,
  DEFAULT_MAX_TOKENS_PER_EXAMPLE,
  estimateTrainedTokens,
  MIN_TRAINING_EXAMPLES,
} from "./fine-tune-data.ts";

export interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  /** Exactly the bytes that were uploaded. */
  bytes: Buffer;
  createdAt: number;
  /** For purpose "fine-tune": the format check of the JSONL (errors are reported when a job uses it). */
  check?: ChatJsonlCheck;
}

export interface FineTuningTimings {
  validatingMs: number;
  queuedMs: number;
  /** Training time per epoch. */
  epochMs: number;
}

export const DEFAULT_FINE_TUNING_TIMINGS: FineTuningTimings = {
  validatingMs: 30_000,
  queuedMs: 60_000,
  epochMs: 60_000,
};

export type JobStatus = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";
type Hyper = number | "auto";

export interface FineTuningJobJson {
  object: "fine_tuning.job";
  id: string;
  model: string;
  created_at: number;
  finished_at: number | null;
  fine_tuned_model: string | null;
  organization_id: string;
  result_files: string[];
  status: JobStatus;
  validation_file: string | null;
  training_file: string;
  hyperparameters: { batch_size: Hyper; learning_rate_multiplier: Hyper; n_epochs: Hyper };
  trained_tokens: number | null;
  error: { code: string; message: string; param: string | null } | null;
  user_provided_suffix: string | null;
  seed: number;
  estimated_finish: number | null;
  integrations: unknown[];
  metadata: Record<string, string> | null;
  method: { type: "supervised"; supervised: { hyperparameters: FineTuningJobJson["hyperparameters"] } };
}

export interface FineTuningEvent {
  object: "fine_tuning.job.event";
  id: string;
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  data: Record<string, unknown>;
  type: "message" | "metrics";
}

export interface FineTuningCheckpoint {
  object: "fine_tuning.job.checkpoint";
  id: string;
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  metrics: Record<string, number>;
  step_number: number;
}

export interface PlannedFailure {
  message: string;
  code?: string;
  /** Fail while validating files, or at the end of training (default). */
  stage?: "validating" | "running";
}

interface JobRecord {
  job: FineTuningJobJson;
  events: FineTuningEvent[];
  checkpoints: FineTuningCheckpoint[];
  failure?: PlannedFailure;
  examples: ChatExample[];
  /** Decided at creation so checkpoints and the final model share the name. */
  modelName: string;
}

export interface FineTuningDeps {
  clock: ManualClock;
  newId: (prefix: string, length?: number) => string;
  /** Organization slug used in `ft:` model names. */
  organization: string;
  organizationId: string;
  files: Map<string, StoredFile>;
  /** Tunable model names (aliases included) -> the dated snapshot a job reports as `model`. */
  tunableModels: Record<string, string>;
  timings: FineTuningTimings;
  maxTokensPerExample?: number;
  /** From this instant on, creating jobs fails (OpenAI closes fine-tuning on 2027-01-06). */
  closedFrom?: number;
  onModelCreated(modelId: string, baseModel: string, job: FineTuningJobJson): void;
  onResultFile(file: StoredFile): void;
}

const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
const MAX_SUFFIX_LENGTH = 64;

export class OpenAIFineTuning {
  readonly records = new Map<string, JobRecord>();
  private plannedFailures: PlannedFailure[] = [];

  constructor(private readonly deps: FineTuningDeps) {}

  /**
   * Job creation answers 403 from now on, as OpenAI's fine-tuning wind-down does for organisations
   * it excludes ("permission denied": the exact code is undocumented, so none is sent).
   */
  refuseNewJobs = false;

  /** The next job created fails (at the given stage) with this message. */
  failNextJob(failure: PlannedFailure): void {
    this.plannedFailures.push(failure);
  }

  create(body: unknown): FineTuningJobJson {
    if (this.refuseNewJobs)
      openaiFail(403, "You do not have access to create fine-tuning jobs.", {
        type: "invalid_request_error",
      });
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const model = requireString(b, "model");
    const trainingFile = requireString(b, "training_file");
    const snapshot = this.deps.tunableModels[model];
    if (!snapshot)
      openaiFail(400, `Model ${model} is not available for fine-tuning or does not exist.`, {
        param: "model",
        code: "model_not_available",
      });
    if (this.deps.closedFrom !== undefined && this.deps.clock.now() >= this.deps.closedFrom)
      openaiFail(400, `Fine-tuning is no longer available for new jobs (model ${model}).`, {
        param: "model",
        code: "model_not_available",
      });
    this.requireTuningFile(trainingFile, "training_file");
    const validationFile = b.validation_file == null ? null : String(b.validation_file);
    if (validationFile) this.requireTuningFile(validationFile, "validation_file");
    const suffix = b.suffix == null ? null : String(b.suffix);
    if (suffix !== null && suffix.length > MAX_SUFFIX_LENGTH)
      openaiFail(
        400,
        `Invalid 'suffix': string too long. Expected a string with maximum length ${MAX_SUFFIX_LENGTH}, but got a string with length ${suffix.length} instead.`,
        { param: "suffix", code: "string_above_max_length" },
      );
    const hyper = readHyperparameters(b);

    const now = this.nowSeconds();
    const id = this.deps.newId("ftjob-");
    const job: FineTuningJobJson = {
      object: "fine_tuning.job",
      id,
      model: snapshot,
      created_at: now,
      finished_at: null,
      fine_tuned_model: null,
      organization_id: this.deps.organizationId,
      result_files: [],
      status: "validating_files",
      validation_file: validationFile,
      training_file: trainingFile,
      hyperparameters: hyper,
      trained_tokens: null,
      error: null,
      user_provided_suffix: suffix,
      seed: typeof b.seed === "number" ? b.seed : seedFrom(id),
      estimated_finish: null,
      integrations: Array.isArray(b.integrations) ? b.integrations : [],
      metadata: (b.metadata as Record<string, string> | undefined) ?? null,
      method: { type: "supervised", supervised: { hyperparameters: { ...hyper } } },
    };
    const record: JobRecord = {
      job,
      events: [],
      checkpoints: [],
      failure: this.plannedFailures.shift(),
      examples: [],
      // ft:<base snapshot>:<org>:<suffix>:<8-char id>; an unset suffix leaves its field empty ("::").
      modelName: `ft:${snapshot}:${this.deps.organization}:${suffix ?? ""}:${this.deps.newId("", 8)}`,
    };
    this.records.set(id, record);
    this.event(
      record,
      validationFile
        ? `Validating training file: ${trainingFile} and validation file: ${validationFile}`
        : `Validating training file: ${trainingFile}`,
    );
    this.after(record, this.deps.timings.validatingMs, () => this.finishValidation(record));
    return job;
  }

  get(id: string): FineTuningJobJson {
    return this.record(id).job;
  }

  /** Newest first; `after` is the id of the last job of the previous page. */
  list(after: string | undefined, limit: number): { data: FineTuningJobJson[]; has_more: boolean } {
    const all = [...this.records.values()].map((r) => r.job).reverse();
    return page(all, after, limit);
  }

  cancel(id: string): FineTuningJobJson {
    const record = this.record(id);
    if (TERMINAL.has(record.job.status))
      openaiFail(
        400,
        `Job ${id} has already ${record.job.status === "cancelled" ? "been cancelled" : "completed"}.`,
        {
          param: "fine_tuning_job_id",
          code: "invalid_status",
        },
      );
    record.job.status = "cancelled";
    record.job.estimated_finish = null;
    this.event(record, "Fine-tuning job cancelled");
    return record.job;
  }

  /** Newest first, like the API. */
  events(
    id: string,
    after: string | undefined,
    limit: number,
  ): { data: FineTuningEvent[]; has_more: boolean } {
    return page([...this.record(id).events].reverse(), after, limit);
  }

  checkpoints(id: string, after: string | undefined, limit: number) {
    return page([...this.record(id).checkpoints].reverse(), after, limit);
  }

  /** Why validation rejects the job's files (code, param, message), or undefined when they pass. */
  private validationProblem(record: JobRecord): [string, string, string] | undefined {
    const { job } = record;
    const check = this.deps.files.get(job.training_file)?.check;
    if (!check) return ["invalid_training_file", "training_file", "The training file is gone."];
    if (check.errors.length)
      return [
        "invalid_training_file",
        "training_file",
        `The job failed due to an invalid training file. ${summarize(check.errors.map((e) => e.message))}`,
      ];
    if (check.examples.length < MIN_TRAINING_EXAMPLES)
      return [
        "invalid_n_examples",
        "training_file",
        `Training file has ${check.examples.length} example(s), but must have at least ${MIN_TRAINING_EXAMPLES} examples`,
      ];
    const validation = job.validation_file ? this.deps.files.get(job.validation_file)?.check : undefined;
    if (job.validation_file && (!validation || validation.errors.length))
      return [
        "invalid_validation_file",
        "validation_file",
        `The job failed due to an invalid validation file. ${summarize(validation?.errors.map((e) => e.message) ?? [])}`,
      ];
    if (record.failure?.stage === "validating")
      return [record.failure.code ?? "invalid_training_file", "training_file", record.failure.message];
    return undefined;
  }

  private finishValidation(record: JobRecord): void {
    const { job } = record;
    const problem = this.validationProblem(record);
    if (problem) {
      this.fail(record, ...problem);
      return;
    }
    // validationProblem() has checked that the training file and its format check exist.
    const check = this.deps.files.get(job.training_file)!.check!;
    record.examples = check.examples;
    const n = check.examples.length;
    const resolved = {
      // Emulator's choices for the values OpenAI reports once "auto" is resolved: batch size ~0.2% of
      // the examples (at least 1), multiplier 1.8. Only n_epochs affects billing, and it follows the
      // documented rule.
      batch_size:
        job.hyperparameters.batch_size === "auto"
          ? Math.max(1, Math.round(n * 0.002))
          : job.hyperparameters.batch_size,
      learning_rate_multiplier:
        job.hyperparameters.learning_rate_multiplier === "auto"
          ? 1.8
          : job.hyperparameters.learning_rate_multiplier,
      n_epochs: estimateTrainedTokens(check.examples, job.hyperparameters.n_epochs).nEpochs,
    };
    job.hyperparameters = resolved;
    job.method.supervised.hyperparameters = { ...resolved };
    job.status = "queued";
    this.event(record, "Files validated, moving job to queued state");
    this.after(record, this.deps.timings.queuedMs, () => this.startTraining(record));
  }

  private startTraining(record: JobRecord): void {
    const { job } = record;
    const epochs = job.hyperparameters.n_epochs as number;
    const batch = job.hyperparameters.batch_size as number;
    const stepsPerEpoch = Math.ceil(record.examples.length / batch);
    const totalSteps = stepsPerEpoch * epochs;
    job.status = "running";
    job.estimated_finish = this.nowSeconds() + Math.ceil((epochs * this.deps.timings.epochMs) / 1000);
    this.event(record, "Fine-tuning job started");
    const runEpoch = (epoch: number) => {
      const step = epoch * stepsPerEpoch;
      const loss = Number((2.2 * Math.exp(-0.45 * epoch) + 0.05).toFixed(4));
      this.event(record, `Step ${step}/${totalSteps}: training loss=${loss.toFixed(2)}`, "metrics", {
        step,
        total_steps: totalSteps,
        train_loss: loss,
        train_mean_token_accuracy: Number((1 - loss / 3).toFixed(4)),
      });
      // OpenAI keeps checkpoints of the last three epochs.
      if (epoch > epochs - 3) this.checkpoint(record, step, loss);
      if (epoch < epochs) this.after(record, this.deps.timings.epochMs, () => runEpoch(epoch + 1));
      else this.finishTraining(record, totalSteps);
    };
    this.after(record, this.deps.timings.epochMs, () => runEpoch(1));
  }

  private finishTraining(record: JobRecord, totalSteps: number): void {
    const { job } = record;
    if (record.failure) {
      this.fail(record, record.failure.code ?? "internal_error", null, record.failure.message);
      return;
    }
    const estimate = estimateTrainedTokens(
      record.examples,
      job.hyperparameters.n_epochs,
      this.deps.maxTokensPerExample ?? DEFAULT_MAX_TOKENS_PER_EXAMPLE,
    );
    const modelId = record.modelName;
    const results: StoredFile = {
      id: this.deps.newId("file-", 22),
      filename: "step_metrics.csv",
      purpose: "fine-tune-results",
      bytes: Buffer.from(
        `step,train_loss\n${totalSteps},${record.checkpoints.at(-1)?.metrics.train_loss ?? 0}\n`,
      ),
      createdAt: this.nowSeconds(),
    };
    this.deps.onResultFile(results);
    job.status = "succeeded";
    job.fine_tuned_model = modelId;
    job.trained_tokens = estimate.trainedTokens;
    job.finished_at = this.nowSeconds();
    job.estimated_finish = null;
    job.result_files = [results.id];
    this.event(record, `New fine-tuned model created: ${modelId}`);
    this.event(record, "The job has successfully completed");
    this.deps.onModelCreated(modelId, job.model, job);
  }

  private checkpoint(record: JobRecord, step: number, loss: number): void {
    record.checkpoints.push({
      object: "fine_tuning.job.checkpoint",
      id: this.deps.newId("ftckpt_"),
      created_at: this.nowSeconds(),
      fine_tuned_model_checkpoint: `${record.modelName}:ckpt-step-${step}`,
      fine_tuning_job_id: record.job.id,
      // As OpenAI reports them: validation metrics only for jobs with a validation file;
      // full_valid_* over the whole file, valid_* over one batch of it.
      metrics: {
        step,
        train_loss: loss,
        train_mean_token_accuracy: Number((1 - loss / 3).toFixed(4)),
        ...(record.job.validation_file
          ? {
              valid_loss: Number((loss + 0.1).toFixed(4)),
              valid_mean_token_accuracy: Number((1 - (loss + 0.1) / 3).toFixed(4)),
              full_valid_loss: Number((loss + 0.12).toFixed(4)),
              full_valid_mean_token_accuracy: Number((1 - (loss + 0.12) / 3).toFixed(4)),
            }
          : {}),
      },
      step_number: step,
    });
  }

  private fail(record: JobRecord, code: string, param: string | null, message: string): void {
    const { job } = record;
    job.status = "failed";
    job.error = { code, message, param };
    job.finished_at = this.nowSeconds();
    job.estimated_finish = null;
    this.event(record, message, "message", {}, "error");
  }

  /** Schedules a transition that is skipped if the job was cancelled (or ended) meanwhile. */
  private after(record: JobRecord, ms: number, run: () => void): void {
    this.deps.clock.setTimeout(() => {
      if (!TERMINAL.has(record.job.status)) run();
    }, ms);
  }

  private event(
    record: JobRecord,
    message: string,
    type: FineTuningEvent["type"] = "message",
    data: Record<string, unknown> = {},
    level: FineTuningEvent["level"] = "info",
  ): void {
    record.events.push({
      object: "fine_tuning.job.event",
      id: this.deps.newId("ftevent-"),
      created_at: this.nowSeconds(),
      level,
      message,
      data,
      type,
    });
  }

  private requireTuningFile(id: string, param: string): void {
    const file = this.deps.files.get(id);
    if (!file)
      openaiFail(400, `Invalid file ID: ${id}. The file does not exist.`, { param, code: "invalid_file_id" });
    if (file.purpose !== "fine-tune")
      openaiFail(
        400,
        `File ${id} has purpose '${file.purpose}'; fine-tuning files must have purpose 'fine-tune'.`,
        {
          param,
          code: "invalid_file_purpose",
        },
      );
  }

  private record(id: string): JobRecord {
    const record = this.records.get(id);
    if (!record)
      openaiFail(404, `No such fine-tuning job: ${id}.`, {
        param: "fine_tuning_job_id",
        code: "fine_tune_not_found",
      });
    return record;
  }

  private nowSeconds(): number {
    return Math.floor(this.deps.clock.now() / 1000);
  }
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value === "")
    openaiFail(400, `Missing required parameter: '${key}'.`, {
      param: key,
      code: "missing_required_parameter",
    });
  return value;
}

function readHyperparameters(body: Record<string, unknown>): FineTuningJobJson["hyperparameters"] {
  const method = body.method as
    | { type?: string; supervised?: { hyperparameters?: Record<string, unknown> } }
    | undefined;
  if (method?.type !== undefined && method.type !== "supervised")
    openaiFail(
      400,
      `The emulator only implements supervised fine-tuning, got method.type '${method.type}'.`,
      {
        param: "method.type",
      },
    );
  // `method.supervised.hyperparameters` is current; top-level `hyperparameters` is the deprecated form.
  const raw =
    method?.supervised?.hyperparameters ??
    (body.hyperparameters as Record<string, unknown> | undefined) ??
    {};
  const read = (key: string, min: number, max: number): Hyper => {
    const value = raw[key];
    if (value === undefined || value === "auto") return "auto";
    if (typeof value !== "number" || value < min || value > max)
      openaiFail(400, `Invalid '${key}': expected "auto" or a number between ${min} and ${max}.`, {
        param: `method.supervised.hyperparameters.${key}`,
        code: "invalid_value",
      });
    return value;
  };
  return {
    batch_size: read("batch_size", 1, 256),
    learning_rate_multiplier: read("learning_rate_multiplier", 0.00001, 10),
    n_epochs: read("n_epochs", 1, 50),
  };
}

function page<T extends { id: string }>(items: T[], after: string | undefined, limit: number) {
  const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return { data, has_more: start + limit < items.length };
}

function summarize(messages: string[]): string {
  const shown = messages.slice(0, 3).join("; ");
  return messages.length > 3 ? `${shown}; and ${messages.length - 3} more` : shown;
}

function seedFrom(id: string): number {
  let seed = 0;
  for (const ch of id) seed = (seed * 31 + ch.charCodeAt(0)) % 2_147_483_647;
  return seed;
}

/** /v1/fine_tuning/jobs[/{id}[/cancel|events|checkpoints]]; `rest` is the path after `jobs`. */
export function fineTuningRoute(
  fineTuning: OpenAIFineTuning,
  req: RecordedRequest,
  rest: string[],
  limit: number,
): EmuResponse {
  const [jobId, action] = rest;
  const after = req.query.after;
  if (req.method === "POST" && !jobId) return { json: fineTuning.create(jsonBody(req)) };
  if (req.method === "GET" && !jobId) return { json: { object: "list", ...fineTuning.list(after, limit) } };
  if (req.method === "GET" && jobId && !action) return { json: fineTuning.get(jobId) };
  if (req.method === "POST" && action === "cancel") return { json: fineTuning.cancel(jobId!) };
  if (req.method === "GET" && action === "events")
    return { json: { object: "list", ...fineTuning.events(jobId!, after, limit) } };
  if (req.method === "GET" && action === "checkpoints") {
    const result = fineTuning.checkpoints(jobId!, after, limit);
    return {
      json: {
        object: "list",
        ...result,
        first_id: result.data[0]?.id ?? null,
        last_id: result.data.at(-1)?.id ?? null,
      },
    };
  }
  return invalidUrl(req);
}
