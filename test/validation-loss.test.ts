// The provider's held-out (validation) loss is kept on each version, and a version whose loss is
// worse than the previous version's is flagged in its DM and in /assistant models. OpenAI reports
// it in the job's checkpoints' metrics (full_valid_loss); the emulator's loss falls with the epochs,
// so a second training with fewer epochs ends worse.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { type GcsEmulator, startGcsEmulator } from "./emulators/google/gcs.ts";
import { type GeminiEmulator, startGeminiEmulator } from "./emulators/google/gemini.ts";
import { offlineVertexAuth } from "./emulators/google/vertex-auth.ts";
import { emulatedLosses } from "./emulators/google/vertex-experiments.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { rateReplies } from "./support/rate-replies.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

type Person = { externalId: string; platform: "discord" };

/** Twenty rated replies, the offer, its approval, the provider's job run to its end: the ready DM. */
async function trainOnce(
  core: ReturnType<typeof createCore>,
  notifier: RecordingNotifier,
  runJobs: () => void,
  u: Person,
  topic: string,
): Promise<string> {
  // 20 examples or more: the dataset is split 90/10 and the job gets a validation file.
  await rateReplies(core.assistant, u, 20, (i, n) => `Question ${n} about ${topic} ${i}`);
  await core.lifecycle.readiness();
  const prompt = notifier.prompts.at(-1)!.prompt;
  await core.assistant.approvalClick({ user: u, proposalId: prompt.proposalId, action: "approve" });
  runJobs();
  await core.lifecycle.monitor();
  return notifier.dms.at(-1)!.text;
}

