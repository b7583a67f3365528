// A finished training's files at the provider (training, validation, result files) are deleted:
// asserted on what the OpenAI and Cloud Storage emulators still hold and on the deletion queue.
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { type GcsEmulator, startGcsEmulator } from "./emulators/google/gcs.ts";
import { type GeminiEmulator, startGeminiEmulator } from "./emulators/google/gemini.ts";
import { offlineVertexAuth } from "./emulators/google/vertex-auth.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

interface Setup {
  t: TestDatabase;
  openai: OpenAIEmulator;
  clock: TestClock;
  notifier: RecordingNotifier;
  core: ReturnType<typeof createCore>;
}

async function setup(
  extra: Record<string, string> = {},
  vertex?: { gemini: GeminiEmulator },
): Promise<Setup> {
  const t = await createTestDatabase();
  const openai = await startOpenAIEmulator();
  closers.push(
    () => openai.close(),
    () => t.close(),
  );
  const clock = new TestClock();
  const notifier = new RecordingNotifier();
  const core = createCore({
    config: loadConfig({
      DISCORD_TOKEN: "t",
      DISCORD_APPLICATION_ID: "1",
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      EMBEDDING_DIMENSIONS: "64",
      FINETUNE_PROVIDER: "openai",
      // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
      CANARY_SHARE: "0",
      FINETUNE_PLATFORMS: "discord,slack",
      FINETUNE_MIN_REPLY_CHARS: "5",
      FINETUNE_PRICE_PER_1M_TOKENS: "5",
      ...(vertex ? { GEMINI_BASE_URL: vertex.gemini.url } : {}),
      ...extra,
    }),
    db: t.db,
    log: memoryLogger(),
    clock,
    notifiers: { discord: notifier },
    ...(vertex ? { googleAuthOptions: offlineVertexAuth() } : {}),
  });
  return { t, openai, clock, notifier, core };
}

const ref = { externalId: "discord:777", platform: "discord" as const };

/** A person with `n` highly rated exchanges who approved an offer (20+ gives a validation file). */
async function approved(s: Setup, n: number): Promise<void> {
  const user = await s.t.db.user.create({ data: { platform: "discord", externalId: ref.externalId } });
  await s.t.db.exchange.createMany({
    data: Array.from({ length: n }, (_, i) => ({
      userId: user.id,
      platform: "discord",
      channelId: "c",
      userMessageId: `m${i}`,
      userText: `Which wine goes with dish number ${i} of the menu?`,
      replyText: `Dish ${i} goes well with a dry white; a light red works too if you prefer.`,
      status: "answered",
      rating: 5,
      ratedAt: s.clock.now(),
    })),
  });
  expect((await s.core.assistant.train(ref)).ok).toBe(true);
  const proposalId = s.notifier.prompts.at(-1)!.prompt.proposalId;
  const outcome = await s.core.assistant.approvalClick({ user: ref, proposalId, action: "approve" });
  expect(outcome.promptText).toMatch(/^Approved/);
}

