// The fine-tuning providers against their emulators: OpenAI and Vertex through the real SDKs (openai 6,
// @google/genai 2) and plain HTTP to the Cloud Storage emulator, Together through its REST API. One
// behaviour suite for the FineTuneProvider port, then what is specific to each provider.
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { countJsonlTokens, type FineTuneProviderName } from "../src/core/fine-tune/cost-estimate.ts";
import { buildDataset, type DatasetSource } from "../src/core/fine-tune/dataset.ts";
import { type FineTuneProvider, type FineTuneStatus, ProviderError } from "../src/core/ports.ts";
import { createPrivacyFilter } from "../src/core/privacy-filter.ts";
import { createOpenAIFineTuneProvider } from "../src/core/providers/openai-fine-tune.ts";
import { createSelfHostedFineTuneProvider } from "../src/core/providers/self-hosted-fine-tune.ts";
import { createTogetherFineTuneProvider } from "../src/core/providers/together-fine-tune.ts";
import { createVertexFineTuneProvider } from "../src/core/providers/vertex-fine-tune.ts";
import { withRetry } from "../src/core/retry.ts";
import { type GcsEmulator, startGcsEmulator } from "./emulators/google/gcs.ts";
import { type GeminiEmulator, startGeminiEmulator } from "./emulators/google/gemini.ts";
import { offlineVertexAuth } from "./emulators/google/vertex-auth.ts";
import type { FailOptions } from "./emulators/http-recorder.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { checkTogetherJsonl } from "./emulators/together/data.ts";
import { startTogetherEmulator, type TogetherEmulator } from "./emulators/together/index.ts";
import { createTestDatabase } from "./support/database.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

interface Harness {
  provider: FineTuneProvider;
  baseModel: string;
  /** The statuses a successful job goes through, as the provider maps them, from creation on. */
  statuses: FineTuneStatus[];
  /** What the provider bills for a job on these files (validation evaluated once, where billed). */
  billedTokens(train: string, validation: string, epochs: number): number;
  /** How the provider words the failure of a job whose file has fewer than minExamples examples. */
  tooFew: RegExp;
  /** A valid training file in the provider's format with `n` examples. */
  jsonl(n: number): string;
  /** Bytes the emulator stored for an uploaded file id / gs:// URI. */
  stored(fileId: string): Buffer | undefined;
  tick(): boolean;
  runJobs(): void;
  failNextJob(message: string): void;
  /** Faults on the API that runs jobs. */
  failApi(n: number, options: FailOptions): void;
  /** Faults on the API that stores files. */
  failStorage(n: number, options: FailOptions): void;
  /** How the emulator recorded the job's training/validation files and display suffix. */
  jobFiles(jobId: string): { training: string; validation: string | null };
}

function examples(n: number, provider: FineTuneProviderName): string {
  const sources: DatasetSource[] = Array.from({ length: n }, (_, i) => ({
    id: BigInt(i + 1),
    userText: `How do I say "thank you" in language number ${i + 1}? (ünïcödé ✓)`,
    replyText: `In language ${i + 1} you say it like this — and smile while you do.`,
    status: "answered",
    rating: null,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
  }));
  return buildDataset(sources, {
    provider,
    systemPrompt: "Be brief.",
    minReplyChars: 10,
    privacy: createPrivacyFilter(),
    minForValidation: Number.POSITIVE_INFINITY,
  }).trainJsonl;
}

async function openaiHarness(): Promise<Harness & { emu: OpenAIEmulator }> {
  const emu = await startOpenAIEmulator({ apiKey: "sk-test" });
  closers.push(() => emu.close());
  const provider = createOpenAIFineTuneProvider({ apiKey: "sk-test", baseUrl: `${emu.url}/v1` });
  return {
    emu,
    provider,
    baseModel: "gpt-4.1-mini",
    statuses: ["validating", "queued", "running", "succeeded"],
    billedTokens: (train, _validation, epochs) => countJsonlTokens(train, "openai") * epochs,
    tooFew: /at least 10 examples/,
    jsonl: (n) => examples(n, "openai"),
    stored: (id) => emu.files.get(id)?.bytes,
    tick: () => emu.tick(),
    runJobs: () => emu.runJobs(),
    failNextJob: (message) => emu.failNextJob(message),
    failApi: (n, options) => emu.failNext(n, { match: "/fine_tuning/", ...options }),
    failStorage: (n, options) => emu.failNext(n, { match: "/files", ...options }),
    jobFiles: (id) => {
      const job = emu.fineTuning.get(id);
      return { training: job.training_file, validation: job.validation_file };
    },
  };
}

