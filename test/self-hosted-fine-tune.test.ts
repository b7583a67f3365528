// FINETUNE_PROVIDER=self-hosted through the core as the app builds it, on the real migrations: the
// offer prices GPU time on the operator's hardware, approval queues a TrainerJob row holding the
// exact dataset of the offer, a crash-resumed launch finds that row, status and cancellation follow
// trainer/README.md's contract, and a succeeded row's adapter is loaded into vLLM from
// LORA_ADAPTER_DIR/<trainer job id> and answers the next reply. The worker's writes are made here with
// its own SQL (trainer/lora_trainer/job_queue.py); test/trainer-e2e/ runs the real worker process.
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { estimateCost } from "../src/core/fine-tune/cost-estimate.ts";
import { ProviderError } from "../src/core/ports.ts";
import {
  createSelfHostedFineTuneProvider,
  datasetReference,
} from "../src/core/providers/self-hosted-fine-tune.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { startVllmEmulator, type VllmEmulator } from "./emulators/vllm/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { rateReplies } from "./support/rate-replies.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 12;
const BASE = "Qwen/Qwen2.5-1.5B-Instruct";
const ALICE = { externalId: "discord:3001", platform: "discord" as const };

describe("self-hosted fine-tuning (the TrainerJob queue)", () => {
  let t: TestDatabase;
  let openai: OpenAIEmulator;
  let vllm: VllmEmulator;
  let notifier: RecordingNotifier;
  let adapterDir: string;
  let seq = 0;

  beforeAll(async () => {
    openai = await startOpenAIEmulator();
    vllm = await startVllmEmulator({ baseModel: BASE, readAdaptersFromDisk: true });
  });
  afterAll(async () => {
    await openai.close();
    await vllm.close();
  });
  beforeEach(async () => {
    t = await createTestDatabase();
    notifier = new RecordingNotifier();
    adapterDir = await mkdtemp(join(tmpdir(), "adapters-"));
  });
  afterEach(async () => {
    await t.close();
    await rm(adapterDir, { recursive: true, force: true });
  });

  function build(extra: Record<string, string> = {}) {
    return createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        CHAT_MODEL: "gpt-4.1-mini",
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_PROVIDER: "self-hosted",
        // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
        CANARY_SHARE: "0",
        FINETUNE_PLATFORMS: "discord",
        LORA_SERVER_URL: `${vllm.url}/v1`,
        LORA_ADAPTER_DIR: adapterDir,
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
        TRAINER_TOKENS_PER_SECOND: "50",
        TRAINER_GPU_USD_PER_HOUR: "1.2",
        ...extra,
      }),
      db: t.db,
      log: memoryLogger(),
      clock: new TestClock(),
      notifiers: { discord: notifier },
    });
  }

  async function offerAndApprove(core: ReturnType<typeof build>) {
    await rateReplies(
      core.assistant,
      ALICE,
      THRESHOLD,
      (i, n) => `Question ${n} about pruning roses in zone ${i}`,
    );
    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    const { prompt } = notifier.prompts[0]!;
    const click = await core.assistant.approvalClick({
      user: ALICE,
      proposalId: prompt.proposalId,
      action: "approve",
      eventKey: `approve-${++seq}`,
    });
    expect(click.promptText).toMatch(/^Approved/);
    return { prompt, proposal: await t.db.fineTuneProposal.findFirstOrThrow() };
  }

  /** What a worker writes when it claims a job and when it publishes the adapter (job_queue.py). */
  async function workerClaims(id: string) {
    await t.db.$executeRaw`
      UPDATE "TrainerJob" SET state = 'running', attempts = attempts + 1, "claimToken" = gen_random_uuid(),
        "claimedBy" = 'gpu-1:42:ab', "heartbeatAt" = now(), "leaseExpiresAt" = now() + interval '2 minutes',
        "startedAt" = now() - interval '30 minutes', progress = '{"step": 3, "totalSteps": 9, "loss": 1.9}'
      WHERE id = ${id}::uuid`;
  }
  async function workerSucceeds(id: string) {
    const dir = join(adapterDir, id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 16 }));
    await writeFile(join(dir, "adapter_model.safetensors"), "weights");
    await t.db.$executeRaw`
      UPDATE "TrainerJob" SET state = 'succeeded', "finishedAt" = now(), "adapterPath" = ${dir},
        progress = '{"step": 9, "totalSteps": 9, "loss": 0.8, "evalLoss": 0.95}', error = NULL
      WHERE id = ${id}::uuid`;
  }

  it("offers GPU time on the operator's hardware, queues the offer's exact dataset, and serves the adapter from vLLM", async () => {
    const core = build();
    const { prompt, proposal } = await offerAndApprove(core);

    // The DM: the estimate is GPU time at the measured speed, priced at the GPU's hourly rate.
    const expected = estimateCost({
      provider: "self-hosted",
      trainJsonl: proposal.trainJsonl,
      examples: proposal.trainExamples,
      epochs: "auto",
      pricePer1MTokens: 5,
      trainer: { tokensPerSecond: 50, gpuUsdPerHour: 1.2 },
    });
    expect(proposal.estimatedSeconds).toBe(expected.estimatedSeconds);
    expect(expected.estimatedSeconds).toBe(Math.round(120 + expected.trainedTokens / 50));
    expect(Number(proposal.estimatedCostUsd)).toBeCloseTo((expected.estimatedSeconds / 3600) * 1.2, 6);
    expect(prompt.text).toContain("an estimate of time on the operator's own GPU");
    expect(prompt.text).toContain("your examples never leave its servers");
    expect(prompt.text).not.toContain("Price quoted by");

    // Approval queued one row: the offer's dataset byte for byte, with dataset.ts's sha256.
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    expect(job).toMatchObject({ provider: "self-hosted", state: "running", providerStatus: "queued" });
    const row = await t.db.trainerJob.findUniqueOrThrow({ where: { fineTuneJobId: job.id } });
    expect(row.id).toBe(job.providerJobId);
    expect(row).toMatchObject({
      baseModel: BASE,
      trainJsonl: proposal.trainJsonl,
      validationJsonl: proposal.validationJsonl,
      datasetSha256: proposal.datasetSha256,
      state: "queued",
      hyperparameters: { epochs: 3, loraR: 16, loraAlpha: 32 },
    });
    expect(job.providerFileId).toBe(datasetReference(`ft-${job.id}-train.jsonl`, proposal.trainJsonl));

    // The worker claims it: the monitor reports it running.
    await workerClaims(row.id);
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneJob.findUniqueOrThrow({ where: { id: job.id } })).providerStatus).toBe(
      "running",
    );

    // It publishes the adapter: the monitor activates it, vLLM loads it from the shared volume.
    await workerSucceeds(row.id);
    await core.lifecycle.monitor();
    const done = await t.db.fineTuneJob.findUniqueOrThrow({ where: { id: job.id } });
    expect(done.state).toBe("succeeded");
    expect(done.fineTunedModel).toBe(row.id);
    // 30 minutes of GPU at $1.20 an hour.
    expect(Number(done.actualCostUsd)).toBeCloseTo(0.6, 3);
    const version = await t.db.modelVersion.findFirstOrThrow();
    expect(version).toMatchObject({
      provider: "self-hosted",
      modelId: row.id,
      adapterName: row.id,
      adapterSource: join(adapterDir, row.id),
      adapterServer: "vllm",
    });
    const loads = vllm.requests.filter((r) => r.path === "/v1/load_lora_adapter");
    expect((loads.at(-1) as unknown as { body: unknown }).body).toEqual({
      lora_name: row.id,
      lora_path: join(adapterDir, row.id),
    });
    expect(notifier.dms.at(-1)!.text).toMatch(/Your own model \(v1\) is ready/);

    const reply = await core.assistant.mention({
      user: ALICE,
      messageId: "after",
      channelId: "c",
      text: "Hi",
    });
    expect(reply.kind === "reply" && reply.model).toBe(row.id);
    expect(vllm.answers.at(-1)).toMatchObject({ model: row.id, adapter: { name: row.id } });
    // Its owner sees what it is, not the trainer job's uuid.
    const models = (await core.assistant.command(ALICE, { name: "models", args: "" })).text;
    expect(models).toContain(`v1: your LoRA adapter on ${BASE} (self-hosted)`);
    expect(models).not.toContain(row.id);

    // Forget: the adapter leaves vLLM, the row and its dataset go, and so do the adapter's files.
    const request = await core.assistant.forgetRequest(ALICE);
    await core.assistant.forgetConfirm({ user: ALICE, buttonId: request.confirmButtonId, eventKey: "f-1" });
    expect(vllm.adapters.loaded.has(row.id)).toBe(false);
    expect(await t.db.trainerJob.count()).toBe(0);
    await expect(stat(join(adapterDir, row.id))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("fails a job no worker took within TRAINER_CLAIM_TIMEOUT_HOURS, releasing its money and telling its owner", async () => {
    const core = build({ TRAINER_CLAIM_TIMEOUT_HOURS: "6" });
    await offerAndApprove(core);
    const queued = await t.db.trainerJob.findFirstOrThrow();
    // Five hours without a worker: still waiting.
    await t.db
      .$executeRaw`UPDATE "TrainerJob" SET "updatedAt" = now() - interval '5 hours' WHERE id = ${queued.id}::uuid`;
    await core.lifecycle.monitor();
    expect((await t.db.trainerJob.findUniqueOrThrow({ where: { id: queued.id } })).state).toBe("queued");
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).not.toBe("failed");

    // Seven: the job fails, nothing stays reserved, and the person hears why.
    await t.db
      .$executeRaw`UPDATE "TrainerJob" SET "updatedAt" = now() - interval '7 hours' WHERE id = ${queued.id}::uuid`;
    await core.lifecycle.monitor();
    const row = await t.db.trainerJob.findUniqueOrThrow({ where: { id: queued.id } });
    expect(row.state).toBe("failed");
    expect(row.error).toMatch(/no trainer worker took the job within 6 hours/);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("failed");
    expect((await core.budgets.spend()).total.trainingReservedUsd).toBe(0);
    expect(notifier.dms.at(-1)!.text).toMatch(
      /training failed: .*no trainer worker took the job within 6 hours/,
    );

    // A worker that comes up later finds nothing to claim (its claim query, job_queue.py).
    const claimed = await t.db.$queryRaw<Array<{ id: string }>>`
      UPDATE "TrainerJob" SET state = 'running', attempts = attempts + 1
      WHERE id = (SELECT id FROM "TrainerJob" WHERE state = 'queued' AND NOT "cancelRequested"
                  AND attempts < "maxAttempts" ORDER BY "createdAt" LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    expect(claimed).toEqual([]);
  });

  it("a launch resumed after a crash finds the row it queued instead of queueing a second", async () => {
    const core = build();
    await offerAndApprove(core);
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    const first = await t.db.trainerJob.findFirstOrThrow();
    // The process died after the INSERT, before it recorded the provider's id.
    await t.db.fineTuneJob.update({
      where: { id: job.id },
      data: { state: "creating", providerJobId: null, updatedAt: new Date(0) },
    });
    await core.lifecycle.monitor();
    const resumed = await t.db.fineTuneJob.findUniqueOrThrow({ where: { id: job.id } });
    expect(resumed.state).toBe("running");
    expect(resumed.providerJobId).toBe(first.id);
    expect(await t.db.trainerJob.count()).toBe(1);

    // The provider itself: createJob again for the same bot job is the same row (ON CONFLICT).
    const provider = core.fineTuneProvider!;
    const again = await provider.createJob({
      baseModel: BASE,
      trainingFile: job.providerFileId!,
      ...(job.providerValidationFileId ? { validationFile: job.providerValidationFileId } : {}),
      epochs: 3,
      suffix: "u0",
      jobId: job.id,
    });
    expect(again.providerJobId).toBe(first.id);
    expect(await t.db.trainerJob.count()).toBe(1);
  });

  it("maps every state, reports the validation loss and the worker's reason, and cancels as the contract says", async () => {
    const core = build();
    await offerAndApprove(core);
    const provider = core.fineTuneProvider!;
    const row = await t.db.trainerJob.findFirstOrThrow();
    expect(await provider.getJob(row.id)).toEqual({ providerJobId: row.id, status: "queued" });
    await workerClaims(row.id);
    expect(await provider.getJob(row.id)).toMatchObject({ status: "running" });

    // Cancelling a running job asks its worker (next heartbeat); the row stays running until then.
    await provider.cancelJob(row.id);
    expect(await t.db.trainerJob.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({
      state: "running",
      cancelRequested: true,
    });
    await t.db.$executeRaw`
      UPDATE "TrainerJob" SET state = 'cancelled', "finishedAt" = now(), error = 'cancelled at step 4',
        progress = '{"step": 4, "totalSteps": 9, "loss": 1.1, "evalLoss": 1.3}'
      WHERE id = ${row.id}::uuid`;
    expect(await provider.getJob(row.id)).toEqual({
      providerJobId: row.id,
      status: "cancelled",
      validationLoss: 1.3,
      error: "cancelled at step 4",
    });
    // A finished job is left as it is.
    await provider.cancelJob(row.id);
    expect((await t.db.trainerJob.findUniqueOrThrow({ where: { id: row.id } })).state).toBe("cancelled");
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("cancelled");
    expect(notifier.dms.at(-1)!.text).toMatch(/cancelled/);

    // A queued job is cancelled at once.
    await t.db
      .$executeRaw`UPDATE "TrainerJob" SET state = 'queued', "cancelRequested" = false, "finishedAt" = NULL WHERE id = ${row.id}::uuid`;
    await provider.cancelJob(row.id);
    const cancelled = await t.db.trainerJob.findUniqueOrThrow({ where: { id: row.id } });
    expect(cancelled.state).toBe("cancelled");
    expect(cancelled.finishedAt).not.toBeNull();

    await t.db
      .$executeRaw`UPDATE "TrainerJob" SET state = 'failed', error = 'line 3 is not chat JSONL' WHERE id = ${row.id}::uuid`;
    expect(await provider.getJob(row.id)).toMatchObject({
      status: "failed",
      error: "line 3 is not chat JSONL",
    });

    // A row that is gone (its person forgotten) is a 404, which the deletion queue counts as done.
    const missing = "00000000-0000-4000-8000-000000000000";
    await expect(provider.getJob(missing)).rejects.toMatchObject({ status: 404 });
    await expect(provider.getJob("not-a-uuid")).rejects.toMatchObject({ status: 404 });
  });

  it("refuses to queue anything but the job's own dataset, and deletes only adapter directories", async () => {
    const core = build();
    await offerAndApprove(core);
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    const provider = createSelfHostedFineTuneProvider({
      db: t.db,
      loraRank: 16,
      loraAlpha: 32,
      gpuUsdPerHour: 0,
      adapterDir,
    });
    const base = { baseModel: BASE, epochs: 3, suffix: "u0" };
    const forged = datasetReference(`ft-${job.id}-train.jsonl`, '{"messages":[]}\n');
    const refusal = provider.createJob({ ...base, trainingFile: forged, jobId: job.id });
    await expect(refusal).rejects.toBeInstanceOf(ProviderError);
    await expect(refusal).rejects.toMatchObject({ status: 400, retryable: false });
    await expect(provider.createJob({ ...base, trainingFile: job.providerFileId! })).rejects.toMatchObject({
      status: 400,
    });
    expect(await t.db.trainerJob.count()).toBe(1);

    const id = (await t.db.trainerJob.findFirstOrThrow()).id;
    await mkdir(join(adapterDir, id), { recursive: true });
    await writeFile(join(adapterDir, "keep.txt"), "x");
    await provider.deleteModel("../keep.txt");
    await provider.deleteModel(id);
    await provider.deleteModel(id); // gone already: still fine
    await expect(stat(join(adapterDir, id))).rejects.toMatchObject({ code: "ENOENT" });
    expect((await stat(join(adapterDir, "keep.txt"))).isFile()).toBe(true);
  });

  it("needs LORA_SERVER_URL: nothing else can load the trainer's adapters", () => {
    expect(() =>
      loadConfig({
        OPENAI_API_KEY: "k",
        FINETUNE_PROVIDER: "self-hosted",
        // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
        CANARY_SHARE: "0",
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
      }),
    ).toThrow(/LORA_SERVER_URL/);
  });
});
