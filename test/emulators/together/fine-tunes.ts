// Together fine-tuning jobs as a state machine on the emulator's manual clock:
//   pending -> queued -> running (one step per epoch) -> compressing -> uploading -> completed
// or error (with the reason in a `job_error` event: the job object has no error field), or
// cancel_requested -> cancelled. Shapes follow the OpenAPI spec (togethercomputer/openapi @ 090263aa,
// 2026-04-28) and the TypeScript SDK's types (together-ai 0.52): `FinetuneResponse`, `FineTuneEvent`,
// `/metrics` entries keyed `train/loss`, `eval/loss`, ...; prices as the API sends them:
// `total_price` an integer in nano-dollars (together-python divides by NANODOLLAR = 1e9),
// `estimated_total_price` in dollars. Durations and per-token rates are the emulator's own.
import type { ManualClock } from "../http-recorder.ts";
import { togetherFail } from "./errors.ts";
import type { TogetherFiles } from "./files.ts";

export type JobStatus =
  | "pending"
  | "queued"
  | "running"
  | "compressing"
  | "uploading"
  | "cancel_requested"
  | "cancelled"
  | "error"
  | "completed";

export interface FineTuneTimings {
  pendingMs: number;
  queuedMs: number;
  /** Training time per epoch. */
  epochMs: number;
  compressingMs: number;
  uploadingMs: number;
  /** From cancel_requested to cancelled. */
  cancelMs: number;
}

export const DEFAULT_TIMINGS: FineTuneTimings = {
  pendingMs: 10_000,
  queuedMs: 30_000,
  epochMs: 60_000,
  compressingMs: 20_000,
  uploadingMs: 20_000,
  cancelMs: 5_000,
};

export interface TunableModel {
  /** `max_rank` of the model's `lora_training` limits. */
  maxLoraRank: number;
  maxEpochs: number;
  maxEvals: number;
  /** The emulator's LoRA SFT rate, dollars per 1M tokens processed (Together's are on its pricing page). */
  pricePer1MTokens: number;
}

/** Tunable bases (names from Together's supported-models list, 2026-08); limits and rates are the emulator's. */
export const DEFAULT_TUNABLE_MODELS: Record<string, TunableModel> = {
  "Qwen/Qwen3-8B": { maxLoraRank: 64, maxEpochs: 20, maxEvals: 100, pricePer1MTokens: 0.48 },
  "Qwen/Qwen3.5-9B": { maxLoraRank: 64, maxEpochs: 20, maxEvals: 100, pricePer1MTokens: 0.48 },
  "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": {
    maxLoraRank: 64,
    maxEpochs: 20,
    maxEvals: 100,
    pricePer1MTokens: 0.48,
  },
  // The skills docs cap DeepSeek V3/R1, Kimi K2 and GLM-5 at rank 16.
  "deepseek-ai/DeepSeek-V3.1": { maxLoraRank: 16, maxEpochs: 20, maxEvals: 100, pricePer1MTokens: 10 },
};

/** Together's documented cap on `suffix` ("Up to 40 character suffix", together-python @ eba5e5f0). */
export const MAX_SUFFIX_LENGTH = 40;
/** Examples per optimizer step in the emulator (Together's "max" batch size is model-dependent). */
const EXAMPLES_PER_STEP = 8;
const NANO = 1_000_000_000;

export interface FineTuneEvent {
  object: "fine-tune-event";
  created_at: string;
  level: "info" | "warning" | "error";
  message: string;
  type: string;
  param_count: number;
  token_count: number;
  total_steps: number;
  wandb_url: string;
  step: number;
  checkpoint_path: string;
  model_path: string;
  training_offset: number;
  hash: string;
}

export interface PlannedFailure {
  message: string;
  /** Fail before training starts (bad data, say) or at the end of training (default). */
  stage?: "pending" | "running";
}

