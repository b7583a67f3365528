// FINETUNE_PROVIDER=self-hosted: LoRA training on the operator's own GPU by the trainer/ worker,
// behind the FineTuneProvider port. The queue is the TrainerJob table in the bot's own Postgres
// (trainer/README.md, "The contract"), so a person's dataset never leaves the bot's database:
//
// * upload keeps nothing anywhere: the dataset already sits in the offer (FineTuneProposal). The
//   file id is a content reference, the file name (which carries the bot's job id) and the sha256 of
//   the bytes, so the job is later created from exactly the text that was "uploaded".
// * create inserts the job's row with its exact dataset and datasetSha256, keyed by the bot's job
//   id with ON CONFLICT DO NOTHING: a launch resumed after a crash finds the row it made.
// * status reads the row; the tuned "model" is the adapter, named by the trainer job id, which is
//   also its directory under the shared adapters volume (LORA_ADAPTER_DIR/<id> as vLLM sees it).
// * cancel sets cancelRequested (a queued job ends at once, a running one at the next heartbeat).
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Database } from "../../database/open-database.ts";
import { gpuTimeUsd } from "../fine-tune/cost-estimate.ts";
import { type FineTuneJobInfo, type FineTuneProvider, type FineTuneStatus, ProviderError } from "../ports.ts";

export interface SelfHostedFineTuneOptions {
  db: Database;
  /** FINETUNE_LORA_RANK / FINETUNE_LORA_ALPHA: the rank must be at most vLLM's --max-lora-rank. */
  loraRank: number;
  loraAlpha: number;
  /** TRAINER_GPU_USD_PER_HOUR: a finished job's run time is priced at this rate (0: free). */
  gpuUsdPerHour: number;
  /**
   * LORA_ADAPTER_DIR, where the bot reaches the adapters volume (when it shares it): deleteModel
   * removes `<dir>/<trainer job id>` there. Where the bot cannot reach it, the workers' sweep
   * deletes the directory of any adapter whose row is gone.
   */
  adapterDir?: string;
  /** Claims a job gets before it fails (TrainerJob.maxAttempts). */
  maxAttempts?: number;
  /** Extra trainer hyperparameters (trainer/README.md, "Training"), e.g. maxSteps for a demo. */
  hyperparameters?: Record<string, unknown>;
  /**
   * TRAINER_CLAIM_TIMEOUT_HOURS: a job no worker has taken for this long (queued, or queued again
   * after a lost lease) fails, so its reservation is released and its owner told, instead of
   * waiting for a trainer that is not running. Default 24.
   */
  claimTimeoutHours?: number;
}

/** The trainer needs little: a person's adapter from a handful of examples is still their style. */
const SELF_HOSTED_MIN_EXAMPLES = 10;
const FILE_ID_PREFIX = "trainer-dataset:";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** `trainer-dataset:<file name>#sha256=<hex>`: what was uploaded, without the bytes. */
export function datasetReference(filename: string, content: string): string {
  return `${FILE_ID_PREFIX}${filename}#sha256=${sha256(content)}`;
}

function referencedSha256(fileId: string): string | undefined {
  if (!fileId.startsWith(FILE_ID_PREFIX)) return undefined;
  return /#sha256=([0-9a-f]{64})$/.exec(fileId)?.[1];
}