async function vertexHarness(): Promise<Harness & { emu: GeminiEmulator; storage: GcsEmulator }> {
  const storage = await startGcsEmulator();
  closers.push(() => storage.close());
  const emu = await startGeminiEmulator({ gcs: storage });
  closers.push(() => emu.close());
  const provider = createVertexFineTuneProvider({
    project: "test-project",
    location: "europe-west4",
    bucket: "tuning-data",
    baseUrl: emu.url,
    gcsBaseUrl: storage.url,
    googleAuthOptions: offlineVertexAuth("vertex-test-token"),
  });
  return {
    emu,
    storage,
    provider,
    baseModel: "gemini-2.5-flash",
    statuses: ["validating", "running", "succeeded"],
    billedTokens: (train, _validation, epochs) => countJsonlTokens(train, "vertex") * epochs,
    tooFew: /16/,
    jsonl: (n) => examples(n, "vertex"),
    stored: (uri) => storage.readGsUri(uri)?.bytes,
    tick: () => emu.tick(),
    runJobs: () => emu.runJobs(),
    failNextJob: (message) => emu.failNextJob(message),
    failApi: (n, options) => emu.failNext(n, { match: "/tuningJobs", ...options }),
    failStorage: (n, options) => storage.failNext(n, options),
    jobFiles: (name) => {
      const spec = emu.tuning.get(name.split("/").at(-1)!).supervisedTuningSpec;
      return { training: spec.trainingDatasetUri, validation: spec.validationDatasetUri ?? null };
    },
  };
}

async function togetherHarness(): Promise<Harness & { emu: TogetherEmulator }> {
  const emu = await startTogetherEmulator({ apiKey: "tg-test" });
  closers.push(() => emu.close());
  const provider = createTogetherFineTuneProvider({ apiKey: "tg-test", baseUrl: `${emu.url}/v1` });
  const tokens = (jsonl: string) => checkTogetherJsonl(Buffer.from(jsonl)).tokens;
  return {
    emu,
    provider,
    baseModel: "Qwen/Qwen3-8B",
    // pending and queued both read as "queued"; running, compressing and uploading as "running".
    statuses: ["queued", "running", "succeeded"],
    // Together counts with the base model's tokenizer (the emulator's stand-in, not our o200k
    // estimate) and bills each evaluation on the validation file too.
    billedTokens: (train, validation, epochs) => tokens(train) * epochs + tokens(validation),
    tooFew: /File is empty/,
    jsonl: (n) => examples(n, "together"),
    stored: (id) => (emu.files.files.has(id) ? emu.files.get(id).bytes : undefined),
    tick: () => emu.tick(),
    runJobs: () => emu.runJobs(),
    failNextJob: (message) => emu.failNextJob(message),
    failApi: (n, options) => emu.failNext(n, { match: "/fine-tunes", ...options }),
    failStorage: (n, options) => emu.failNext(n, { match: "/files", ...options }),
    jobFiles: (id) => {
      const job = emu.fineTunes.records.get(id)!;
      return { training: job.trainingFile, validation: job.validationFile };
    },
  };
}

