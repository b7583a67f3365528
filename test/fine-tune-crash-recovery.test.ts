// Crashes in the middle of an approval, and what a successful training leaves at the provider.
// A crash is a statement that fails inside the database (a trigger raising an error), the way the
// launch's crash tests fail a provider call: whatever was committed before it stays, the rest is
// lost, and a new core on the same database has to pick up from what is there.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const EXAMPLES = 12;

describe("approval crashes", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let core: ReturnType<typeof createCore>;

  function build() {
    return createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${emu.url}/v1`,
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_PROVIDER: "openai",
        FINETUNE_PLATFORMS: "discord,slack",
        FINETUNE_MIN_REPLY_CHARS: "5",
        FINETUNE_PRICE_PER_1M_TOKENS: "5",
      }),
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

  const ref = { externalId: "discord:4242", platform: "discord" as const };

  /** A person with EXAMPLES highly rated exchanges and a delivered offer; returns its id. */
  async function offer(): Promise<string> {
    const user = await t.db.user.create({
      data: { platform: "discord", externalId: ref.externalId, readyCount: EXAMPLES },
    });
    await t.db.exchange.createMany({
      data: Array.from({ length: EXAMPLES }, (_, i) => ({
        userId: user.id,
        platform: "discord",
        channelId: "c",
        userMessageId: `m${i}`,
        userText: `How do I look after plant number ${i} in winter?`,
        replyText: `Plant ${i} wants a bright window, little water and no draughts until spring.`,
        status: "answered",
        rating: 5,
        ratedAt: clock.now(),
      })),
    });
    const r = await core.assistant.train(ref);
    expect(r.ok).toBe(true);
    return notifier.prompts.at(-1)!.prompt.proposalId;
  }

  /** Makes the next matching statement fail, as if the process died right before it. */
  async function crashOn(table: string, op: "INSERT" | "UPDATE", when = "true") {
    await t.db.$executeRawUnsafe(`
      CREATE OR REPLACE FUNCTION simulated_crash() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'simulated crash before % on %', TG_OP, TG_TABLE_NAME; END $$ LANGUAGE plpgsql`);
    await t.db.$executeRawUnsafe(
      `CREATE TRIGGER simulated_crash BEFORE ${op} ON "${table}" FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION simulated_crash()`,
    );
    return async () => t.db.$executeRawUnsafe(`DROP TRIGGER simulated_crash ON "${table}"`);
  }

  const approve = (proposalId: string, eventKey: string) =>
    core.assistant.approvalClick({ user: ref, proposalId, action: "approve", eventKey });

  const uploads = () => emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/files");
  const jobsCreated = () =>
    emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs");

  async function held() {
    const spend = await core.budgets.spend();
    return spend.total.trainingReservedUsd;
  }

  /** After a crash before the commit: nothing happened, and a second click starts exactly one training. */
  async function expectUntouchedThenApprovable(proposalId: string) {
    expect((await t.db.fineTuneProposal.findUniqueOrThrow({ where: { id: proposalId } })).state).toBe(
      "pending",
    );
    expect(await t.db.costLedgerEntry.count({ where: { kind: "training" } })).toBe(0);
    expect(await t.db.fineTuneJob.count()).toBe(0);
    expect(await held()).toBe(0);
    expect(uploads()).toHaveLength(0);

    // "Restart", and the platform redelivers the same click (its delivery id was not kept, since
    // it commits with the approval): one reservation, one upload, one job.
    core = build();
    await core.lifecycle.monitor();
    const again = await approve(proposalId, "click-1");
    expect(again.promptText).toMatch(/^Approved/);
    expect(uploads()).toHaveLength(1);
    expect(jobsCreated()).toHaveLength(1);
    const ledger = await t.db.costLedgerEntry.findMany({ where: { kind: "training" } });
    expect(ledger.map((e) => e.status)).toEqual(["reserved"]);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");
  }

  it("a crash after the claim, before the reservation, leaves the offer pending and nothing held", async () => {
    const proposalId = await offer();
    const heal = await crashOn("CostLedgerEntry", "INSERT", `NEW."kind" = 'training'`);
    await expect(approve(proposalId, "click-1")).rejects.toThrow(/simulated crash/);
    await heal();
    await expectUntouchedThenApprovable(proposalId);
  });

  it("a crash after the reservation, before the job row, leaves the offer pending and nothing held", async () => {
    const proposalId = await offer();
    const heal = await crashOn("FineTuneJob", "INSERT");
    await expect(approve(proposalId, "click-1")).rejects.toThrow(/simulated crash/);
    await heal();
    await expectUntouchedThenApprovable(proposalId);
  });

  it("a crash after the job row, before the launch's first step, is resumed by the monitor: one file, one job", async () => {
    const proposalId = await offer();
    const heal = await crashOn("FineTuneJob", "UPDATE");
    const outcome = await approve(proposalId, "click-1");
    // The approval itself committed; the launch that follows it is what crashed.
    expect(outcome.promptText).toMatch(/^Approved/);
    await heal();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("approved");
    expect(await held()).toBeGreaterThan(0);
    expect(uploads()).toHaveLength(0);

    core = build();
    await core.lifecycle.monitor();
    await core.lifecycle.monitor();
    expect(uploads()).toHaveLength(1);
    expect(jobsCreated()).toHaveLength(1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");
    expect(await t.db.costLedgerEntry.count({ where: { kind: "training" } })).toBe(1);
  });

  /** Waits until the emulator has received `n` requests matching `pick` (the hung one included). */
  async function received(pick: () => unknown[], n: number) {
    for (let i = 0; i < 500 && pick().length < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pick()).toHaveLength(n);
  }

  it("a monitor run while the approval's upload is in flight leaves it alone: one file", async () => {
    const proposalId = await offer();
    emu.hangNext(1, { match: (r) => r.method === "POST" && r.path === "/v1/files" });
    const click = approve(proposalId, "click-1");
    await received(uploads, 1);
    const other = build();
    await other.lifecycle.monitor();
    expect(uploads()).toHaveLength(1);

    // The upload's connection breaks: the approval says so and gives the step back, so the next
    // monitoring run uploads at once instead of waiting for the lease.
    emu.releaseHung();
    expect((await click).promptText).toMatch(/^Approved/);
    await other.lifecycle.monitor();
    expect(uploads()).toHaveLength(2);
    expect(jobsCreated()).toHaveLength(1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");
  });

  it("a monitor run while the approval's job creation is in flight creates no second job", async () => {
    const proposalId = await offer();
    emu.hangNext(1, { match: (r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs" });
    const click = approve(proposalId, "click-1");
    await received(jobsCreated, 1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("creating");
    const other = build();
    await other.lifecycle.monitor();
    expect(jobsCreated()).toHaveLength(1);
    expect(emu.fineTuning.records.size).toBe(0);

    emu.releaseHung();
    await click;
    await other.lifecycle.monitor();
    expect(jobsCreated()).toHaveLength(2);
    expect(emu.fineTuning.records.size).toBe(1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");
  });

  it("takes over a launch step abandoned longer than any provider call takes", async () => {
    const proposalId = await offer();
    emu.hangNext(1, { match: (r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs" });
    // The process dies with its createJob in flight: its approval never returns.
    void approve(proposalId, "click-1").catch(() => undefined);
    await received(jobsCreated, 1);
    core = build();
    clock.advance(14 * 60_000);
    await core.lifecycle.monitor();
    expect(jobsCreated()).toHaveLength(1);
    clock.advance(2 * 60_000);
    await core.lifecycle.monitor();
    expect(jobsCreated()).toHaveLength(2);
    expect(emu.fineTuning.records.size).toBe(1);
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("running");
    emu.releaseHung();
  });

  /** The state a crash between the old approval's separate commits left: approved, money held, no job. */
  async function strandedApproval(decidedAt: Date): Promise<string> {
    const proposalId = await offer();
    const p = await t.db.fineTuneProposal.update({
      where: { id: proposalId },
      data: { state: "approved", decidedAt },
    });
    const reserved = await core.budgets.reserveTraining({
      userId: p.userId,
      proposalId,
      amountUsd: Number(p.estimatedCostUsd),
    });
    expect(reserved.ok).toBe(true);
    return proposalId;
  }

  it("the monitor starts a recently approved offer that has no job, once, with the money it already held", async () => {
    const proposalId = await strandedApproval(new Date(clock.now().getTime() - 10 * 60_000));
    // Two replicas sweep at once: one job. Then the monitor launches it.
    const other = build();
    await Promise.all([core.lifecycle.resumeApprovals(), other.lifecycle.resumeApprovals()]);
    await core.lifecycle.monitor();

    const jobs = await t.db.fineTuneJob.findMany();
    expect(jobs.map((j) => [j.proposalId, j.state])).toEqual([[proposalId, "running"]]);
    expect(uploads()).toHaveLength(1);
    expect(jobsCreated()).toHaveLength(1);
    const ledger = await t.db.costLedgerEntry.findMany({ where: { kind: "training" } });
    expect(ledger.map((e) => e.status)).toEqual(["reserved"]);
    expect(
      notifier.dms.filter((d) => /interrupted before it started; it has started now/.test(d.text)),
    ).toHaveLength(1);

    emu.runJobs();
    await core.lifecycle.monitor();
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("succeeded");
    expect((await t.db.costLedgerEntry.findFirstOrThrow({ where: { kind: "training" } })).status).toBe(
      "settled",
    );
  });

  it("the monitor releases an old approved offer that has no job and tells its owner", async () => {
    const proposalId = await strandedApproval(new Date(clock.now().getTime() - 20 * 86_400_000));
    expect(await held()).toBeGreaterThan(0);
    await core.lifecycle.monitor();

    expect(await held()).toBe(0);
    expect((await t.db.fineTuneProposal.findUniqueOrThrow({ where: { id: proposalId } })).state).toBe(
      "cancelled",
    );
    expect((await t.db.costLedgerEntry.findFirstOrThrow({ where: { kind: "training" } })).status).toBe(
      "released",
    );
    expect(await t.db.fineTuneJob.count()).toBe(0);
    expect(uploads()).toHaveLength(0);
    expect(notifier.dms.at(-1)!.text).toMatch(/was never started .* Nothing was charged/);
    expect(notifier.closed.at(-1)!.text).toMatch(/was never started/);
    // Closed once: the next run finds nothing left to do.
    await core.lifecycle.monitor();
    expect(notifier.dms.filter((d) => /never started/.test(d.text))).toHaveLength(1);
  });
});