interface TrainerRow {
  id: string;
  state: string;
  progress: unknown;
  adapterPath: string | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const STATUS: Record<string, FineTuneStatus> = {
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};

const ROW = {
  id: true,
  state: true,
  progress: true,
  adapterPath: true,
  error: true,
  startedAt: true,
  finishedAt: true,
} as const;

export function createSelfHostedFineTuneProvider(options: SelfHostedFineTuneOptions): FineTuneProvider {
  const { db } = options;

  function infoOf(row: TrainerRow): FineTuneJobInfo {
    const status = STATUS[row.state];
    if (!status) throw new ProviderError(`the trainer job is in an unknown state "${row.state}"`, 500);
    const progress = (row.progress ?? {}) as { evalLoss?: unknown };
    const info: FineTuneJobInfo = { providerJobId: row.id, status };
    if (typeof progress.evalLoss === "number") info.validationLoss = progress.evalLoss;
    if (status === "failed" || status === "cancelled") {
      if (row.error) info.error = row.error;
    }
    if (status === "succeeded") {
      // The adapter's name is the trainer job id: its directory on the shared volume, and the name
      // vLLM's lora_filesystem_resolver finds it by after a restart.
      info.fineTunedModel = row.id;
      // What it cost is the GPU time it took (the last attempt's), at the operator's hourly rate.
      const seconds =
        row.startedAt && row.finishedAt ? (row.finishedAt.getTime() - row.startedAt.getTime()) / 1000 : 0;
      info.billedUsd = gpuTimeUsd(Math.max(0, seconds), options.gpuUsdPerHour);
    }
    return info;
  }

  async function row(trainerJobId: string): Promise<TrainerRow> {
    const found = UUID.test(trainerJobId)
      ? await db.trainerJob.findUnique({ where: { id: trainerJobId }, select: ROW })
      : null;
    // Gone: its FineTuneJob was deleted (forgetting a person), and the row and dataset with it.
    if (!found) throw new ProviderError(`no trainer job ${trainerJobId}`, 404);
    return found;
  }

  return {
    name: "self-hosted",
    minExamples: SELF_HOSTED_MIN_EXAMPLES,

    async uploadFile({ filename, content }) {
      return datasetReference(filename, content);
    },

    async createJob(request) {
      if (!request.jobId)
        throw new ProviderError("the self-hosted trainer needs the bot's job id to queue a job", 400);
      const job = await db.fineTuneJob.findUnique({
        where: { id: request.jobId },
        select: { proposal: { select: { trainJsonl: true, validationJsonl: true } } },
      });
      if (!job) throw new ProviderError(`no fine-tune job ${request.jobId}`, 404);
      const train = job.proposal.trainJsonl;
      const validation = job.proposal.validationJsonl;
      // The references say which bytes were "uploaded" (and shown in the approval DM): train on
      // those or not at all.
      if (referencedSha256(request.trainingFile) !== sha256(train))
        throw new ProviderError("the training file does not match the job's dataset", 400);
      if (request.validationFile !== undefined || validation !== null) {
        if (!request.validationFile || validation === null)
          throw new ProviderError("the validation file does not match the job's dataset", 400);
        if (referencedSha256(request.validationFile) !== sha256(validation))
          throw new ProviderError("the validation file does not match the job's dataset", 400);
      }
      const datasetSha256 = sha256(`${train}\0${validation ?? ""}`);
      const hyperparameters = JSON.stringify({
        epochs: request.epochs,
        loraR: options.loraRank,
        loraAlpha: options.loraAlpha,
        ...options.hyperparameters,
      });
      const maxAttempts = options.maxAttempts ?? 3;
      // trainer/README.md, "What the bot does": a conflict means this launch queued it already.
      await db.$executeRaw`
        INSERT INTO "TrainerJob" ("fineTuneJobId", "baseModel", "trainJsonl", "validationJsonl",
          "datasetSha256", hyperparameters, "maxAttempts")
        VALUES (${request.jobId}::uuid, ${request.baseModel}, ${train}, ${validation}, ${datasetSha256},
          ${hyperparameters}::jsonb, ${maxAttempts})
        ON CONFLICT ("fineTuneJobId") DO NOTHING`;
      const queued = await db.trainerJob.findUnique({ where: { fineTuneJobId: request.jobId }, select: ROW });
      if (!queued) throw new ProviderError("the trainer job vanished right after it was queued", 500);
      return infoOf(queued);
    },

    async getJob(providerJobId) {
      const current = await row(providerJobId);
      if (current.state !== "queued") return infoOf(current);
      // Conditional on still being queued: a worker claiming it in the meantime wins.
      const hours = options.claimTimeoutHours ?? 24;
      const expired = await db.$executeRaw`
        UPDATE "TrainerJob" SET state = 'failed', "finishedAt" = now(), "updatedAt" = now(),
          error = ${`no trainer worker took the job within ${hours} hours (is the trainer running against this database?)`}
        WHERE id = ${providerJobId}::uuid AND state = 'queued'
          AND "updatedAt" < now() - make_interval(hours => ${hours}::int)`;
      return expired ? infoOf(await row(providerJobId)) : infoOf(current);
    },

    async findJobByTrainingFile(trainingFile) {
      // The reference names the bot's job (its file name), so it finds at most that job's row.
      const found = await db.trainerJob.findFirst({
        where: { fineTuneJob: { providerFileId: trainingFile } },
        select: ROW,
      });
      return found ? infoOf(found) : undefined;
    },

    async cancelJob(providerJobId) {
      if (!UUID.test(providerJobId)) return;
      // A queued job ends at once; a running one stops at its worker's next heartbeat. A finished
      // one is left as it is.
      await db.$executeRaw`
        UPDATE "TrainerJob" SET "cancelRequested" = true,
          state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
          "finishedAt" = CASE WHEN state = 'queued' THEN now() ELSE "finishedAt" END, "updatedAt" = now()
        WHERE id = ${providerJobId}::uuid AND state IN ('queued', 'running')`;
    },

    async modelShutdownDate() {
      return undefined; // the operator's own hardware retires nothing
    },

    async deleteFile() {
      // Nothing was uploaded: the dataset lives in the offer and the TrainerJob row, both in the
      // bot's database, and both go when the person is forgotten (the row with its FineTuneJob).
    },

    async deleteModel(model) {
      // The adapter's files are on the operator's disk. The bot removes them where it shares the
      // volume; elsewhere the workers delete any adapter whose row is gone. Unloading from vLLM is
      // adapters.ts's part (forget unloads before it deletes).
      if (!UUID.test(model) || !options.adapterDir) return;
      try {
        await rm(join(options.adapterDir, model), { recursive: true, force: true });
      } catch (e) {
        throw new ProviderError(
          `could not delete the adapter directory: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
          403,
        );
      }
    },
  };
}