const harnesses: Array<[string, () => Promise<Harness>]> = [
  ["openai", openaiHarness],
  ["vertex", vertexHarness],
  ["together", togetherHarness],
];

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe.each(harnesses)("FineTuneProvider behaviour: %s", (name, start) => {
  it("uploads the exact bytes", async () => {
    const h = await start();
    const content = h.jsonl(h.provider.minExamples);
    const id = await h.provider.uploadFile({ filename: "user-1-train.jsonl", content });
    expect(h.stored(id)?.equals(Buffer.from(content, "utf8"))).toBe(true);
    if (name === "vertex") expect(id).toBe("gs://tuning-data/fine-tune/user-1-train.jsonl");
  });

  it("runs a job through its states to a tuned model", async () => {
    const h = await start();
    const content = h.jsonl(h.provider.minExamples);
    const validation = h.jsonl(3);
    const trainingFile = await h.provider.uploadFile({ filename: "train.jsonl", content });
    const validationFile = await h.provider.uploadFile({ filename: "valid.jsonl", content: validation });
    const created = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      validationFile,
      epochs: 2,
      suffix: "u-0a1b2c",
    });
    expect(created.status).toBe(h.statuses[0]);
    expect(created.fineTunedModel).toBeUndefined();
    expect(h.jobFiles(created.providerJobId)).toEqual({ training: trainingFile, validation: validationFile });

    const statuses: FineTuneStatus[] = [created.status];
    while (h.tick()) {
      const job = await h.provider.getJob(created.providerJobId);
      if (job.status !== statuses.at(-1)) statuses.push(job.status);
    }
    expect(statuses).toEqual(h.statuses);
    const done = await h.provider.getJob(created.providerJobId);
    expect(done.fineTunedModel).toBeTruthy();
    expect(done.error).toBeUndefined();
    expect(done.trainedTokens).toBe(h.billedTokens(content, validation, 2));
  });

  it("reports the provider's reason when a job fails", async () => {
    const h = await start();
    const trainingFile = await h.provider.uploadFile({
      filename: "train.jsonl",
      content: h.jsonl(h.provider.minExamples),
    });
    h.failNextJob("Training diverged: the loss became NaN at step 12.");
    const job = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    h.runJobs();
    const failed = await h.provider.getJob(job.providerJobId);
    expect(failed).toMatchObject({
      status: "failed",
      error: "Training diverged: the loss became NaN at step 12.",
    });
    expect(failed.fineTunedModel).toBeUndefined();
  });

  it("fails a job whose file has too few examples, with the provider's message", async () => {
    const h = await start();
    const trainingFile = await h.provider.uploadFile({
      filename: "train.jsonl",
      content: h.jsonl(h.provider.minExamples - 1),
    });
    const job = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    h.runJobs();
    const failed = await h.provider.getJob(job.providerJobId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(h.tooFew);
  });

  it("cancels a job, idempotently, but not one that already finished", async () => {
    const h = await start();
    const trainingFile = await h.provider.uploadFile({
      filename: "train.jsonl",
      content: h.jsonl(h.provider.minExamples),
    });
    const job = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    h.tick();
    await h.provider.cancelJob(job.providerJobId);
    await h.provider.cancelJob(job.providerJobId);
    h.runJobs();
    expect((await h.provider.getJob(job.providerJobId)).status).toBe("cancelled");

    const other = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      epochs: 1,
      suffix: "u-2",
    });
    h.runJobs();
    expect((await h.provider.getJob(other.providerJobId)).status).toBe("succeeded");
    const error = await rejection(h.provider.cancelJob(other.providerJobId));
    expect(error.status).toBe(400);
    expect(error.retryable).toBe(false);
  });

  it("surfaces 429 and 500 as retryable ProviderErrors, with retry-after", async () => {
    const h = await start();
    const trainingFile = await h.provider.uploadFile({
      filename: "train.jsonl",
      content: h.jsonl(h.provider.minExamples),
    });
    const job = await h.provider.createJob({
      baseModel: h.baseModel,
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });

    h.failApi(1, { status: 429, retryAfter: 7 });
    const limited = await rejection(h.provider.getJob(job.providerJobId));
    expect(limited).toMatchObject({ status: 429, retryAfterMs: 7_000 });
    expect(limited.retryable).toBe(true);

    h.failApi(1, { status: 500 });
    const broken = await rejection(
      h.provider.createJob({ baseModel: h.baseModel, trainingFile, epochs: 1, suffix: "x" }),
    );
    expect(broken.status).toBe(500);
    expect(broken.retryable).toBe(true);

    h.failStorage(1, { status: 503 });
    const storage = await rejection(h.provider.uploadFile({ filename: "again.jsonl", content: h.jsonl(1) }));
    expect(storage.status).toBe(503);
    expect(storage.retryable).toBe(true);

    // The next call goes through: nothing was left half-done by the failures.
    expect((await h.provider.getJob(job.providerJobId)).status).toBe(h.statuses[0]);
  });

  it("maps client errors to non-retryable ProviderErrors", async () => {
    const h = await start();
    const unknown = {
      openai: "ftjob-doesnotexist",
      vertex: "projects/1/locations/europe-west4/tuningJobs/42",
      together: "ft-doesnotexist",
    }[name]!;
    const missing = await rejection(h.provider.getJob(unknown));
    expect(missing.status).toBe(404);
    expect(missing.retryable).toBe(false);
    const badModel = await rejection(
      h.provider.createJob({ baseModel: "not-a-model", trainingFile: "gs://x/y", epochs: 1, suffix: "s" }),
    );
    expect(badModel.status).toBe(400);
    expect(badModel.message).toMatch(/not-a-model/);
  });

  it("deletes uploaded files, and deleting again is not an error", async () => {
    const h = await start();
    const id = await h.provider.uploadFile({ filename: "train.jsonl", content: h.jsonl(2) });
    await h.provider.deleteFile(id);
    expect(h.stored(id)).toBeUndefined();
    await h.provider.deleteFile(id);
  });
});