export interface JobRecord {
  id: string;
  status: JobStatus;
  model: string;
  trainingFile: string;
  validationFile: string | null;
  suffix: string | null;
  nEpochs: number;
  nEvals: number;
  trainingType:
    | {
        type: "Lora";
        lora_r: number;
        lora_alpha: number;
        lora_dropout: number;
        lora_trainable_modules: string;
      }
    | { type: "Full" };
  trainingMethod: { method: "sft"; train_on_inputs: boolean | "auto" };
  learningRate: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  modelOutputName: string;
  adapterObjectId: string | null;
  adapterObjectName: string | null;
  epochsCompleted: number;
  /** Tokens of one pass over the training / validation file, known once the job left `pending`. */
  trainTokens: number;
  evalTokens: number;
  /** Billed so far (the whole job once completed; the completed epochs when cancelled). */
  tokenCount: number | null;
  totalPriceNano: number | null;
  events: FineTuneEvent[];
  metrics: Array<Record<string, number>>;
  failure?: PlannedFailure;
}

export interface FineTunesDeps {
  clock: ManualClock;
  newUuid: () => string;
  newHex: (length: number) => string;
  files: TogetherFiles;
  account: string;
  userId: string;
  models: Record<string, TunableModel>;
  timings: FineTuneTimings;
  /** Dollars the account may spend on training (`user_limit`; `allowed_to_proceed` compares with it). */
  creditLimitUsd: number;
  onCompleted(record: JobRecord): void;
  onDeleted(record: JobRecord): void;
}

const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "error", "cancelled"]);

export class TogetherFineTunes {
  readonly records = new Map<string, JobRecord>();
  private plannedFailures: PlannedFailure[] = [];

  constructor(private readonly deps: FineTunesDeps) {}

  failNextJob(failure: PlannedFailure): void {
    this.plannedFailures.push(failure);
  }

  create(body: unknown) {
    const b = objectBody(body);
    const model = requireString(b, "model");
    const trainingFile = requireString(b, "training_file");
    const limits = this.deps.models[model];
    if (!limits)
      togetherFail(
        400,
        `Model ${model} is not supported for fine-tuning. See GET /v1/fine-tunes/models/supported.`,
        { param: "model", code: "model_not_supported" },
      );
    this.requireTuningFile(trainingFile, "training_file");
    const validationFile = b.validation_file == null ? null : String(b.validation_file);
    if (validationFile) this.requireTuningFile(validationFile, "validation_file");
    const nEpochs = integerIn(b, "n_epochs", 1, limits.maxEpochs, 1);
    const nEvals = integerIn(b, "n_evals", 0, limits.maxEvals, 0);
    if (nEvals > 0 && !validationFile)
      togetherFail(400, "n_evals > 0 needs a validation_file to evaluate on.", { param: "n_evals" });
    const suffix = b.suffix == null ? null : String(b.suffix);
    if (suffix !== null && suffix.length > MAX_SUFFIX_LENGTH)
      togetherFail(400, `suffix must be at most ${MAX_SUFFIX_LENGTH} characters, got ${suffix.length}.`, {
        param: "suffix",
      });
    // The emulator's character rule: the suffix becomes part of a model name.
    if (suffix !== null && !/^[A-Za-z0-9._-]*$/.test(suffix))
      togetherFail(400, "suffix may only contain letters, digits, '.', '_' and '-'.", { param: "suffix" });
    const trainingType = readTrainingType(b.training_type, model, limits);
    const trainingMethod = readTrainingMethod(b.training_method, b.train_on_inputs);

    const now = this.deps.clock.now();
    const id = `ft-${this.deps.newUuid()}`;
    const hash = this.deps.newHex(8);
    const modelOutputName = `${this.deps.account}/${model}${suffix ? `-${suffix}` : ""}-${hash}`;
    const record: JobRecord = {
      id,
      status: "pending",
      model,
      trainingFile,
      validationFile,
      suffix,
      nEpochs,
      nEvals,
      trainingType,
      trainingMethod,
      learningRate: typeof b.learning_rate === "number" ? b.learning_rate : 0.00001,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      modelOutputName,
      adapterObjectId: null,
      adapterObjectName: null,
      epochsCompleted: 0,
      trainTokens: 0,
      evalTokens: 0,
      tokenCount: null,
      totalPriceNano: null,
      events: [],
      metrics: [],
      failure: this.plannedFailures.shift(),
    };
    this.records.set(id, record);
    this.event(record, "job_pending", "Fine-tune request created");
    this.after(record, this.deps.timings.pendingMs, () => this.leavePending(record));
    return this.truncatedJson(record);
  }