const fileDeletes = (emu: { requests: Array<{ method: string; path: string }> }) =>
  emu.requests.filter((r) => r.method === "DELETE" && /\/files\/|\/o\//.test(r.path));

describe("OpenAI: a finished training's files", () => {
  it("are deleted at the provider once the model exists: training, validation and result files", async () => {
    const s = await setup();
    await approved(s, 24);
    const job = await s.t.db.fineTuneJob.findFirstOrThrow();
    expect(job.providerValidationFileId).toBeTruthy();
    const uploaded = [job.providerFileId!, job.providerValidationFileId!];
    for (const id of uploaded) expect(s.openai.files.has(id)).toBe(true);

    s.openai.runJobs();
    await s.core.lifecycle.monitor();
    const done = await s.t.db.fineTuneJob.findFirstOrThrow();
    expect(done.state).toBe("succeeded");
    const results = s.openai.fineTuning.get(done.providerJobId!).result_files;
    expect(results).toHaveLength(1);

    // Gone from the provider, and nothing left owed.
    for (const id of [...uploaded, ...results]) expect(s.openai.files.has(id)).toBe(false);
    expect(
      fileDeletes(s.openai)
        .map((r) => r.path.split("/").at(-1))
        .sort(),
    ).toEqual([...uploaded, ...results].sort());
    expect(await s.t.db.deletionRecord.count()).toBe(0);
    expect(done.filesCleanupQueuedAt).not.toBeNull();
    // The model is still there and answering.
    expect((await s.core.assistant.status(ref)).status.activeModel.fineTuned).toBe(true);

    // Later runs and a forget do not delete the files again; forget deletes the model.
    await s.core.lifecycle.monitor();
    const forgotten = await s.core.dataRights.forget(ref);
    expect(forgotten.ok).toBe(true);
    expect(fileDeletes(s.openai)).toHaveLength(3);
    expect(
      s.openai.requests.filter((r) => r.method === "DELETE" && r.path.startsWith("/v1/models/")),
    ).toHaveLength(1);
  });

  it("keeps the obligation when a deletion fails, and the deletions job retries it", async () => {
    const s = await setup();
    await approved(s, 12);
    s.openai.runJobs();
    // Both file deletions of this monitoring run (training file, result file) fail.
    s.openai.failNext(2, { status: 503, match: (r) => r.method === "DELETE" });
    await s.core.lifecycle.monitor();
    const job = await s.t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("succeeded");
    const owed = await s.t.db.deletionRecord.findMany({ orderBy: { id: "asc" } });
    const results = s.openai.fineTuning.get(job.providerJobId!).result_files;
    expect(owed.map((r) => [r.kind, r.resourceId, r.status])).toEqual([
      ["file", job.providerFileId, "failed"],
      ...results.map((id) => ["file", id, "failed"]),
    ]);
    for (const r of owed) expect(s.openai.files.has(r.resourceId)).toBe(true);
    // No identity in the queue: the person's one-way hash, as for forget.
    expect(JSON.stringify(owed, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain("777");

    // The deletions job, after its back-off: the files go, and so does the obligation.
    s.clock.advance(6 * 60_000);
    const sweep = await s.core.dataRights.retryDeletions();
    expect(sweep).toMatchObject({ deleted: owed.length, remaining: 0 });
    for (const r of owed) expect(s.openai.files.has(r.resourceId)).toBe(false);
    expect(await s.t.db.deletionRecord.count()).toBe(0);
  });

  it("still owed when the person is forgotten: their forget finishes the deletions", async () => {
    const s = await setup();
    await approved(s, 12);
    s.openai.runJobs();
    s.openai.failNext(2, {
      status: 503,
      match: (r) => r.method === "DELETE" && r.path.startsWith("/v1/files/"),
    });
    await s.core.lifecycle.monitor();
    const owed = await s.t.db.deletionRecord.findMany();
    expect(owed.map((r) => r.status)).toEqual(["failed", "failed"]);

    const result = await s.core.dataRights.forget(ref);
    expect(result).toMatchObject({ ok: true, undeleted: [] });
    expect(result.text).toMatch(/At the provider I deleted 2 uploaded training files and 1 tuned model\./);
    for (const r of owed) expect(s.openai.files.has(r.resourceId)).toBe(false);
    expect(await s.t.db.deletionRecord.count()).toBe(0);
  });

  it("are deleted after a failed training too, and for trainings that ended before this existed", async () => {
    const s = await setup();
    s.openai.failNextJob("The training data contains too many duplicated examples.");
    await approved(s, 12);
    s.openai.runJobs();
    await s.core.lifecycle.monitor();
    const job = await s.t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("failed");
    expect(s.openai.files.has(job.providerFileId!)).toBe(false);

    // A training that ended under an earlier version: its file is still at the provider and the
    // job was never marked. The next monitoring run deletes it.
    const old = await s.core.fineTuneProvider!.uploadFile({
      filename: "ft-old-train.jsonl",
      content: "{}\n",
    });
    await s.t.db.fineTuneJob.update({
      where: { id: job.id },
      data: { providerFileId: old, providerValidationFileId: null, filesCleanupQueuedAt: null },
    });
    expect(s.openai.files.has(old)).toBe(true);
    await s.core.lifecycle.monitor();
    expect(s.openai.files.has(old)).toBe(false);
    expect(await s.t.db.deletionRecord.count()).toBe(0);
  });
});

describe("Vertex: a finished training's files", () => {
  it("are deleted from the Cloud Storage bucket once the model exists", async () => {
    const storage: GcsEmulator = await startGcsEmulator();
    const gemini = await startGeminiEmulator({ gcs: storage });
    closers.push(
      () => gemini.close(),
      () => storage.close(),
    );
    const s = await setup(
      {
        FINETUNE_PROVIDER: "vertex",
        // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
        CANARY_SHARE: "0",
        FINETUNE_BASE_MODEL: "gemini-2.5-flash",
        GOOGLE_CLOUD_PROJECT: "test-project",
        GOOGLE_CLOUD_LOCATION: "europe-west4",
        GCS_BUCKET: "tuning-data",
        GCS_BASE_URL: storage.url,
      },
      { gemini },
    );
    await approved(s, 24);
    const job = await s.t.db.fineTuneJob.findFirstOrThrow();
    expect(job.providerFileId).toMatch(/^gs:\/\/tuning-data\//);
    expect(job.providerValidationFileId).toMatch(/^gs:\/\/tuning-data\//);
    expect(storage.objects.size).toBe(2);

    gemini.runJobs();
    await s.core.lifecycle.monitor();
    expect((await s.t.db.fineTuneJob.findFirstOrThrow()).state).toBe("succeeded");
    expect(storage.objects.size).toBe(0);
    expect(fileDeletes(storage)).toHaveLength(2);
    expect(await s.t.db.deletionRecord.count()).toBe(0);
    // The tuned model still answers the person (through the Vertex endpoint).
    expect((await s.core.assistant.status(ref)).status.activeModel.fineTuned).toBe(true);
  });
});