describe("OpenAI fine-tune provider", () => {
  async function succeeded(h: Awaited<ReturnType<typeof openaiHarness>>, suffix: string) {
    const trainingFile = await h.provider.uploadFile({ filename: "train", content: h.jsonl(10) });
    const job = await h.provider.createJob({ baseModel: "gpt-4.1-mini", trainingFile, epochs: 1, suffix });
    h.runJobs();
    return h.provider.getJob(job.providerJobId);
  }

  it("reads a tuned model's shutdown date", async () => {
    const h = await openaiHarness();
    const job = await succeeded(h, "u-1");
    const model = job.fineTunedModel!;
    expect(await h.provider.modelShutdownDate(model)).toBeUndefined();
    h.emu.setShutdownDate(model, "2027-01-14");
    expect(await h.provider.modelShutdownDate(model)).toEqual(new Date("2027-01-14T00:00:00Z"));
    h.emu.setShutdownDate("gpt-4.1-mini", "2027-01-14T00:00:00Z");
    expect((await h.provider.modelShutdownDate("gpt-4.1-mini"))?.toISOString()).toBe(
      "2027-01-14T00:00:00.000Z",
    );
  });

  it("puts a safe suffix into the model name", async () => {
    const h = await openaiHarness();
    expect((await succeeded(h, "u-9f8e7d")).fineTunedModel).toMatch(
      /^ft:gpt-4\.1-mini-2025-04-14:emulator-org:u-9f8e7d:\w{8}$/,
    );
    // Colons would break the ft:base:org:suffix:id name; OpenAI caps the suffix at 64 characters.
    expect((await succeeded(h, " user:42 ädmin ")).fineTunedModel).toMatch(
      /:emulator-org:user-42-dmin:\w{8}$/,
    );
    const long = await succeeded(h, "x".repeat(80));
    expect(long.fineTunedModel).toContain(`:${"x".repeat(64)}:`);
    expect((await succeeded(h, "::")).fineTunedModel).toMatch(/:emulator-org::\w{8}$/);
    expect(h.emu.fineTuning.list(undefined, 10).data.map((j) => j.user_provided_suffix)).toEqual([
      null,
      "x".repeat(64),
      "user-42-dmin",
      "u-9f8e7d",
    ]);
  });

  it("sends the epochs as supervised hyperparameters and names files .jsonl", async () => {
    const h = await openaiHarness();
    const trainingFile = await h.provider.uploadFile({ filename: "train", content: h.jsonl(10) });
    expect(h.emu.files.get(trainingFile)?.filename).toBe("train.jsonl");
    await h.provider.createJob({ baseModel: "gpt-4.1-mini", trainingFile, epochs: 3, suffix: "s" });
    expect(h.emu.requests.at(-1)?.body).toMatchObject({
      model: "gpt-4.1-mini",
      training_file: trainingFile,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 3 } } },
    });
    expect(h.emu.requests.at(-1)?.body).not.toHaveProperty("validation_file");
  });

  it("deletes a tuned model, idempotently", async () => {
    const h = await openaiHarness();
    const model = (await succeeded(h, "u-1")).fineTunedModel!;
    await h.provider.deleteModel(model);
    expect(h.emu.models.has(model)).toBe(false);
    await h.provider.deleteModel(model);
  });

  it("turns a refused key and an unreachable server into ProviderErrors", async () => {
    const h = await openaiHarness();
    const wrongKey = createOpenAIFineTuneProvider({ apiKey: "sk-wrong", baseUrl: `${h.emu.url}/v1` });
    const denied = await rejection(wrongKey.getJob("ftjob-x"));
    expect(denied).toMatchObject({ status: 401, code: "invalid_api_key" });
    expect(denied.retryable).toBe(false);

    const gone = createOpenAIFineTuneProvider({ apiKey: "sk-test", baseUrl: "http://127.0.0.1:9/v1" });
    const offline = await rejection(gone.getJob("ftjob-x"));
    expect(offline.status).toBeUndefined();
    expect(offline.retryable).toBe(true);
  });

  it("needs at least 10 examples", async () => {
    const h = await openaiHarness();
    expect(h.provider).toMatchObject({ name: "openai", minExamples: 10 });
  });
});

describe("Vertex fine-tune provider", () => {
  it("uses the suffix as display name, the endpoint as model, and bearer auth everywhere", async () => {
    const h = await vertexHarness();
    const content = h.jsonl(16);
    const trainingFile = await h.provider.uploadFile({ filename: "u-1/train.jsonl", content });
    expect(trainingFile).toBe("gs://tuning-data/fine-tune/u-1/train.jsonl");
    const upload = h.storage.requests.at(-1)!;
    expect(upload.headers.authorization).toBe("Bearer vertex-test-token");
    expect(upload.query).toMatchObject({ uploadType: "media", name: "fine-tune/u-1/train.jsonl" });

    const job = await h.provider.createJob({
      baseModel: "gemini-2.5-flash",
      trainingFile,
      epochs: 3,
      suffix: "u-1a2b",
    });
    expect(job.providerJobId).toMatch(
      /^projects\/123456789012\/locations\/europe-west4\/tuningJobs\/\d{19}$/,
    );
    const create = h.emu.requests.at(-1)!;
    expect(create.path).toBe("/v1beta1/projects/test-project/locations/europe-west4/tuningJobs");
    expect(create.headers.authorization).toBe("Bearer vertex-test-token");
    expect(create.body).toMatchObject({
      baseModel: "gemini-2.5-flash",
      tunedModelDisplayName: "u-1a2b",
      supervisedTuningSpec: { trainingDatasetUri: trainingFile, hyperParameters: { epochCount: 3 } },
    });
    h.runJobs();
    const done = await h.provider.getJob(job.providerJobId);
    expect(done.fineTunedModel).toMatch(/^projects\/123456789012\/locations\/europe-west4\/endpoints\/\d+$/);
    expect(done.trainedTokens).toBe(countJsonlTokens(content, "vertex") * 3);
    expect(await h.provider.modelShutdownDate(done.fineTunedModel!)).toBeUndefined();
    // No validation dataset, so no loss to look for: the experiment is not read.
    expect(done.validationLoss).toBeUndefined();
    expect(
      h.emu.requests.filter((r) => r.path.includes("/tensorboards/") || r.path.includes("/contexts/")),
    ).toEqual([]);
  });

  it("refuses to delete tuned models, without inviting retries", async () => {
    const h = await vertexHarness();
    const error = await rejection(h.provider.deleteModel("projects/1/locations/europe-west4/endpoints/2"));
    expect(error.code).toBe("unsupported");
    expect(error.retryable).toBe(false);
    expect(h.provider).toMatchObject({ name: "vertex", minExamples: 16 });
  });

  it("reports Google's error status and message", async () => {
    const h = await vertexHarness();
    h.failApi(1, { status: 429 });
    const error = await rejection(h.provider.getJob("projects/1/locations/europe-west4/tuningJobs/1"));
    expect(error).toMatchObject({
      status: 429,
      code: "RESOURCE_EXHAUSTED",
      message: "Resource has been exhausted (e.g. check quota).",
    });
  });
});