  get(id: string) {
    return this.fullJson(this.record(id));
  }

  list() {
    return { data: [...this.records.values()].map((r) => this.truncatedJson(r)) };
  }

  events(id: string) {
    return { data: this.record(id).events };
  }

  metrics(id: string, query: Record<string, string>) {
    const from = query.global_step_from === undefined ? undefined : Number(query.global_step_from);
    const to = query.global_step_to === undefined ? undefined : Number(query.global_step_to);
    const metrics = this.record(id).metrics.filter((m) => {
      const step = m["train/global_step"] ?? m["eval/global_step"] ?? 0;
      return (from === undefined || step >= from) && (to === undefined || step <= to);
    });
    return { metrics };
  }

  cancel(id: string) {
    const record = this.record(id);
    if (TERMINAL.has(record.status))
      togetherFail(400, `Fine-tune job ${id} is ${record.status} and cannot be cancelled.`, {
        param: "id",
      });
    if (record.status !== "cancel_requested") {
      record.status = "cancel_requested";
      this.touch(record);
      this.event(record, "cancel_requested", "Cancel requested by user");
      this.deps.clock.setTimeout(() => this.finishCancel(record), this.deps.timings.cancelMs);
    }
    return this.truncatedJson(record);
  }

  delete(id: string) {
    const record = this.record(id);
    this.records.delete(id);
    this.deps.onDeleted(record);
    return { message: `Fine-tune job ${id} deleted` };
  }

  estimatePrice(body: unknown) {
    const b = objectBody(body);
    const trainingFile = requireString(b, "training_file");
    const train = this.requireTuningFile(trainingFile, "training_file");
    const validationFile = b.validation_file == null ? null : String(b.validation_file);
    const validation = validationFile ? this.requireTuningFile(validationFile, "validation_file") : undefined;
    const model = typeof b.model === "string" ? b.model : Object.keys(this.deps.models)[0]!;
    const limits = this.deps.models[model];
    if (!limits)
      togetherFail(400, `Model ${model} is not supported for fine-tuning.`, {
        param: "model",
        code: "model_not_supported",
      });
    const nEpochs = integerIn(b, "n_epochs", 1, limits.maxEpochs, 1);
    const nEvals = integerIn(b, "n_evals", 0, limits.maxEvals, 0);
    if (!train.check) return { estimation_available: false, unavailable_reason: "train_file_not_validated" };
    if (!train.check.valid) return { estimation_available: false, unavailable_reason: "train_file_invalid" };
    if (validation && !validation.check)
      return { estimation_available: false, unavailable_reason: "eval_file_not_validated" };
    if (validation && !validation.check?.valid)
      return { estimation_available: false, unavailable_reason: "eval_file_invalid" };
    const trainTokens = train.check.tokens * nEpochs;
    const evalTokens = (validation?.check?.tokens ?? 0) * nEvals;
    const price = priceNano(trainTokens + evalTokens, limits) / NANO;
    return {
      estimation_available: true,
      estimated_total_price: price,
      allowed_to_proceed: price <= this.deps.creditLimitUsd,
      user_limit: this.deps.creditLimitUsd,
      estimated_train_token_count: trainTokens,
      estimated_eval_token_count: evalTokens,
    };
  }

  /** Nano-dollars the emulator billed for a job (0 until it knows). */
  billedNano(id: string): number {
    return this.record(id).totalPriceNano ?? 0;
  }

  // -------------------------------------------------------------------------------------------

