// The fine-tuning lifecycle through the core, with a recording notifier standing in for the
// platform (the Discord and Slack suites cover the real adapters), the OpenAI emulator for chat and
// fine-tuning, and a real database.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { runClaimed } from "../src/jobs/claims.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 12;

function config(emu: OpenAIEmulator, extra: Record<string, string> = {}) {
  return loadConfig({
    DISCORD_TOKEN: "t",
    DISCORD_APPLICATION_ID: "1",
    OPENAI_API_KEY: "test",
    OPENAI_BASE_URL: `${emu.url}/v1`,
    EMBEDDING_DIMENSIONS: "64",
    FINETUNE_THRESHOLD: String(THRESHOLD),
    FINETUNE_PROVIDER: "openai",
    // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
    CANARY_SHARE: "0",
    FINETUNE_PLATFORMS: "discord,slack",
    FINETUNE_MIN_REPLY_CHARS: "5",
    FINETUNE_PRICE_PER_1M_TOKENS: "5",
    ...extra,
  });
}

describe("fine-tuning lifecycle", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let core: ReturnType<typeof createCore>;
  let seq = 0;

  function build(extra: Record<string, string> = {}) {
    return createCore({
      config: config(emu, extra),
      db: t.db,
      log: memoryLogger(),
      clock,
      notifiers: { discord: notifier },
    });
  }

  beforeEach(async () => {
    t = await createTestDatabase();
    emu = await startOpenAIEmulator();
    clock = new TestClock();
    notifier = new RecordingNotifier();
    core = build();
  });
  afterEach(async () => {
    await emu.close();
    await t.close();
  });

  const user = (n: number) => ({ externalId: `discord:${1000 + n}`, platform: "discord" as const });

  /** n exchanges rated 5 by their owner: what makes a user ready. */
  async function rateMany(
    u: ReturnType<typeof user>,
    n: number,
    text = (i: number) => `Question number ${i} about topic ${i * 7}`,
  ) {
    for (let i = 0; i < n; i++) {
      const messageId = `m${++seq}`;
      const r = await core.assistant.mention({ user: u, messageId, channelId: "c", text: text(i) });
      if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
      await core.assistant.recordReplyMessages(r.exchangeId, [`r${messageId}`]);
      await core.assistant.reaction({
        platform: "discord",
        messageId: `r${messageId}`,
        reactorExternalId: u.externalId,
        emoji: "👍",
        action: "add",
      });
    }
  }

  const ftJobsAtEmulator = () =>
    emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs");
  const uploads = () => emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/files");

  it("proposes at the threshold, approves, trains, activates, and the next reply uses the new model", async () => {
    await rateMany(user(1), THRESHOLD - 1);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    await rateMany(user(1), 1, () => "One more question about gardening tomatoes");
    expect((await core.lifecycle.readiness()).proposed).toBe(1);

    expect(notifier.prompts).toHaveLength(1);
    const { to, prompt } = notifier.prompts[0]!;
    expect(to).toBe("discord:1001");
    expect(prompt.text).toContain(`Examples: ${THRESHOLD}`);
    expect(prompt.text).toMatch(/Estimated cost: \$\d/);
    expect(prompt.text).toContain("gpt-4.1-mini-2025-04-14");
    expect(prompt.text).toMatch(/Personal data removed before upload: 0 items/);
    // A second readiness run does not propose again while one is pending.
    expect((await core.lifecycle.readiness()).proposed).toBe(0);

    const outcome = await core.assistant.approvalClick({
      user: user(1),
      proposalId: prompt.proposalId,
      action: "approve",
      eventKey: "click-1",
    });
    expect(outcome.promptText).toMatch(/^Approved/);
    expect(uploads()).toHaveLength(1);
    expect(ftJobsAtEmulator()).toHaveLength(1);
    const created = ftJobsAtEmulator()[0]!.body as { suffix: string; model: string };
    expect(created.suffix).toMatch(/^u[0-9a-f]{16}$/);
    expect(created.suffix).not.toContain("1001");

    emu.runJobs();
    await core.lifecycle.monitor();
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("succeeded");
    // The estimate and what the provider billed agree (the emulator counts as OpenAI documents).
    const proposal = await t.db.fineTuneProposal.findFirstOrThrow();
    expect(Math.abs(job.trainedTokens! - proposal.tokens) / proposal.tokens).toBeLessThan(0.02);
    const ledger = await t.db.costLedgerEntry.findMany({ where: { kind: "training" } });
    expect(ledger).toHaveLength(1);
    expect(ledger[0]!.status).toBe("settled");
    expect(Number(ledger[0]!.amountUsd)).toBeCloseTo(Number(job.actualCostUsd), 6);
    expect(notifier.dms.at(-1)!.text).toMatch(/Your own model \(v1\) is ready/);

    const status = await core.assistant.status(user(1));
    expect(status.status.activeModel).toMatchObject({ fineTuned: true, version: 1 });
    expect(status.status.readyForFineTune).toBe(0);

    await core.assistant.mention({ user: user(1), messageId: "after", channelId: "c", text: "Hello again" });
    const lastChat = emu.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect((lastChat.body as { model: string }).model).toBe(job.fineTunedModel);
    expect(job.fineTunedModel).toMatch(/^ft:gpt-4\.1-mini-2025-04-14:/);

    // Models and rollback.
    expect((await core.assistant.models(user(1))).text).toMatch(/v1: ft:.*answering you/);
    expect((await core.assistant.rollback(user(1), "previous")).text).toMatch(/base model answers you/);
    await core.assistant.mention({ user: user(1), messageId: "after2", channelId: "c", text: "And now?" });
    const base = emu.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect((base.body as { model: string }).model).toBe("gpt-4.1-mini");
    expect((await core.assistant.rollback(user(1), "v1")).ok).toBe(true);
  });

  it("the readiness job offers only to the ready people with nothing open, who rate and have not opted out or turned offers off", async () => {
    for (let n = 1; n <= 6; n++) await rateMany(user(n), THRESHOLD);
    // 2: an offer waiting. 3: opted out. 4: offers turned off. 5: an approved training not finished.
    // 6: declined (held until more examples). Only 1 is left for the job.
    expect((await core.assistant.train(user(2))).ok).toBe(true);
    await core.assistant.optOut(user(3));
    await core.assistant.trainingOffers(user(4), "off");
    expect((await core.assistant.train(user(5))).ok).toBe(true);
    expect((await core.assistant.train(user(6))).ok).toBe(true);
    const promptOf = (n: number) => notifier.prompts.find((p) => p.to === user(n).externalId)!.prompt;
    await core.assistant.approvalClick({
      user: user(5),
      proposalId: promptOf(5).proposalId,
      action: "approve",
      eventKey: "click-5",
    });
    await core.assistant.approvalClick({
      user: user(6),
      proposalId: promptOf(6).proposalId,
      action: "decline",
      eventKey: "click-6",
    });
    expect(
      await t.db.fineTuneJob.count({ where: { state: { notIn: ["succeeded", "failed", "cancelled"] } } }),
    ).toBe(1);
    const before = notifier.prompts.length;

    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    expect(notifier.prompts.slice(before).map((p) => p.to)).toEqual([user(1).externalId]);
    // Nobody else got a second offer: still one pending offer each for 1 and 2, none for 3, 4 and 6.
    const pending = await t.db.fineTuneProposal.findMany({
      where: { state: "pending" },
      select: { user: { select: { externalId: true } } },
    });
    expect(pending.map((p) => p.user.externalId).sort()).toEqual([user(1).externalId, user(2).externalId]);
  });

  it("decline closes the offer and none is sent until enough new examples", async () => {
    core = build({ FINETUNE_DECLINE_COOLDOWN: "3" });
    await rateMany(user(2), THRESHOLD);
    await core.lifecycle.readiness();
    const { prompt } = notifier.prompts[0]!;
    const declined = await core.assistant.approvalClick({
      user: user(2),
      proposalId: prompt.proposalId,
      action: "decline",
    });
    expect(declined.promptText).toMatch(/^Declined/);
    expect((await t.db.fineTuneProposal.findFirstOrThrow()).state).toBe("declined");
    await rateMany(user(2), 2, (i) => `Fresh topic ${i} about sailing boats`);
    expect((await core.lifecycle.readiness()).proposed).toBe(0);
    await rateMany(user(2), 1, () => "Another fresh topic about mountain hiking");
    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    expect(ftJobsAtEmulator()).toHaveLength(0);
  });

  it("second clicks, other people's clicks and clicks after expiry change nothing and say so", async () => {
    await rateMany(user(3), THRESHOLD);
    await core.lifecycle.readiness();
    const { prompt } = notifier.prompts[0]!;
    const foreign = await core.assistant.approvalClick({
      user: user(9),
      proposalId: prompt.proposalId,
      action: "approve",
    });
    expect(foreign.text).toMatch(/Only the person/);
    expect(foreign.promptText).toBeUndefined();

    clock.advance(73 * 3_600_000);
    const late = await core.assistant.approvalClick({
      user: user(3),
      proposalId: prompt.proposalId,
      action: "approve",
    });
    expect(late.text).toMatch(/expired/);
    const again = await core.assistant.approvalClick({
      user: user(3),
      proposalId: prompt.proposalId,
      action: "approve",
    });
    expect(again.text).toMatch(/already expired. Nothing changed/);
    expect(ftJobsAtEmulator()).toHaveLength(0);
    expect(await t.db.costLedgerEntry.count({ where: { kind: "training" } })).toBe(0);
  });

  it("expires offers in the monitoring job and edits the prompt", async () => {
    await rateMany(user(4), THRESHOLD);
    await core.lifecycle.readiness();
    clock.advance(73 * 3_600_000);
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneProposal.findFirstOrThrow()).state).toBe("expired");
    expect(notifier.closed).toEqual([
      {
        ref: { channelId: `dm:${user(4).externalId}`, messageId: "prompt-1" },
        text: expect.stringMatching(/expired/),
      },
    ]);
  });

  it("N concurrent approvals against a limit that allows one launch exactly one", async () => {
    const users = [5, 6, 7, 8].map(user);
    for (const u of users) await rateMany(u, THRESHOLD);
    await core.lifecycle.readiness();
    expect(notifier.prompts).toHaveLength(4);
    const cost = Number((await t.db.fineTuneProposal.findFirstOrThrow()).estimatedCostUsd);
    await core.budgets.setLimits({ trainingTotalMonthUsd: cost * 1.5 }, "discord:1");
    const outcomes = await Promise.all(
      notifier.prompts.flatMap(({ to, prompt }) =>
        // Each user double-clicks, all at once.
        [1, 2].map((k) =>
          core.assistant.approvalClick({
            user: { externalId: to, platform: "discord" },
            proposalId: prompt.proposalId,
            action: "approve",
            eventKey: `${prompt.proposalId}-${k}`,
          }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.promptText?.startsWith("Approved"))).toHaveLength(1);
    expect(ftJobsAtEmulator()).toHaveLength(1);
    expect(uploads()).toHaveLength(1);
    expect(await t.db.fineTuneJob.count()).toBe(1);
    const reserved = await t.db.costLedgerEntry.findMany({
      where: { kind: "training", status: { in: ["reserved", "settled"] } },
    });
    expect(reserved).toHaveLength(1);
    expect(outcomes.some((o) => /go over this bot's monthly training budget/.test(o.text))).toBe(true);
  });

  it("resumes a launch that crashed after the upload: one file, one job", async () => {
    await rateMany(user(10), THRESHOLD);
    await core.lifecycle.readiness();
    const { prompt } = notifier.prompts[0]!;
    // The upload succeeds, then job creation fails as if the process died there.
    emu.failNext(1, { status: 500, match: "/fine_tuning/jobs" });
    const outcome = await core.assistant.approvalClick({
      user: user(10),
      proposalId: prompt.proposalId,
      action: "approve",
    });
    expect(outcome.promptText).toMatch(/^Approved/);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("creating");
    expect(uploads()).toHaveLength(1);

    // "Restart": a new core on the same database resumes from the recorded state.
    core = build();
    await core.lifecycle.monitor();
    expect(uploads()).toHaveLength(1);
    expect(emu.fineTuning.records.size).toBe(1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");

    // A crash after the provider created the job but before we recorded it: found, not recreated.
    // (Long enough ago that no call of the dead process can still be in flight.)
    await t.db.fineTuneJob.updateMany({
      data: { state: "creating", providerJobId: null, updatedAt: new Date(0) },
    });
    await core.lifecycle.monitor();
    expect(emu.fineTuning.records.size).toBe(1);
    emu.runJobs();
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("succeeded");
  });

  it("reports a failed job with the provider's reason and releases the reservation", async () => {
    await rateMany(user(11), THRESHOLD);
    await core.lifecycle.readiness();
    emu.failNextJob("The training data contains too many duplicated examples.");
    await core.assistant.approvalClick({
      user: user(11),
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "approve",
    });
    emu.runJobs();
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("failed");
    expect(notifier.dms.at(-1)!.text).toContain("too many duplicated examples");
    expect((await t.db.costLedgerEntry.findFirstOrThrow({ where: { kind: "training" } })).status).toBe(
      "released",
    );
    expect((await core.assistant.status(user(11))).status.activeModel.fineTuned).toBe(false);
  });

  it("never uploads an email or a card number from a rated exchange", async () => {
    await rateMany(user(12), THRESHOLD - 1);
    await rateMany(user(12), 1, () => "Mail me at jane.doe@example.com, card 4242 4242 4242 4242 please");
    emu.setReply(() => "Sure, I will write to jane.doe@example.com and charge 4242-4242-4242-4242 today.");
    await rateMany(user(12), 1, () => "Confirm the booking details please");
    await core.lifecycle.readiness();
    expect(notifier.prompts[0]!.prompt.text).toMatch(/Personal data removed before upload: [1-9]/);
    await core.assistant.approvalClick({
      user: user(12),
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "approve",
    });
    const files = [...emu.files.values()].filter((f) => f.purpose === "fine-tune");
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const f of files) {
      const text = f.bytes.toString("utf8");
      expect(text).not.toContain("jane.doe@example.com");
      expect(text).not.toMatch(/4242[ -]?4242[ -]?4242[ -]?4242/);
      expect(text).toContain("[EMAIL]");
    }
  });

  it("answers with the base model from a tuned model's shutdown date, and warns ahead", async () => {
    await rateMany(user(13), THRESHOLD);
    await core.lifecycle.readiness();
    await core.assistant.approvalClick({
      user: user(13),
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "approve",
    });
    emu.runJobs();
    await core.lifecycle.monitor();
    const model = (await t.db.fineTuneJob.findFirstOrThrow()).fineTunedModel!;
    emu.setShutdownDate(model, "2027-01-14");
    clock.current = new Date("2026-12-20T00:00:00Z");
    await core.lifecycle.retirement();
    expect(notifier.dms.at(-1)!.text).toMatch(/will stop serving your model v1 on 2027-01-14/);
    expect((await core.assistant.status(user(13))).status.activeModel.fineTuned).toBe(true);

    clock.current = new Date("2027-01-14T00:00:01Z");
    await core.assistant.mention({
      user: user(13),
      messageId: "after-shutdown",
      channelId: "c",
      text: "Still there?",
    });
    const chat = emu.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect((chat.body as { model: string }).model).toBe("gpt-4.1-mini");
    await core.lifecycle.retirement();
    expect(notifier.dms.at(-1)!.text).toMatch(/was shut down by openai on 2027-01-14/);
    expect((await t.db.modelVersion.findFirstOrThrow()).status).toBe("retired");
    // The curated examples stay: training again is possible.
    expect(await t.db.proposalExample.count()).toBe(THRESHOLD);
  });

  it("/assistant train proposes on demand from the provider minimum, or says how far the user is", async () => {
    await rateMany(user(14), 4);
    const early = await core.assistant.train(user(14));
    expect(early.ok).toBe(false);
    expect(early.text).toMatch(/You have 4 usable highly rated replies; training needs at least 10/);
    await rateMany(user(14), 6, (i) => `Different question ${i} on astronomy and telescopes`);
    const now = await core.assistant.train(user(14));
    expect(now).toEqual({ ok: true, code: "train.offer_sent", text: expect.stringMatching(/sent you a DM/) });
    expect(notifier.prompts).toHaveLength(1);
    expect(notifier.prompts[0]!.prompt.text).toContain("Examples: 10");
  });

  it("two job runners on one database: one DM, one launch", async () => {
    await rateMany(user(15), THRESHOLD);
    const other = build();
    const slot = "2026-11-21T13:00";
    const ran = await Promise.all([
      runClaimed(t.db, "readiness", slot, core.lifecycle.readiness, "replica-a"),
      runClaimed(t.db, "readiness", slot, other.lifecycle.readiness, "replica-b"),
    ]);
    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(notifier.prompts).toHaveLength(1);
    // Even without the claim (a different slot), the one-pending-proposal guard holds.
    await Promise.all([core.lifecycle.readiness(), other.lifecycle.readiness()]);
    expect(notifier.prompts).toHaveLength(1);
    const proposalId = notifier.prompts[0]!.prompt.proposalId;
    await core.assistant.approvalClick({ user: user(15), proposalId, action: "approve" });
    await Promise.all([core.lifecycle.monitor(), other.lifecycle.monitor()]);
    expect(ftJobsAtEmulator()).toHaveLength(1);
    expect(uploads()).toHaveLength(1);
  });
});