describe("Together fine-tune provider", () => {
  async function started(options: Parameters<typeof startTogetherEmulator>[0] = {}) {
    const emu = await startTogetherEmulator({ apiKey: "tg-test", ...options });
    closers.push(() => emu.close());
    const make = () =>
      createTogetherFineTuneProvider({ apiKey: "tg-test", baseUrl: `${emu.url}/v1`, loraRank: 8 });
    return { emu, provider: make(), make };
  }
  const jsonl = (n: number) => examples(n, "together");
  const posts = (emu: TogetherEmulator, path: string) =>
    emu.requests.filter((r) => r.method === "POST" && r.path === path);

  it("uploads multipart and creates a LoRA SFT job with the configured rank, the epochs and a safe suffix", async () => {
    const { emu, provider } = await started();
    const trainingFile = await provider.uploadFile({ filename: "u-1-train", content: jsonl(5) });
    expect(emu.files.get(trainingFile)).toMatchObject({ filename: "u-1-train.jsonl", purpose: "fine-tune" });
    await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 3,
      suffix: " user:42 ädmin ",
    });
    expect(posts(emu, "/v1/fine-tunes")[0]!.body).toEqual({
      model: "Qwen/Qwen3-8B",
      training_file: trainingFile,
      n_evals: 0,
      n_epochs: 3,
      suffix: "user-42-dmin",
      training_type: { type: "Lora", lora_r: 8, lora_alpha: 16 },
      training_method: { method: "sft", train_on_inputs: "auto" },
    });
    const long = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 1,
      suffix: "u".repeat(60),
    });
    expect([...emu.fineTunes.records.values()].map((r) => r.suffix)).toEqual([
      "user-42-dmin",
      "u".repeat(40),
    ]);
    expect(long.status).toBe("queued");
    expect(provider).toMatchObject({ name: "together", minExamples: 1 });
    expect(await provider.modelShutdownDate("anything")).toBeUndefined();
  });

  it("writes training files that the official SDK's own checker accepts", async () => {
    const { checkFile } = createRequire(import.meta.url)("together-ai/lib/check-file") as {
      checkFile(path: string, purpose: string): Promise<{ is_check_passed: boolean; message: string }>;
    };
    const dir = await mkdtemp(join(tmpdir(), "together-check-"));
    try {
      for (const [name, content] of [
        ["train.jsonl", jsonl(12)],
        ["empty-system.jsonl", examplesWithoutSystem(3)],
      ]) {
        await writeFile(join(dir, name!), content!);
        expect(await checkFile(join(dir, name!), "fine-tune")).toMatchObject({ is_check_passed: true });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("resumes after a crash between upload and create without a second upload or job", async () => {
    const { emu, provider, make } = await started();
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: jsonl(5) });
    emu.failNext(1, { status: 500, match: "/v1/fine-tunes" });
    const lost = await rejection(
      provider.createJob({ baseModel: "Qwen/Qwen3-8B", trainingFile, epochs: 1, suffix: "u-1" }),
    );
    expect(lost.retryable).toBe(true);
    expect(emu.fineTunes.records.size).toBe(0);
    // A new process picks up the recorded file id: the file is still there, nothing is uploaded again.
    const job = await make().createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    expect(emu.fineTunes.records.size).toBe(1);
    expect(posts(emu, "/v1/files/upload")).toHaveLength(1);
    expect(posts(emu, "/v1/fine-tunes")).toHaveLength(2);
    expect(emu.fineTunes.records.get(job.providerJobId)?.trainingFile).toBe(trainingFile);
  });

  it("finds the job a crashed launch created, by its training file, instead of creating another", async () => {
    const { emu, provider, make } = await started();
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: jsonl(5) });
    const other = await provider.uploadFile({ filename: "other.jsonl", content: jsonl(2) });
    await provider.createJob({ baseModel: "Qwen/Qwen3-8B", trainingFile: other, epochs: 1, suffix: "u-2" });
    const created = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    const found = await make().findJobByTrainingFile!(trainingFile);
    expect(found).toEqual(created);
    expect(await make().findJobByTrainingFile!("file-never-used")).toBeUndefined();
    expect(emu.fineTunes.records.size).toBe(2);
    // Two jobs on one file (a retry after a lost response): the newest is the one to follow.
    const again = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 2,
      suffix: "u-1",
    });
    expect((await provider.findJobByTrainingFile!(trainingFile))?.providerJobId).toBe(again.providerJobId);
  });

  it("maps every Together status, with the tuned model, billed tokens and price, and the validation loss", async () => {
    const { emu, provider } = await started();
    const train = jsonl(16);
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: train });
    const validationFile = await provider.uploadFile({ filename: "valid.jsonl", content: jsonl(3) });
    const job = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      validationFile,
      epochs: 2,
      suffix: "u-1",
    });
    const record = emu.fineTunes.records.get(job.providerJobId)!;
    const seen: Array<[string, string]> = [[record.status, job.status]];
    while (emu.tick()) {
      const info = await provider.getJob(job.providerJobId);
      if (record.status !== seen.at(-1)![0]) seen.push([record.status, info.status]);
    }
    expect(seen).toEqual([
      ["pending", "queued"],
      ["queued", "queued"],
      ["running", "running"],
      ["compressing", "running"],
      ["uploading", "running"],
      ["completed", "succeeded"],
    ]);
    const done = await provider.getJob(job.providerJobId);
    const lastEval = record.metrics.filter((m) => "eval/loss" in m).at(-1)!["eval/loss"];
    expect(done).toEqual({
      providerJobId: job.providerJobId,
      status: "succeeded",
      fineTunedModel: record.modelOutputName,
      trainedTokens: record.tokenCount,
      billedUsd: record.totalPriceNano! / 1e9,
      validationLoss: lastEval,
      // The adapter Together registered for the job: what a dedicated deployment attaches.
      adapter: { id: record.adapterObjectId, name: record.adapterObjectName },
    });
    expect(posts(emu, "/v1/fine-tunes")[0]!.body).toMatchObject({
      validation_file: validationFile,
      n_evals: 1,
    });

    const cancelled = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 3,
      suffix: "u-2",
    });
    emu.tick();
    emu.tick();
    emu.tick();
    await provider.cancelJob(cancelled.providerJobId);
    expect((await provider.getJob(cancelled.providerJobId)).status).toBe("running");
    emu.runJobs();
    const stopped = await provider.getJob(cancelled.providerJobId);
    const perEpoch = checkTogetherJsonl(Buffer.from(train)).tokens;
    expect(stopped).toMatchObject({ status: "cancelled", trainedTokens: perEpoch });
    expect(stopped.fineTunedModel).toBeUndefined();

    emu.failNextJob("Loss diverged to NaN at step 9.");
    const failing = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 1,
      suffix: "u-3",
    });
    emu.runJobs();
    expect(await provider.getJob(failing.providerJobId)).toEqual({
      providerJobId: failing.providerJobId,
      status: "failed",
      error: "Loss diverged to NaN at step 9.",
    });
  });

  it("quotes Together's own price, which the bill then matches, near our own o200k count", async () => {
    const { emu, provider } = await started();
    const train = jsonl(40);
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: train });
    const quote = await provider.quotePrice!({ baseModel: "Qwen/Qwen3-8B", trainingFile, epochs: 3 });
    const ours = countJsonlTokens(train, "together") * 3;
    expect(quote.tokens).not.toBe(ours);
    expect(Math.abs(quote.tokens! - ours) / quote.tokens!).toBeLessThan(0.15);
    expect(quote).toMatchObject({ allowedToProceed: true });
    expect(posts(emu, "/v1/fine-tunes/estimate-price")[0]!.body).toMatchObject({
      training_file: trainingFile,
      model: "Qwen/Qwen3-8B",
      n_epochs: 3,
      training_type: { type: "Lora", lora_r: 8, lora_alpha: 16 },
    });
    const job = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 3,
      suffix: "u-1",
    });
    emu.runJobs();
    const done = await provider.getJob(job.providerJobId);
    expect(done.trainedTokens).toBe(quote.tokens);
    expect(done.billedUsd).toBeCloseTo(quote.usd, 9);
  });

  it("asks for the quote again while Together validates the file, and refuses an invalid file with its reason", async () => {
    const { emu, provider } = await started({ validationMs: 10_000 });
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: jsonl(4) });
    const early = await rejection(
      provider.quotePrice!({ baseModel: "Qwen/Qwen3-8B", trainingFile, epochs: 1 }),
    );
    expect(early).toMatchObject({ status: 503, code: "train_file_not_validated", retryAfterMs: 5_000 });
    expect(early.retryable).toBe(true);
    const waits: number[] = [];
    const quote = await withRetry(
      () => provider.quotePrice!({ baseModel: "Qwen/Qwen3-8B", trainingFile, epochs: 1 }),
      {
        attempts: 4,
        baseDelayMs: 1_000,
        maxDelayMs: 8_000,
        sleep: async (ms) => {
          waits.push(ms);
          emu.clock.advance(ms);
        },
      },
    );
    expect(waits).toEqual([5_000, 5_000]);
    expect(quote.usd).toBeGreaterThan(0);

    const bad = await provider.uploadFile({ filename: "bad.jsonl", content: '{"messages": []}\n' });
    emu.clock.advance(10_000);
    const refused = await rejection(
      provider.quotePrice!({ baseModel: "Qwen/Qwen3-8B", trainingFile: bad, epochs: 1 }),
    );
    expect(refused).toMatchObject({ status: 400, code: "train_file_invalid" });
    expect(refused.retryable).toBe(false);
    expect(refused.message).toMatch(/The `messages` column must not be empty/);
  });

  it("retries a 429 with Together's retry-after and a 5xx, and creates one job", async () => {
    const { emu, provider } = await started();
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: jsonl(4) });
    const waits: number[] = [];
    const policy = {
      attempts: 3,
      baseDelayMs: 200,
      maxDelayMs: 8_000,
      sleep: async (ms: number) => void waits.push(ms),
    };
    emu.failNext(1, { status: 429, retryAfter: 2, match: "/v1/fine-tunes" });
    emu.failNext(1, { status: 503, match: "/v1/fine-tunes" });
    const job = await withRetry(
      () => provider.createJob({ baseModel: "Qwen/Qwen3-8B", trainingFile, epochs: 1, suffix: "u-1" }),
      policy,
    );
    expect(waits).toEqual([2_000, 400]);
    expect(emu.fineTunes.records.size).toBe(1);
    emu.failNext(3, { status: 502, match: "/v1/fine-tunes/" });
    const gaveUp = await rejection(withRetry(() => provider.getJob(job.providerJobId), policy));
    expect(gaveUp).toMatchObject({ status: 502 });
  });

  it("deletes a tuned model with its job, idempotently, and files likewise", async () => {
    const { emu, provider } = await started();
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: jsonl(4) });
    const job = await provider.createJob({
      baseModel: "Qwen/Qwen3-8B",
      trainingFile,
      epochs: 1,
      suffix: "u-1",
    });
    emu.runJobs();
    const model = (await provider.getJob(job.providerJobId)).fineTunedModel!;
    await provider.deleteModel(model);
    expect(emu.fineTunes.records.size).toBe(0);
    await provider.deleteModel(model);
    expect(emu.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
    await provider.deleteFile(trainingFile);
    await provider.deleteFile(trainingFile);
    expect(emu.files.files.size).toBe(0);
  });

  it("turns a refused key and an unreachable server into ProviderErrors", async () => {
    const { emu } = await started();
    const wrongKey = createTogetherFineTuneProvider({ apiKey: "tg-wrong", baseUrl: `${emu.url}/v1` });
    const denied = await rejection(wrongKey.getJob("ft-x"));
    expect(denied).toMatchObject({ status: 401, code: "invalid_api_key" });
    expect(denied.retryable).toBe(false);
    const gone = createTogetherFineTuneProvider({ apiKey: "tg-test", baseUrl: "http://127.0.0.1:9/v1" });
    const offline = await rejection(gone.getJob("ft-x"));
    expect(offline.status).toBeUndefined();
    expect(offline.retryable).toBe(true);
  });
});