  private leavePending(record: JobRecord): void {
    const train = this.deps.files.files.get(record.trainingFile);
    // Together starts from validated files: wait for a file still being checked.
    if (train && !train.check) {
      this.after(record, this.deps.timings.pendingMs, () => this.leavePending(record));
      return;
    }
    if (!train?.check?.valid) {
      this.fail(record, train?.check?.error ?? "The training file is gone.");
      return;
    }
    const validation = record.validationFile ? this.deps.files.files.get(record.validationFile) : undefined;
    if (record.validationFile && !validation?.check?.valid) {
      this.fail(record, `Validation file: ${validation?.check?.error ?? "the file is gone."}`);
      return;
    }
    if (record.failure?.stage === "pending") {
      this.fail(record, record.failure.message);
      return;
    }
    record.trainTokens = train.check.tokens;
    record.evalTokens = validation?.check?.tokens ?? 0;
    record.status = "queued";
    this.touch(record);
    this.event(record, "job_pending", "Job is queued");
    this.after(record, this.deps.timings.queuedMs, () => this.startTraining(record));
  }

  private startTraining(record: JobRecord): void {
    const examples = this.deps.files.files.get(record.trainingFile)?.check?.examples.length ?? 1;
    const stepsPerEpoch = Math.max(1, Math.ceil(examples / EXAMPLES_PER_STEP));
    const totalSteps = stepsPerEpoch * record.nEpochs;
    record.status = "running";
    record.startedAt = this.deps.clock.now();
    this.touch(record);
    this.event(record, "job_start", "Job started");
    this.event(record, "model_downloading", `Downloading model ${record.model}`);
    this.event(record, "training_data_download_complete", "Training data downloaded");
    this.event(record, "training_start", "Training started", { total_steps: totalSteps });
    const evalEvery = record.nEvals > 0 ? Math.max(1, Math.floor(totalSteps / record.nEvals)) : 0;
    let evalsDone = 0;
    const runEpoch = (epoch: number) => {
      for (let s = 1; s <= stepsPerEpoch; s++) {
        const step = (epoch - 1) * stepsPerEpoch + s;
        const loss = round4(2.1 * Math.exp((-1.2 * step) / totalSteps) + 0.3);
        record.metrics.push({
          "train/loss": loss,
          "train/learning_rate": record.learningRate,
          "train/grad_norm": round4(1 / (1 + step)),
          "train/global_step": step,
        });
        if (evalEvery && evalsDone < record.nEvals && step % evalEvery === 0) {
          evalsDone++;
          record.metrics.push({ "eval/loss": round4(loss + 0.15), "eval/global_step": step });
        }
      }
      record.epochsCompleted = epoch;
      this.touch(record);
      this.event(record, "epoch_complete", `Epoch ${epoch}/${record.nEpochs} completed`, {
        step: epoch * stepsPerEpoch,
        total_steps: totalSteps,
      });
      if (epoch < record.nEpochs) this.after(record, this.deps.timings.epochMs, () => runEpoch(epoch + 1));
      else this.finishTraining(record);
    };
    this.after(record, this.deps.timings.epochMs, () => runEpoch(1));
  }

  private finishTraining(record: JobRecord): void {
    if (record.failure && record.failure.stage !== "pending") {
      this.fail(record, record.failure.message);
      return;
    }
    this.event(record, "training_complete", "Training completed");
    record.status = "compressing";
    this.touch(record);
    this.event(record, "model_compressing", "Compressing output model");
    this.after(record, this.deps.timings.compressingMs, () => {
      record.status = "uploading";
      this.touch(record);
      this.event(record, "model_compression_complete", "Model compression complete");
      this.event(record, "model_uploading", "Uploading output model");
      this.after(record, this.deps.timings.uploadingMs, () => this.complete(record));
    });
  }

