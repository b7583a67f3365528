// When level 3 (a model of one's own) is off or cannot work, and what each person and the log are
// told: no provider configured (the default), a provider that refuses new jobs (OpenAI's wind-down:
// a 403 on job creation, or past 2027-01-06), a platform the operator may not train on.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseCommandText } from "../src/bots/shared/commands.ts";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { rateReplies } from "./support/rate-replies.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 10;

describe("fine-tuning availability", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let log: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    emu = await startOpenAIEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(async () => {
    t = await createTestDatabase();
    emu.fineTuning.refuseNewJobs = false;
    clock = new TestClock();
    notifier = new RecordingNotifier();
    log = memoryLogger();
  });
  afterEach(async () => {
    await t.close();
  });

  function build(extra: Record<string, string> = {}) {
    return createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${emu.url}/v1`,
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
        ...extra,
      }),
      db: t.db,
      log,
      clock,
      notifiers: { discord: notifier },
    });
  }

  const user = (n: number) => ({ externalId: `discord:${3000 + n}`, platform: "discord" as const });

  async function rateMany(core: ReturnType<typeof build>, u: ReturnType<typeof user>, n: number) {
    await rateReplies(core.assistant, u, n, (i, n) => `Question ${n} about sourdough starters, day ${i}`);
  }

  it("is off with nothing configured, and status and /assistant train say how an admin turns it on", async () => {
    const core = build();
    expect(core.fineTuneProvider).toBeUndefined();
    await rateMany(core, user(1), THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    expect(notifier.prompts).toHaveLength(0);
    const status = await core.assistant.status(user(1));
    expect(status.text).toContain("Your own model: off.");
    expect(status.text).toContain("FINETUNE_PROVIDER=together and TOGETHER_API_KEY");
    expect(status.status.fineTuneOff).toContain("FINETUNE_PROVIDER=together");
    const train = await core.assistant.train(user(1));
    expect(train.ok).toBe(false);
    expect(train.text).toContain("An admin turns it on by setting FINETUNE_PROVIDER=together");
  });

  it("a 403 on job creation stops offers: no further approval DM, the person is told why, the log names the setting", async () => {
    const core = build({ FINETUNE_PROVIDER: "openai", FINETUNE_PLATFORMS: "discord" });
    emu.fineTuning.refuseNewJobs = true;
    const creates = () =>
      emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs").length;
    const createsBefore = creates();
    await rateMany(core, user(1), THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    const { prompt } = notifier.prompts[0]!;
    await core.assistant.approvalClick({ user: user(1), proposalId: prompt.proposalId, action: "approve" });
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("failed");
    expect(job.error).toContain("no longer accepts new fine-tuning jobs");
    expect(notifier.dms.at(-1)!.text).toMatch(
      /training failed: openai refused to start it.*switch FINETUNE_PROVIDER.*Nothing was charged/s,
    );
    const reservation = await t.db.costLedgerEntry.findFirstOrThrow({ where: { kind: "training" } });
    expect(reservation.status).toBe("released");
    expect(await t.db.fineTuneProviderRefusal.findUnique({ where: { provider: "openai" } })).not.toBeNull();
    const named = log.lines.filter((l) => l.includes("refuses new jobs"));
    expect(named.length).toBeGreaterThan(0);
    expect(named[0]).toContain('"setting":"FINETUNE_PROVIDER"');

    // The next person to reach the threshold gets no DM; asking explains why.
    await rateMany(core, user(2), THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    expect(notifier.prompts).toHaveLength(1);
    const train = await core.assistant.train(user(2));
    expect(train.ok).toBe(false);
    expect(train.text).toMatch(/I can't offer a training right now: openai refused to create the job/);
    expect(train.text).toContain("FINETUNE_PROVIDER");
    expect(notifier.prompts).toHaveLength(1);
    // Only the first approval reached OpenAI's job creation.
    expect(creates()).toBe(createsBefore + 1);
  });

  it("past 2027-01-06 OpenAI takes no new jobs: no offer is made at all", async () => {
    clock.current = new Date("2027-01-07T09:00:00Z");
    const core = build({ FINETUNE_PROVIDER: "openai", FINETUNE_PLATFORMS: "discord" });
    const uploads = () => emu.requests.filter((r) => r.path === "/v1/files").length;
    const uploadsBefore = uploads();
    await rateMany(core, user(1), THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    expect(notifier.prompts).toHaveLength(0);
    const train = await core.assistant.train(user(1));
    expect(train.text).toContain("OpenAI stopped accepting new fine-tuning jobs on 2027-01-06");
    expect(uploads()).toBe(uploadsBefore);
    expect(log.lines.some((l) => l.includes('"setting":"FINETUNE_PROVIDER"'))).toBe(true);
  });

  it("trains on a platform only when FINETUNE_PLATFORMS lists it", async () => {
    const core = build({ FINETUNE_PROVIDER: "openai", FINETUNE_PLATFORMS: "slack" });
    await rateMany(core, user(1), THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    const train = await core.assistant.train(user(1));
    expect(train.ok).toBe(false);
    expect(train.text).toContain("Training on Discord messages is not enabled on this bot");
    expect(train.text).toContain("FINETUNE_PLATFORMS");
    expect((await core.assistant.status(user(1))).text).toContain("Your own model: off. Training on Discord");
    expect(notifier.prompts).toHaveLength(0);
    expect(await t.db.fineTuneProposal.count()).toBe(0);
  });

  it("/assistant training off stops offers the bot makes on its own; /assistant train still works; on restores them", async () => {
    const core = build({ FINETUNE_PROVIDER: "openai", FINETUNE_PLATFORMS: "discord" });
    await rateMany(core, user(1), THRESHOLD);
    expect(parseCommandText("training off")).toEqual({ name: "training", args: "off" });
    expect((await core.assistant.command(user(1), parseCommandText("training maybe"))).text).toBe(
      "Use /assistant training off or /assistant training on.",
    );
    const off = await core.assistant.command(user(1), parseCommandText("training off"));
    expect(off.text).toMatch(/^Done: I won't offer you a training on my own/);
    expect((await t.db.user.findFirstOrThrow()).trainingOffersOff).toBe(true);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    expect(notifier.prompts).toHaveLength(0);
    // Asking still works.
    const asked = await core.assistant.train(user(1));
    expect(asked.ok).toBe(true);
    expect(notifier.prompts).toHaveLength(1);
    await core.assistant.approvalClick({
      user: user(1),
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "decline",
    });
    // Back on: the readiness job may offer again (here once the decline's cooldown allows it).
    await core.assistant.trainingOffers(user(1), "on");
    expect((await t.db.user.findFirstOrThrow()).trainingOffersOff).toBe(false);
  });
});
