// A new model version proves itself before it takes over: each person below is trained to a
// version on the OpenAI emulator, which then answers about CANARY_SHARE of their messages beside
// the base model (with memory and few-shot) until their ratings decide. Ratings come in through
// reactions, as on a platform; which model answered is read from what reached the emulator.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { jobTable } from "../src/jobs/jobs.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { rateReplies } from "./support/rate-replies.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 12;
const BASE = "gpt-4.1-mini";
const EMOJI: Record<number, string> = { 1: "1️⃣", 2: "2️⃣", 3: "3️⃣", 4: "4️⃣", 5: "5️⃣" };

describe("a new model version's trial (canary)", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let core: ReturnType<typeof createCore>;
  let config: ReturnType<typeof loadConfig>;
  let seq = 0;

  beforeEach(async () => {
    t = await createTestDatabase();
    emu = await startOpenAIEmulator();
    clock = new TestClock();
    notifier = new RecordingNotifier();
    // CANARY_* left at their defaults: 30% share, 10 ratings per arm, 14 days, margin 0.25.
    config = loadConfig({
      DISCORD_TOKEN: "t",
      DISCORD_APPLICATION_ID: "1",
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${emu.url}/v1`,
      CHAT_MODEL: BASE,
      EMBEDDING_DIMENSIONS: "64",
      FINETUNE_THRESHOLD: String(THRESHOLD),
      FINETUNE_PROVIDER: "openai",
      FINETUNE_PLATFORMS: "discord",
      FINETUNE_MIN_REPLY_CHARS: "5",
      PERSONALISATION_HOLDOUT: "0",
    });
    core = createCore({ config, db: t.db, log: memoryLogger(), clock, notifiers: { discord: notifier } });
  });
  afterEach(async () => {
    await emu.close();
    await t.close();
  });

  const person = (n: number) => ({ externalId: `discord:${3000 + n}`, platform: "discord" as const });
  const dmsTo = (u: { externalId: string }) => notifier.dms.filter((d) => d.to === u.externalId);
  /** The monitoring schedule's canary job, from the job table the app runs. */
  const canaryJob = () => {
    const job = jobTable({ config, db: t.db, clock, log: memoryLogger(), core }).find(
      (j) => j.name === "canary",
    );
    if (!job) throw new Error("no canary job in the job table");
    return job.run();
  };

  /** Threshold, offer, Approve, the emulated job succeeds; returns the new version. */
  async function trainToTrial(u: ReturnType<typeof person>) {
    await rateReplies(
      core.assistant,
      u,
      THRESHOLD,
      (i, n) => `Question ${n} from ${u.externalId} about bread ${i}`,
    );
    await core.lifecycle.readiness();
    const prompt = notifier.prompts.find((p) => p.to === u.externalId)!.prompt;
    await core.assistant.approvalClick({ user: u, proposalId: prompt.proposalId, action: "approve" });
    emu.runJobs();
    await core.lifecycle.monitor();
    const v = await t.db.modelVersion.findFirstOrThrow({ where: { user: { externalId: u.externalId } } });
    expect(v.canaryState).toBe("running");
    // The incumbent keeps answering: the new version is not active yet.
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: u.externalId } });
    expect(user.activeModelVersionId).toBeNull();
    expect(dmsTo(u).at(-1)!.text).toMatch(
      /Your own model \(v1\) is ready\..*answers about 30% of your messages/,
    );
    return v;
  }

  /**
   * Mentions until `stop` says so, rating each reply by the model that answered it (as the
   * emulator saw the request); returns the ratings given per arm.
   */
  async function converse(
    u: ReturnType<typeof person>,
    tunedModel: string,
    rate: (arm: "candidate" | "incumbent", i: number) => number | undefined,
    stop: (given: { candidate: number[]; incumbent: number[] }) => Promise<boolean>,
  ) {
    const given = { candidate: [] as number[], incumbent: [] as number[] };
    for (let i = 0; i < 150 && !(await stop(given)); i++) {
      const messageId = `c${++seq}`;
      const r = await core.assistant.mention({
        user: u,
        messageId,
        channelId: "c",
        text: `Trial question ${seq} on rye`,
      });
      if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
      const asked = (
        emu.requests.filter((q) => q.path === "/v1/chat/completions").at(-1)!.body as { model: string }
      ).model;
      const arm = asked === tunedModel ? "candidate" : "incumbent";
      if (arm === "incumbent") expect(asked).toBe(BASE);
      const x = await t.db.exchange.findUniqueOrThrow({ where: { id: r.exchangeId } });
      expect(x.arm).toBe(arm);
      const rating = rate(arm, given[arm].length);
      if (rating === undefined) continue;
      given[arm].push(rating);
      await core.assistant.recordReplyMessages(r.exchangeId, [`r${messageId}`]);
      await core.assistant.reaction({
        platform: "discord",
        messageId: `r${messageId}`,
        reactorExternalId: u.externalId,
        emoji: EMOJI[rating]!,
        action: "add",
      });
    }
    return given;
  }

  const stateOf = async (id: string) =>
    (await t.db.modelVersion.findUniqueOrThrow({ where: { id } })).canaryState;

  it("promotes a version its owner rates better, with the DM and the figures", async () => {
    const u = person(1);
    const v = await trainToTrial(u);
    const given = await converse(
      u,
      v.modelId,
      (arm, i) => (arm === "candidate" ? (i % 4 === 0 ? 4 : 5) : [1, 2, 3, 2][i % 4]),
      async (g) => {
        const state = await stateOf(v.id);
        // No decision before each arm has its 10 ratings.
        if (g.candidate.length < 10 || g.incumbent.length < 10) expect(state).toBe("running");
        return state !== "running";
      },
    );
    expect(await stateOf(v.id)).toBe("promoted");
    expect(given.candidate.length).toBeGreaterThanOrEqual(10);
    expect(given.incumbent.length).toBeGreaterThanOrEqual(10);
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: u.externalId } });
    expect(user.activeModelVersionId).toBe(v.id);

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const dm = dmsTo(u).at(-1)!.text;
    expect(dm).toMatch(/v1 passed its trial and now answers all your messages/);
    expect(dm).toContain(
      `v1: mean ${mean(given.candidate).toFixed(2)} from ${given.candidate.length} ratings`,
    );
    expect(dm).toContain(
      `the base model: mean ${mean(given.incumbent).toFixed(2)} from ${given.incumbent.length} ratings`,
    );
    expect(dm).toMatch(/one-sided Welch test p = 0\.0\d\d that it is not worse/);
    const stored = (await t.db.modelVersion.findUniqueOrThrow({ where: { id: v.id } })).canaryResult as {
      basis: string;
      pNotWorse: number;
    };
    expect(stored.basis).toBe("test");
    expect(stored.pNotWorse).toBeLessThanOrEqual(0.1);

    // Every later reply is the new version's, outside any trial.
    const r = await core.assistant.mention({
      user: u,
      messageId: "after-1",
      channelId: "c",
      text: "And now?",
    });
    expect(r.kind === "reply" && r.model).toBe(v.modelId);
    const after = await t.db.exchange.findFirstOrThrow({ where: { userMessageId: "after-1" } });
    expect(after).toMatchObject({ arm: null, modelVersionId: v.id, level: "own_model" });

    const models = (await core.assistant.command(u, { name: "models", args: "" })).text;
    expect(models).toMatch(/v1: ft:.*passed its trial.*answering you/);
    expect(models).toMatch(
      new RegExp(`${given.candidate.length} ratings, mean ${mean(given.candidate).toFixed(2)}`),
    );
    expect(models).toMatch(/cost \$\d/);
    expect(models).toMatch(/Base model \(with your memory and examples\): \d+ ratings/);
  });

  it("rolls back a version its owner rates worse; the base model keeps answering", async () => {
    const u = person(2);
    const v = await trainToTrial(u);
    const given = await converse(
      u,
      v.modelId,
      (arm, i) => (arm === "candidate" ? [1, 2][i % 2] : [5, 4, 5][i % 3]),
      async () => (await stateOf(v.id)) !== "running",
    );
    expect(await stateOf(v.id)).toBe("rolled_back");
    expect(Math.min(given.candidate.length, given.incumbent.length)).toBe(10);
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: u.externalId } });
    expect(user.activeModelVersionId).toBeNull();
    const dm = dmsTo(u).at(-1)!.text;
    expect(dm).toMatch(
      /v1 did not do better than the base model in its trial, so the base model keeps answering you/,
    );
    expect(dm).toContain(`v1: mean 1.50 from ${given.candidate.length} ratings (0% 👍)`);
    expect(dm).toMatch(/p = 0\.0\d\d that it is \(test 1 of the trial, each at α = 0\.020\)\./);
    expect(dm).toContain("/assistant models use v1");

    const r = await core.assistant.mention({
      user: u,
      messageId: "after-2",
      channelId: "c",
      text: "Still there?",
    });
    expect(r.kind === "reply" && r.model).toBe(BASE);
    expect(await t.db.exchange.findFirstOrThrow({ where: { userMessageId: "after-2" } })).toMatchObject({
      arm: null,
      modelVersionId: null,
    });
    expect((await core.assistant.command(u, { name: "models", args: "" })).text).toMatch(
      /v1: .*lost its trial/,
    );
  });

  it("stays in its trial with too few ratings, and at CANARY_MAX_DAYS keeps the incumbent and says so", async () => {
    const u = person(3);
    const v = await trainToTrial(u);
    await converse(
      u,
      v.modelId,
      (_arm, i) => (i < 3 ? 5 : undefined),
      async (g) => g.candidate.length >= 3 && g.incumbent.length >= 3,
    );
    await canaryJob();
    expect(await stateOf(v.id)).toBe("running");
    const dmsBefore = dmsTo(u).length;
    expect((await core.assistant.command(u, { name: "models", args: "" })).text).toMatch(
      /v1: .*on trial: answering about 30% of your messages/,
    );

    clock.advance(13 * 86_400_000);
    await canaryJob();
    expect(await stateOf(v.id)).toBe("running");
    expect(dmsTo(u)).toHaveLength(dmsBefore);

    clock.advance(1 * 86_400_000);
    await canaryJob();
    expect(await stateOf(v.id)).toBe("rolled_back");
    const dm = dmsTo(u).at(-1)!.text;
    expect(dm).toMatch(
      /14-day trial of your model v1 ended with too few ratings to compare, so the base model keeps answering you/,
    );
    expect(dm).toMatch(/v1: mean 5\.00 from 3 ratings/);
    expect(dm).toContain("at least 10 ratings each are needed");
  });

  it("ends when its owner chooses: rollback keeps the incumbent, models use vN takes the new version", async () => {
    const a = person(4);
    const va = await trainToTrial(a);
    const kept = await core.assistant.command(a, { name: "rollback", args: "" });
    expect(kept.code).toBe("rollback.trial_ended");
    expect(kept.text).toMatch(/trial of v1 has ended and the base model keeps answering you/);
    expect(await stateOf(va.id)).toBe("ended");
    expect(
      (await t.db.user.findUniqueOrThrow({ where: { externalId: a.externalId } })).activeModelVersionId,
    ).toBeNull();

    const b = person(5);
    const vb = await trainToTrial(b);
    // A typo changes nothing, the trial included.
    expect((await core.assistant.command(b, { name: "models", args: "use v7" })).code).toBe(
      "rollback.unknown_version",
    );
    expect(await stateOf(vb.id)).toBe("running");
    const chose = await core.assistant.command(b, { name: "models", args: "use v1" });
    expect(chose.code).toBe("rollback.done");
    expect(await stateOf(vb.id)).toBe("ended");
    expect(
      (await t.db.user.findUniqueOrThrow({ where: { externalId: b.externalId } })).activeModelVersionId,
    ).toBe(vb.id);
    const r = await core.assistant.mention({
      user: b,
      messageId: "after-5",
      channelId: "c",
      text: "Mine now?",
    });
    expect(r.kind === "reply" && r.model).toBe(vb.modelId);
  });
});