  private complete(record: JobRecord): void {
    this.bill(record, record.nEpochs, record.nEvals);
    if (record.trainingType.type === "Lora") {
      record.adapterObjectId = `ml_${this.deps.newHex(20)}`;
      record.adapterObjectName = `${record.modelOutputName}-adapter`;
    }
    record.status = "completed";
    this.touch(record);
    this.event(record, "model_upload_complete", `Model uploaded: ${record.modelOutputName}`);
    this.event(record, "job_complete", `Fine-tuning job completed. Model: ${record.modelOutputName}`);
    this.deps.onCompleted(record);
  }

  private finishCancel(record: JobRecord): void {
    if (record.status !== "cancel_requested") return;
    // "you pay for completed steps only" (docs: fine-tuning pricing); the emulator bills whole epochs.
    this.bill(record, record.epochsCompleted, 0);
    record.status = "cancelled";
    this.touch(record);
    this.event(record, "job_stopped", "Job cancelled");
  }

  private fail(record: JobRecord, message: string): void {
    record.status = "error";
    record.tokenCount = 0;
    record.totalPriceNano = 0;
    this.touch(record);
    this.event(record, "job_error", message, {}, "error");
  }

  private bill(record: JobRecord, epochs: number, evals: number): void {
    const limits = this.deps.models[record.model]!;
    record.tokenCount = record.trainTokens * epochs + record.evalTokens * evals;
    record.totalPriceNano = priceNano(record.tokenCount, limits);
  }

  /** Schedules a transition that is skipped once the job was cancelled, failed or deleted. */
  private after(record: JobRecord, ms: number, run: () => void): void {
    const expected = () => this.records.get(record.id) === record && record.status !== "cancel_requested";
    this.deps.clock.setTimeout(() => {
      if (expected() && !TERMINAL.has(record.status)) run();
    }, ms);
  }

  private event(
    record: JobRecord,
    type: string,
    message: string,
    extra: { step?: number; total_steps?: number } = {},
    level: FineTuneEvent["level"] = "info",
  ): void {
    record.events.push({
      object: "fine-tune-event",
      created_at: new Date(this.deps.clock.now()).toISOString(),
      level,
      message,
      type,
      param_count: 0,
      token_count: record.tokenCount ?? 0,
      total_steps: extra.total_steps ?? 0,
      wandb_url: "",
      step: extra.step ?? 0,
      checkpoint_path: "",
      model_path: "",
      training_offset: 0,
      hash: "",
    });
  }

  private touch(record: JobRecord): void {
    record.updatedAt = this.deps.clock.now();
  }

  private requireTuningFile(id: string, param: string) {
    const file = this.deps.files.files.get(id);
    if (!file) togetherFail(400, `${param}: file ${id} does not exist.`, { param, code: "file_not_found" });
    if (file.purpose !== "fine-tune")
      togetherFail(400, `${param}: file ${id} has purpose '${file.purpose}', not 'fine-tune'.`, { param });
    return file;
  }

  private record(id: string): JobRecord {
    const record = this.records.get(id);
    if (!record) togetherFail(404, `Fine-tune job ${id} not found`, { param: "id", code: "not_found" });
    return record;
  }

  private truncatedJson(r: JobRecord) {
    return {
      id: r.id,
      status: r.status,
      created_at: iso(r.createdAt),
      updated_at: iso(r.updatedAt),
      started_at: r.startedAt === null ? undefined : iso(r.startedAt),
      user_id: this.deps.userId,
      owner_address: this.deps.userId,
      total_price: r.totalPriceNano ?? 0,
      token_count: r.tokenCount ?? 0,
      events: r.events,
      training_file: r.trainingFile,
      validation_file: r.validationFile ?? "",
      model: r.model,
      model_output_name: r.modelOutputName,
      suffix: r.suffix ?? "",
      n_epochs: r.nEpochs,
      n_evals: r.nEvals,
      n_checkpoints: 1,
      batch_size: "max",
      learning_rate: r.learningRate,
      training_type: r.trainingType,
      training_method: r.trainingMethod,
      packing: true,
    };
  }