function examplesWithoutSystem(n: number): string {
  return buildDataset(
    Array.from({ length: n }, (_, i) => ({
      id: BigInt(i + 1),
      userText: `Question ${i}?`,
      replyText: `Answer number ${i}, in full.`,
      status: "answered",
      rating: null,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
    })),
    {
      provider: "together",
      systemPrompt: "",
      minReplyChars: 5,
      privacy: createPrivacyFilter(),
      minForValidation: Number.POSITIVE_INFINITY,
    },
  ).trainJsonl;
}

// The self-hosted provider has no HTTP API to emulate: its "server" is the TrainerJob table in the
// bot's own database, and its jobs are run by the trainer/ worker. The suite's behaviours that apply
// (states to a tuned model, the reason of a failure, cancellation, unknown ids) run here against the
// real migrations, with the worker's writes made by its own SQL (trainer/lora_trainer/job_queue.py);
// upload stores nothing (the dataset stays in the offer) and there are no rate limits to surface.
// test/self-hosted-fine-tune.test.ts covers the rest through the core; test/trainer-e2e/ the real worker.
describe("FineTuneProvider behaviour: self-hosted (the TrainerJob queue)", () => {
  async function selfHosted() {
    const t = await createTestDatabase();
    closers.push(() => t.close());
    const provider = createSelfHostedFineTuneProvider({
      db: t.db,
      loraRank: 8,
      loraAlpha: 16,
      gpuUsdPerHour: 3,
    });
    let n = 0;
    /** An approved offer and its job, as approval.ts leaves them, and the files "uploaded" for it. */
    async function approved(examplesCount: number) {
      const trainJsonl = examples(examplesCount, "self-hosted");
      const user = await t.db.user.create({ data: { platform: "discord", externalId: `discord:${++n}` } });
      const proposal = await t.db.fineTuneProposal.create({
        data: {
          userId: user.id,
          origin: "requested",
          provider: "self-hosted",
          baseModel: "tiny",
          examples: examplesCount,
          trainExamples: examplesCount,
          validationExamples: 0,
          tokens: 1,
          epochs: 2,
          redactions: 0,
          drops: {},
          estimatedCostUsd: "0",
          estimatedSeconds: 1,
          trainJsonl,
          datasetSha256: createHash("sha256").update(`${trainJsonl}\0`).digest("hex"),
          expiresAt: new Date(Date.now() + 3_600_000),
        },
      });
      const job = await t.db.fineTuneJob.create({
        data: {
          proposalId: proposal.id,
          userId: user.id,
          provider: "self-hosted",
          baseModel: "tiny",
          estimatedCostUsd: "0",
        },
      });
      const trainingFile = await provider.uploadFile({
        filename: `ft-${job.id}-train.jsonl`,
        content: trainJsonl,
      });
      return { jobId: job.id, trainingFile, trainJsonl, sha: proposal.datasetSha256 };
    }
    const create = (a: { jobId: string; trainingFile: string }) =>
      provider.createJob({ baseModel: "tiny", epochs: 2, suffix: "u-1", ...a });
    const worker = (id: string, set: string) =>
      t.db.$executeRawUnsafe(`UPDATE "TrainerJob" SET ${set} WHERE id = $1::uuid`, id);
    const claim = (id: string) =>
      worker(
        id,
        `state = 'running', attempts = attempts + 1, "claimToken" = gen_random_uuid(), "heartbeatAt" = now(),
         "leaseExpiresAt" = now() + interval '1 minute', "startedAt" = now() - interval '20 minutes'`,
      );
    return { t, provider, approved, create, worker, claim };
  }

  it("runs a job through its states to a tuned model: the adapter, priced by its GPU time", async () => {
    const h = await selfHosted();
    const a = await h.approved(12);
    const created = await h.create(a);
    expect(created).toEqual({ providerJobId: expect.any(String), status: "queued" });
    const row = await h.t.db.trainerJob.findUniqueOrThrow({ where: { id: created.providerJobId } });
    expect(row).toMatchObject({
      fineTuneJobId: a.jobId,
      trainJsonl: a.trainJsonl,
      validationJsonl: null,
      datasetSha256: a.sha,
      hyperparameters: { epochs: 2, loraR: 8, loraAlpha: 16 },
    });
    await h.claim(row.id);
    expect((await h.provider.getJob(row.id)).status).toBe("running");
    await h.worker(
      row.id,
      `state = 'succeeded', "finishedAt" = "startedAt" + interval '20 minutes', "adapterPath" = '/adapters/' || id,
       progress = '{"step": 6, "totalSteps": 6, "loss": 0.5, "evalLoss": 0.7}'`,
    );
    expect(await h.provider.getJob(row.id)).toEqual({
      providerJobId: row.id,
      status: "succeeded",
      fineTunedModel: row.id,
      validationLoss: 0.7,
      billedUsd: 1, // 20 minutes at $3 an hour
    });
  });

  it("reports the worker's reason when a job fails", async () => {
    const h = await selfHosted();
    const job = await h.create(await h.approved(10));
    await h.claim(job.providerJobId);
    await h.worker(
      job.providerJobId,
      `state = 'failed', "finishedAt" = now(), error = 'gave up after 3 attempts: CUDA out of memory'`,
    );
    const failed = await h.provider.getJob(job.providerJobId);
    expect(failed).toMatchObject({ status: "failed", error: "gave up after 3 attempts: CUDA out of memory" });
    expect(failed.fineTunedModel).toBeUndefined();
  });

  it("cancels a job, idempotently, but not one that already finished", async () => {
    const h = await selfHosted();
    const queued = await h.create(await h.approved(10));
    await h.provider.cancelJob(queued.providerJobId);
    await h.provider.cancelJob(queued.providerJobId);
    expect((await h.provider.getJob(queued.providerJobId)).status).toBe("cancelled");

    const done = await h.create(await h.approved(10));
    await h.claim(done.providerJobId);
    await h.worker(done.providerJobId, `state = 'succeeded', "finishedAt" = now()`);
    await h.provider.cancelJob(done.providerJobId);
    const row = await h.t.db.trainerJob.findUniqueOrThrow({ where: { id: done.providerJobId } });
    expect(row).toMatchObject({ state: "succeeded", cancelRequested: false });
  });

  it("maps unknown jobs and files to non-retryable ProviderErrors", async () => {
    const h = await selfHosted();
    const missing = await rejection(h.provider.getJob("00000000-0000-4000-8000-000000000001"));
    expect(missing.status).toBe(404);
    expect(missing.retryable).toBe(false);
    const a = await h.approved(10);
    const badFile = await rejection(h.create({ jobId: a.jobId, trainingFile: "gs://x/y" }));
    expect(badFile.status).toBe(400);
    expect(badFile.retryable).toBe(false);
    expect(await h.t.db.trainerJob.count()).toBe(0);
  });
});