describe("validation loss from the provider", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let notifier: RecordingNotifier;
  const clock = new TestClock();

  beforeEach(async () => {
    t = await createTestDatabase();
    emu = await startOpenAIEmulator();
    notifier = new RecordingNotifier();
  });
  afterEach(async () => {
    await emu.close();
    await t.close();
  });

  const build = (epochs: string) =>
    createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${emu.url}/v1`,
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_THRESHOLD: "20",
        FINETUNE_PROVIDER: "openai",
        FINETUNE_PLATFORMS: "discord",
        FINETUNE_MIN_REPLY_CHARS: "5",
        FINETUNE_EPOCHS: epochs,
        CANARY_SHARE: "0",
      }),
      db: t.db,
      log: memoryLogger(),
      clock,
      notifiers: { discord: notifier },
    });

  const train = (core: ReturnType<typeof build>, u: Person) =>
    trainOnce(core, notifier, () => emu.runJobs(), u, "kayaks");

  it("stores full_valid_loss of the last checkpoint and flags a version worse than the one before", async () => {
    const u = { externalId: "discord:5001", platform: "discord" as const };
    const first = await train(build("4"), u);
    const v1 = await t.db.modelVersion.findFirstOrThrow({ where: { version: 1 } });
    const job1 = await t.db.fineTuneJob.findFirstOrThrow({ where: { modelVersion: { id: v1.id } } });
    const checkpoints = (await (
      await fetch(`${emu.url}/v1/fine_tuning/jobs/${job1.providerJobId}/checkpoints`, {
        headers: { authorization: "Bearer test" },
      })
    ).json()) as { data: Array<{ step_number: number; metrics: { full_valid_loss: number } }> };
    const last = checkpoints.data.sort((a, b) => b.step_number - a.step_number)[0]!;
    expect(v1.validationLoss).toBe(last.metrics.full_valid_loss);
    expect(first).toContain(`Validation loss: ${last.metrics.full_valid_loss.toFixed(3)}.`);

    const second = await train(build("1"), u);
    const v2 = await t.db.modelVersion.findFirstOrThrow({ where: { version: 2 } });
    expect(v2.validationLoss).toBeGreaterThan(v1.validationLoss!);
    expect(second).toContain(
      `Validation loss: ${v2.validationLoss!.toFixed(3)} (v1: ${v1.validationLoss!.toFixed(3)}; ⚠ worse than v1).`,
    );
    const models = (await build("1").assistant.command(u, { name: "models", args: "" })).text;
    expect(models).toMatch(/v2: [^\n]+\n\s+[^\n]*validation loss [\d.]+ ⚠ worse than the previous version/);
    expect(models).not.toMatch(/v1: [^\n]+\n\s+[^\n]*worse than the previous/);
  });
});

describe("validation loss from Vertex AI", () => {
  let t: TestDatabase;
  let openai: OpenAIEmulator;
  let storage: GcsEmulator;
  let gemini: GeminiEmulator;
  let notifier: RecordingNotifier;
  const clock = new TestClock();

  beforeEach(async () => {
    t = await createTestDatabase();
    openai = await startOpenAIEmulator();
    storage = await startGcsEmulator();
    gemini = await startGeminiEmulator({ gcs: storage });
    notifier = new RecordingNotifier();
  });
  afterEach(async () => {
    await gemini.close();
    await storage.close();
    await openai.close();
    await t.close();
  });

  const build = (epochs: string) =>
    createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_THRESHOLD: "20",
        FINETUNE_PROVIDER: "vertex",
        FINETUNE_BASE_MODEL: "gemini-2.5-flash",
        FINETUNE_PLATFORMS: "discord",
        FINETUNE_MIN_REPLY_CHARS: "5",
        FINETUNE_EPOCHS: epochs,
        GOOGLE_CLOUD_PROJECT: "test-project",
        GOOGLE_CLOUD_LOCATION: "europe-west4",
        GCS_BUCKET: "tuning-data",
        GCS_BASE_URL: storage.url,
        GEMINI_BASE_URL: gemini.url,
        CANARY_SHARE: "0",
      }),
      db: t.db,
      log: memoryLogger(),
      clock,
      notifiers: { discord: notifier },
      googleAuthOptions: offlineVertexAuth(),
    });

  const train = (core: ReturnType<typeof build>, u: Person) =>
    trainOnce(core, notifier, () => gemini.runJobs(), u, "canoes");

  it("reads /eval_total_loss from the job's experiment and flags a version worse than the one before", async () => {
    const u = { externalId: "discord:5002", platform: "discord" as const };
    const first = await train(build("4"), u);
    const v1 = await t.db.modelVersion.findFirstOrThrow({ where: { version: 1 } });
    // The loss after the last of 4 epochs, as the emulator's TensorBoard series holds it.
    expect(v1.validationLoss).toBeCloseTo(emulatedLosses(4).eval, 10);
    expect(first).toContain(`Validation loss: ${v1.validationLoss!.toFixed(3)}.`);
    const reads = gemini.requests.filter((r) => r.method === "GET" && r.path.startsWith("/v1/projects/"));
    expect(reads.map((r) => r.path.replace(/\d{6,}/g, "N"))).toEqual([
      "/v1/projects/N/locations/europe-west4/metadataStores/default/contexts/tuning-experiment-N",
      "/v1/projects/N/locations/europe-west4/tensorboards/N/experiments/tuning-experiment-N/runs",
      "/v1/projects/N/locations/europe-west4/tensorboards/N/experiments/tuning-experiment-N/runs/tuning-job-N/timeSeries",
      "/v1/projects/N/locations/europe-west4/tensorboards/N/experiments/tuning-experiment-N/runs/tuning-job-N/timeSeries/N:read",
    ]);
    expect(reads.every((r) => /^Bearer \S+/.test(String(r.headers.authorization)))).toBe(true);

    const second = await train(build("1"), u);
    const v2 = await t.db.modelVersion.findFirstOrThrow({ where: { version: 2 } });
    expect(v2.validationLoss).toBeCloseTo(emulatedLosses(1).eval, 10);
    expect(second).toContain(
      `Validation loss: ${v2.validationLoss!.toFixed(3)} (v1: ${v1.validationLoss!.toFixed(3)}; ⚠ worse than v1).`,
    );
  });

  it("keeps a trained version without a loss when its experiment cannot be read", async () => {
    const u = { externalId: "discord:5003", platform: "discord" as const };
    // The TensorBoard refuses (a service account without aiplatform.tensorboards.get, say).
    gemini.failNext(5, { match: "/tensorboards/", status: 403 });
    const dm = await train(build("2"), u);
    const v1 = await t.db.modelVersion.findFirstOrThrow({ where: { version: 1 } });
    expect(v1.validationLoss).toBeNull();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("succeeded");
    expect(dm).not.toContain("Validation loss");
    expect((await build("2").assistant.status(u)).status.activeModel.fineTuned).toBe(true);
  });
});