  private fullJson(r: JobRecord) {
    const file = this.deps.files.files.get(r.trainingFile);
    return {
      ...this.truncatedJson(r),
      job_id: r.id,
      epochs_completed: r.epochsCompleted,
      queue_depth: r.status === "queued" ? 1 : 0,
      trainingfile_numlines: file?.check?.examples.length ?? 0,
      trainingfile_size: file?.bytes.length ?? 0,
      param_count: 0,
      ...(r.adapterObjectId
        ? { adapter_object_id: r.adapterObjectId, adapter_object_name: r.adapterObjectName }
        : {}),
    };
  }
}

function priceNano(tokens: number, model: TunableModel): number {
  // tokens x dollars per 1M tokens, in nano-dollars: tokens x price x 1000.
  return Math.round(tokens * model.pricePer1MTokens * 1000);
}

function readTrainingType(raw: unknown, model: string, limits: TunableModel): JobRecord["trainingType"] {
  // "If not provided, the job will default to LoRA training type"; rank 64 and alpha 16 are the
  // defaults Together's skills docs give (capped at the model's max rank).
  if (raw == null)
    return {
      type: "Lora",
      lora_r: Math.min(64, limits.maxLoraRank),
      lora_alpha: 16,
      lora_dropout: 0,
      lora_trainable_modules: "all-linear",
    };
  const t = objectBody(raw, "training_type");
  if (t.type === "Full") return { type: "Full" };
  if (t.type !== "Lora")
    togetherFail(400, `training_type.type must be 'Lora' or 'Full', got ${JSON.stringify(t.type)}.`, {
      param: "training_type.type",
    });
  for (const key of ["lora_r", "lora_alpha"])
    if (typeof t[key] !== "number" || !Number.isInteger(t[key]) || (t[key] as number) < 1)
      togetherFail(
        400,
        `training_type.${key} is required for LoRA training and must be a positive integer.`,
        {
          param: `training_type.${key}`,
        },
      );
  const r = t.lora_r as number;
  if (r > limits.maxLoraRank)
    togetherFail(400, `lora_r ${r} is above the maximum LoRA rank ${limits.maxLoraRank} for ${model}.`, {
      param: "training_type.lora_r",
    });
  const dropout = t.lora_dropout ?? 0;
  if (typeof dropout !== "number" || dropout < 0 || dropout >= 1)
    togetherFail(400, "LoRA dropout must be in [0, 1) range.", { param: "training_type.lora_dropout" });
  return {
    type: "Lora",
    lora_r: r,
    lora_alpha: t.lora_alpha as number,
    lora_dropout: dropout,
    lora_trainable_modules:
      typeof t.lora_trainable_modules === "string" ? t.lora_trainable_modules : "all-linear",
  };
}

function readTrainingMethod(raw: unknown, topLevel: unknown): JobRecord["trainingMethod"] {
  const m = raw == null ? { method: "sft" } : objectBody(raw, "training_method");
  if (m.method !== "sft")
    togetherFail(
      400,
      `The emulator implements training_method 'sft' only, got ${JSON.stringify(m.method)}.`,
      {
        param: "training_method.method",
      },
    );
  const value = m.train_on_inputs ?? topLevel ?? "auto";
  if (value !== "auto" && typeof value !== "boolean")
    togetherFail(400, "train_on_inputs must be true, false or 'auto'.", {
      param: "training_method.train_on_inputs",
    });
  return { method: "sft", train_on_inputs: value };
}

function objectBody(body: unknown, param?: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body) || Buffer.isBuffer(body))
    togetherFail(400, param ? `${param} must be an object.` : "The request body must be a JSON object.", {
      param: param ?? null,
    });
  return body as Record<string, unknown>;
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value === "")
    togetherFail(400, `Missing required field: ${key}`, { param: key });
  return value;
}

function integerIn(body: Record<string, unknown>, key: string, min: number, max: number, fallback: number) {
  const value = body[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    togetherFail(400, `${key} must be an integer from ${min} to ${max}.`, { param: key });
  return value;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function round4(n: number): number {
  return Number(n.toFixed(4));
}
