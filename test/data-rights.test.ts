// Data rights through the core: see, export, forget, opt out / in, and retention. A real database,
// the OpenAI emulator for chat, embeddings and fine-tuning, and trained users built the way the
// fine-tuning lifecycle builds them (rated exchanges, proposal, approval, job, activation).
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { subjectHash } from "../src/core/data-rights/deletions.ts";
import { EXPORT_FORMAT } from "../src/core/data-rights/export.ts";
import { createDataRights } from "../src/core/data-rights/rights.ts";
import { modelSuffix } from "../src/core/fine-tune/launch.ts";
import type { FineTuneProvider } from "../src/core/ports.ts";
import { ProviderError } from "../src/core/ports.ts";
import { runRetention } from "../src/core/retention.ts";
import type { PrismaClient } from "../src/generated/prisma/client.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 12;
const DAY = 86_400_000;

/** Every base table of the public schema, each row as JSON text. */
async function allRows(db: PrismaClient): Promise<Map<string, string[]>> {
  const tables = await db.$queryRaw<Array<{ table_name: string }>>`
    SELECT table_name::text AS table_name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`;
  const out = new Map<string, string[]>();
  for (const { table_name } of tables) {
    const rows = await db.$queryRawUnsafe<Array<{ row: string }>>(
      `SELECT row_to_json(t)::text AS row FROM "${table_name.replace(/"/g, '""')}" t`,
    );
    out.set(
      table_name,
      rows.map((r) => r.row),
    );
  }
  return out;
}

/** Rows anywhere that still hold one of `needles`, or an exchange id of `exchangeIds` in an exchange column. */
async function leftovers(db: PrismaClient, needles: string[], exchangeIds: Set<string>) {
  const tables = await allRows(db);
  const hits: string[] = [];
  for (const [table, rows] of tables) {
    for (const row of rows) {
      for (const needle of needles) if (row.includes(needle)) hits.push(`${table} holds ${needle}: ${row}`);
      for (const [key, value] of Object.entries(JSON.parse(row) as Record<string, unknown>)) {
        const exchangeColumn = /exchangeid/i.test(key) || (table === "Exchange" && key === "id");
        if (exchangeColumn && value !== null && exchangeIds.has(String(value)))
          hits.push(`${table}.${key} = exchange ${String(value)}`);
      }
    }
  }
  return { tables: [...tables.keys()], hits };
}

// Each test trains models through the emulator; with the suite running in parallel that takes a while.
describe("data rights", { timeout: 120_000 }, () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let core: ReturnType<typeof createCore>;
  let seq = 0;

  function build(extra: Record<string, string> = {}) {
    return createCore({
      config: loadConfig({
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
        ...extra,
      }),
      db: t.db,
      log: memoryLogger(),
      clock,
      notifiers: { discord: notifier },
    });
  }

  /** `null`: no fine-tuning provider configured. */
  function rights(provider: FineTuneProvider | null = core.fineTuneProvider ?? null) {
    return createDataRights({
      db: t.db,
      clock,
      log: memoryLogger(),
      provider: provider ?? undefined,
      minRating: 4,
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

  const alice = { externalId: "discord:777000111222333444", platform: "discord" as const };
  const bob = { externalId: "discord:888000111222333555", platform: "discord" as const };

  /** One exchange; rated with `emoji` when given. */
  async function say(u: typeof alice, text: string, emoji?: string) {
    const messageId = `m${++seq}`;
    const r = await core.assistant.mention({ user: u, messageId, channelId: "c", text });
    if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error(`no stored reply: ${r.kind}`);
    await core.assistant.recordReplyMessages(r.exchangeId, [`r${messageId}`]);
    if (emoji)
      await core.assistant.reaction({
        platform: "discord",
        messageId: `r${messageId}`,
        reactorExternalId: u.externalId,
        emoji,
        action: "add",
      });
    return r.exchangeId;
  }

  async function rateMany(u: typeof alice, n: number, tag: string) {
    for (let i = 0; i < n; i++) await say(u, `Question ${i} about topic ${i * 7} ${tag}`, "👍");
  }

  /**
   * A user with `n` highly rated exchanges, an approved offer and a finished training (model v1)
   * whose uploaded files are still at the provider: the job was refreshed to success, and the
   * monitoring run's clean-up of the files (fine-tune-file-cleanup.test.ts) has not run yet.
   */
  async function trainedUser(u: typeof alice, n: number, tag: string) {
    await rateMany(u, n, tag);
    const before = notifier.prompts.length;
    await core.lifecycle.readiness();
    const prompt = notifier.prompts[before]?.prompt;
    if (!prompt) throw new Error("no proposal");
    await core.assistant.approvalClick({ user: u, proposalId: prompt.proposalId, action: "approve" });
    emu.runJobs();
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: u.externalId } });
    await core.lifecycle.refresh(
      (await t.db.fineTuneJob.findFirstOrThrow({ where: { userId: user.id } })).id,
    );
    const job = await t.db.fineTuneJob.findFirstOrThrow({ where: { userId: user.id } });
    expect(job.state).toBe("succeeded");
    return { user, job };
  }

  it("memory shows the counts, the most recent and best-rated exchanges and the model versions", async () => {
    await trainedUser(alice, THRESHOLD, "qq-alice");
    await say(alice, "A later question about sourdough bread qq-alice", "2️⃣");
    await say(alice, "The very latest question about kayaks qq-alice");
    const reply = await rights().memory(alice);
    expect(reply.ok).toBe(true);
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: alice.externalId } });
    expect(user.exchangeCount).toBe(THRESHOLD + 2);
    expect(reply.text).toContain(`Exchanges: ${THRESHOLD + 2}`);
    expect(reply.text).toContain(`rated ${THRESHOLD + 1}, highly rated ${THRESHOLD}, ready for training 0`);
    expect(reply.text).toContain("Training offers: 1, trainings: 1, model versions: 1");
    const recent = reply.text.split("Most recent:")[1]!.split("Best rated:")[0]!;
    expect(recent.split("\n")[1]).toContain("The very latest question about kayaks");
    expect(recent).toContain("(rated 2)");
    const best = reply.text.split("Best rated:")[1]!.split("Your models:")[0]!;
    expect(best).toContain("(rated 5)");
    expect(best).not.toContain("sourdough");
    const version = await t.db.modelVersion.findFirstOrThrow();
    expect(reply.text).toContain(`v1: ${version.modelId} (openai, available`);
    expect(reply.text).toContain("← answering you");

    expect((await rights().memory(bob)).text).toMatch(/I hold nothing about you/);
    expect(await t.db.user.count({ where: { externalId: bob.externalId } })).toBe(0);
  });

  it("export holds every row of theirs and the exact uploaded training files", async () => {
    // 22 examples: a training and a validation file are uploaded.
    const { user, job } = await trainedUser(alice, 22, "qq-alice");
    await trainedUser(bob, THRESHOLD, "qq-bob");
    expect(job.providerValidationFileId).toBeTruthy();

    const result = await rights().exportData(alice);
    expect(result.ok).toBe(true);
    expect(result.file?.name).toMatch(/^assistant-data-\d{4}-\d{2}-\d{2}\.json$/);
    const doc = JSON.parse(result.file!.content);
    expect(doc.format).toBe(EXPORT_FORMAT);
    expect(doc.user).toMatchObject({
      id: user.id,
      externalId: alice.externalId,
      settings: { optedOut: false, activeModelVersionId: expect.any(String) },
      counters: { exchangeCount: 22, ratedCount: 22, highRatedCount: 22, readyCount: 0 },
    });

    const exchanges = await t.db.exchange.findMany({ where: { userId: user.id }, orderBy: { id: "asc" } });
    expect(doc.exchanges.map((e: { id: string }) => e.id)).toEqual(exchanges.map((e) => e.id.toString()));
    expect(doc.exchanges[0]).toMatchObject({
      userText: exchanges[0]!.userText,
      replyText: exchanges[0]!.replyText,
      rating: 5,
      trainedInJobId: job.id,
      reactions: [{ emoji: "👍", rating: 5, exchangeId: exchanges[0]!.id.toString() }],
    });
    expect(JSON.stringify(doc)).not.toContain("qq-bob");

    const proposal = await t.db.fineTuneProposal.findFirstOrThrow({ where: { userId: user.id } });
    expect(doc.proposals).toHaveLength(1);
    expect(doc.proposals[0].exampleExchangeIds).toHaveLength(22);
    expect(doc.jobs).toMatchObject([{ id: job.id, providerFileId: job.providerFileId, state: "succeeded" }]);
    expect(doc.modelVersions).toMatchObject([{ version: 1, modelId: job.fineTunedModel }]);
    const ledger = await t.db.costLedgerEntry.findMany({ where: { userId: user.id } });
    expect(doc.ledgerEntries).toHaveLength(ledger.length);
    expect(doc.ledgerEntries.map((l: { kind: string }) => l.kind).sort()).toEqual(
      ledger.map((l) => l.kind).sort(),
    );
    expect(typeof doc.ledgerEntries[0].id).toBe("string");

    // Byte for byte what the emulator received and stored.
    const stored = (id: string | null) => emu.files.get(id!)!.bytes.toString("utf8");
    expect(doc.proposals[0].trainJsonl).toBe(stored(job.providerFileId));
    expect(doc.proposals[0].validationJsonl).toBe(stored(job.providerValidationFileId));
    expect(doc.proposals[0].trainJsonl).toBe(proposal.trainJsonl);
    expect(doc.uploadedFiles).toHaveLength(2);
    for (const f of doc.uploadedFiles as Array<{ providerFileId: string; sha256: string; bytes: number }>) {
      const bytes = emu.files.get(f.providerFileId)!.bytes;
      expect(f.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(f.bytes).toBe(bytes.length);
    }
    expect(result.text).toMatch(
      /22 exchanges, 1 training offer, 1 training, 1 model version, and the 2 training files/,
    );

    expect((await rights().exportData({ ...alice, externalId: "discord:1" })).file).toBeUndefined();
  });

  it("forget deletes the provider's files and model, then nothing of theirs is left in any table", async () => {
    const { user, job } = await trainedUser(alice, 22, "qq-alice");
    await trainedUser(bob, THRESHOLD, "qq-bob");
    // Alice also set a limit once, as an operator.
    await core.budgets.setLimits({ chatPerDayUsd: 100 }, alice.externalId);
    const aliceExchanges = new Set(
      (await t.db.exchange.findMany({ where: { userId: user.id } })).map((e) => e.id.toString()),
    );
    const proposal = await t.db.fineTuneProposal.findFirstOrThrow({ where: { userId: user.id } });
    const version = await t.db.modelVersion.findFirstOrThrow({ where: { userId: user.id } });
    const ledgerBefore = await t.db.costLedgerEntry.findMany();
    const bobBefore = await t.db.user.findUniqueOrThrow({ where: { externalId: bob.externalId } });
    expect(emu.files.has(job.providerFileId!)).toBe(true);
    expect(emu.models.has(job.fineTunedModel!)).toBe(true);

    const progress: string[] = [];
    const result = await rights().forget(alice, (p) => progress.push(`${p.phase} ${p.done}/${p.total}`));
    expect(result).toMatchObject({ ok: true, undeleted: [] });
    expect(result.text).toMatch(/22 exchanges .*1 training offer.*1 training and 1 model version/);
    expect(result.text).toMatch(/At the provider I deleted 2 uploaded training files and 1 tuned model\./);
    expect(progress).toEqual([
      "database 0/1",
      "database 1/1",
      "provider 0/3",
      "provider 1/3",
      "provider 2/3",
      "provider 3/3",
    ]);

    // At the provider: both uploaded files and the tuned model are gone.
    expect(emu.files.has(job.providerFileId!)).toBe(false);
    expect(emu.files.has(job.providerValidationFileId!)).toBe(false);
    expect(emu.models.has(job.fineTunedModel!)).toBe(false);
    const deletes = emu.requests.filter((r) => r.method === "DELETE").map((r) => r.path);
    expect(deletes.sort()).toEqual(
      [
        `/v1/files/${job.providerFileId}`,
        `/v1/files/${job.providerValidationFileId}`,
        `/v1/models/${job.fineTunedModel}`,
      ].sort(),
    );

    // In the database: not a trace, in any table.
    const numericId = alice.externalId.split(":")[1]!;
    const scan = await leftovers(
      t.db,
      [
        user.id,
        alice.externalId,
        numericId,
        "qq-alice",
        proposal.id,
        job.id,
        version.id,
        job.providerFileId!,
        job.fineTunedModel!,
        modelSuffix(user.id),
        subjectHash(alice.externalId),
      ],
      aliceExchanges,
    );
    expect(scan.tables).toEqual(
      expect.arrayContaining([
        "User",
        "Exchange",
        "ExchangeReaction",
        "FineTuneProposal",
        "ProposalExample",
        "FineTuneJob",
        "ModelVersion",
        "CostLedgerEntry",
        "AdminLimits",
        "JobRun",
        "ProcessedEvent",
        "DeletionRecord",
      ]),
    );
    expect(scan.hits).toEqual([]);

    // The ledger keeps the money (the month's totals stay true), anonymised; Bob's rows are untouched.
    const ledgerAfter = await t.db.costLedgerEntry.findMany();
    expect(ledgerAfter).toHaveLength(ledgerBefore.length);
    const sum = (rows: typeof ledgerAfter) => rows.reduce((s, r) => s + Number(r.amountUsd), 0);
    expect(sum(ledgerAfter)).toBeCloseTo(sum(ledgerBefore), 6);
    expect(ledgerAfter.filter((l) => l.userId === null).length).toBe(
      ledgerBefore.filter((l) => l.userId === user.id).length,
    );
    const bobAfter = await t.db.user.findUniqueOrThrow({ where: { externalId: bob.externalId } });
    expect(bobAfter).toEqual(bobBefore);
    expect(await t.db.exchange.count({ where: { userId: bobAfter.id } })).toBe(THRESHOLD);
    expect(await t.db.modelVersion.count({ where: { userId: bobAfter.id } })).toBe(1);
    expect(await t.db.deletionRecord.count()).toBe(0);

    // Asking again: nothing left to delete.
    expect(await rights().forget(alice)).toEqual({
      ok: true,
      code: "forget.nothing",
      text: expect.stringMatching(/nothing to delete/),
      undeleted: [],
    });
  });

  it("a provider failure midway is recorded without their identity, and a second forget finishes", async () => {
    const { user, job } = await trainedUser(alice, THRESHOLD, "qq-alice");
    emu.failNext(1, { status: 500, match: (r) => r.method === "DELETE" && r.path.startsWith("/v1/files/") });
    const first = await rights().forget(alice);
    expect(first.ok).toBe(false);
    expect(first.undeleted).toEqual([
      expect.stringMatching(
        new RegExp(`^openai file ${job.providerFileId}: not deleted yet, will be retried \\(500`),
      ),
    ]);
    expect(first.text).toMatch(/did not go through yet; run \/assistant forget again/);
    // The database is already clean; the model went; the file is still at the provider.
    expect(await t.db.user.count()).toBe(0);
    expect(await t.db.exchange.count()).toBe(0);
    expect(emu.models.has(job.fineTunedModel!)).toBe(false);
    expect(emu.files.has(job.providerFileId!)).toBe(true);
    const records = await t.db.deletionRecord.findMany();
    expect(records).toMatchObject([
      {
        subjectHash: subjectHash(alice.externalId),
        provider: "openai",
        kind: "file",
        resourceId: job.providerFileId,
        status: "failed",
        attempts: 1,
      },
    ]);
    const scan = await leftovers(
      t.db,
      [user.id, alice.externalId, "777000111222333444", "qq-alice"],
      new Set(),
    );
    expect(scan.hits).toEqual([]);

    // The scheduled sweep backs off on a deletion that just failed; the person's own retry does not.
    const fileDeletes = () =>
      emu.requests.filter((r) => r.method === "DELETE" && r.path.startsWith("/v1/files/"));
    expect(fileDeletes()).toHaveLength(1);
    expect(await rights().retryDeletions()).toMatchObject({ deleted: 0, remaining: 1 });
    expect(fileDeletes()).toHaveLength(1);

    const second = await rights().forget(alice);
    expect(second).toMatchObject({ ok: true, undeleted: [] });
    expect(fileDeletes()).toHaveLength(2);
    expect(second.text).toMatch(/already deleted from my database/);
    expect(emu.files.has(job.providerFileId!)).toBe(false);
    expect(await t.db.deletionRecord.count()).toBe(0);
  });

  it("records a model the provider cannot delete for an operator, and cancels an unfinished training", async () => {
    await trainedUser(alice, THRESHOLD, "qq-alice");
    // A second training, approved but still running at the provider.
    await rateMany(alice, THRESHOLD, "qq-again");
    const offer = await core.assistant.train(alice);
    expect(offer.ok).toBe(true);
    await core.assistant.approvalClick({
      user: alice,
      proposalId: notifier.prompts.at(-1)!.prompt.proposalId,
      action: "approve",
    });
    const running = await t.db.fineTuneJob.findFirstOrThrow({ where: { state: "running" } });
    const real = core.fineTuneProvider!;
    let deleteModelCalls = 0;
    const vertexLike: FineTuneProvider = {
      ...real,
      deleteModel: async (model) => {
        deleteModelCalls++;
        throw new ProviderError(
          `Deleting tuned models is not supported; delete ${model} by hand`,
          405,
          undefined,
          "unsupported",
        );
      },
    };
    const result = await rights(vertexLike).forget(alice);
    expect(result.ok).toBe(true);
    expect(result.undeleted).toEqual([
      expect.stringMatching(/^openai model ft:.*cannot be deleted through openai's API/),
    ]);
    expect(result.text).toMatch(/1 item cannot be deleted through the provider's API/);
    expect(result.text).toMatch(
      /At the provider I cancelled 1 unfinished training and deleted 2 uploaded training files\./,
    );
    expect(emu.fineTuning.records.get(running.providerJobId!)!.job.status).toBe("cancelled");
    expect(emu.files.has(running.providerFileId!)).toBe(false);
    const records = await t.db.deletionRecord.findMany();
    expect(records).toMatchObject([{ kind: "model", status: "unsupported", attempts: 1 }]);
    expect(await t.db.user.count()).toBe(0);
    // The released reservation of the cancelled training no longer counts, and points to nobody.
    expect(await t.db.costLedgerEntry.count({ where: { kind: "training", status: "reserved" } })).toBe(0);
    expect(await t.db.costLedgerEntry.count({ where: { NOT: { userId: null } } })).toBe(0);

    // A later forget does not hammer the provider with what it cannot do.
    const again = await rights(vertexLike).forget(alice);
    expect(deleteModelCalls).toBe(1);
    expect(again.ok).toBe(true);
    expect(again.undeleted).toHaveLength(1);
  });

  it("without a provider the database is cleaned and the provider deletions wait as pending", async () => {
    const { job } = await trainedUser(alice, THRESHOLD, "qq-alice");
    const result = await rights(null).forget(alice);
    expect(result.ok).toBe(false);
    expect(await t.db.user.count()).toBe(0);
    expect(await t.db.deletionRecord.findMany({ orderBy: { kind: "asc" } })).toMatchObject([
      { kind: "file", status: "pending", reason: "openai is not configured where this ran" },
      { kind: "model", status: "pending" },
    ]);
    expect(emu.files.has(job.providerFileId!)).toBe(true);
    // An operator with the provider configured sweeps everyone's leftovers.
    const sweep = await rights().retryDeletions();
    expect(sweep).toEqual({
      deleted: 2,
      byKind: { job: 0, file: 1, model: 1 },
      remaining: 0,
      unsupported: 0,
    });
    expect(emu.files.has(job.providerFileId!)).toBe(false);
    expect(emu.models.has(job.fineTunedModel!)).toBe(false);
  });

  it("two sweeps at once (the schedule's and a person's own) settle each deletion once, without errors", async () => {
    const { job } = await trainedUser(alice, THRESHOLD, "qq-alice");
    await rights(null).forget(alice);
    expect(await t.db.deletionRecord.count()).toBe(2);
    const [a, b] = await Promise.all([rights().retryDeletions(), rights().retryDeletions()]);
    // Each record is counted by the sweep that removed it, never twice.
    expect(a.deleted + b.deleted).toBe(2);
    expect(a.byKind.file + b.byKind.file).toBe(1);
    expect(a.byKind.model + b.byKind.model).toBe(1);
    expect([a.remaining, b.remaining]).toEqual([0, 0]);
    expect(await t.db.deletionRecord.count()).toBe(0);
    expect(emu.files.has(job.providerFileId!)).toBe(false);
    expect(emu.models.has(job.fineTunedModel!)).toBe(false);
  });

  it("opted out: answered, nothing stored, nothing used, no offers; opting in starts fresh", async () => {
    await rateMany(alice, THRESHOLD, "qq-alice");
    await core.lifecycle.readiness();
    const offer = notifier.prompts[0]!.prompt;
    const user = await t.db.user.findUniqueOrThrow({ where: { externalId: alice.externalId } });
    const before = {
      exchanges: await t.db.exchange.count(),
      ledger: await t.db.costLedgerEntry.count(),
      chats: emu.requests.filter((r) => r.path === "/v1/chat/completions").length,
    };

    const out = await rights().optOut(alice);
    expect(out.text).toMatch(/you're opted out/);
    expect(out.text).toMatch(/withdrew your pending training offer/);
    expect(await t.db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      optedOut: true,
      optedOutAt: clock.now(),
    });
    expect((await t.db.fineTuneProposal.findUniqueOrThrow({ where: { id: offer.proposalId } })).state).toBe(
      "cancelled",
    );
    // The withdrawn offer's button does nothing.
    const click = await core.assistant.approvalClick({
      user: alice,
      proposalId: offer.proposalId,
      action: "approve",
    });
    expect(click.text).toMatch(/already cancelled/);
    expect(emu.requests.filter((r) => r.path === "/v1/fine_tuning/jobs")).toHaveLength(0);

    // Answered, with nothing of theirs in the prompt, and nothing stored.
    const r = await core.assistant.mention({
      user: alice,
      messageId: "while-out",
      channelId: "c",
      text: "Question 3 about topic 21 qq-alice, again",
    });
    expect(r).toMatchObject({ kind: "reply", failed: false });
    expect(r.kind === "reply" && r.exchangeId).toBeFalsy();
    const chats = emu.requests.filter((x) => x.path === "/v1/chat/completions");
    expect(chats).toHaveLength(before.chats + 1);
    const prompt = JSON.stringify(chats.at(-1)!.body);
    expect(prompt).not.toContain("Question 0 about topic 0");
    expect(await t.db.exchange.count()).toBe(before.exchanges);
    expect(await t.db.exchange.count({ where: { userMessageId: "while-out" } })).toBe(0);
    expect(await t.db.costLedgerEntry.count()).toBe(before.ledger);
    // No offers: neither scheduled nor asked for.
    await core.lifecycle.readiness();
    expect(notifier.prompts).toHaveLength(1);
    expect((await core.assistant.train(alice)).ok).toBe(false);
    expect(await t.db.fineTuneProposal.count({ where: { state: "pending" } })).toBe(0);
    // Still visible and theirs to export or delete.
    expect((await rights().memory(alice)).text).toMatch(/You opted out on 2026-11-21/);

    const again = await rights().optIn(alice);
    expect(again.text).toMatch(/starting fresh/);
    expect(again.text).toMatch(
      new RegExp(`deleted the ${THRESHOLD} exchanges stored before and 1 old training offer`),
    );
    expect(await t.db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      optedOut: false,
      optedOutAt: null,
      exchangeCount: 0,
      ratedCount: 0,
      highRatedCount: 0,
      readyCount: 0,
    });
    expect(await t.db.exchange.count({ where: { userId: user.id } })).toBe(0);
    expect(await t.db.fineTuneProposal.count({ where: { userId: user.id } })).toBe(0);
    // Learning again from zero.
    await say(alice, "First question after coming back qq-alice", "👍");
    expect(await t.db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      exchangeCount: 1,
      highRatedCount: 1,
      readyCount: 1,
    });
    expect((await rights().optIn(alice)).text).toMatch(/You're not opted out/);
  });

  it("opting out before the first message stores nothing from then on", async () => {
    await rights().optOut(bob);
    expect(await t.db.user.findUniqueOrThrow({ where: { externalId: bob.externalId } })).toMatchObject({
      optedOut: true,
      exchangeCount: 0,
    });
    const r = await core.assistant.mention({
      user: bob,
      messageId: "b1",
      channelId: "c",
      text: "Hello there",
    });
    expect(r.kind).toBe("reply");
    expect(await t.db.exchange.count()).toBe(0);
    expect((await rights().optOut(bob)).text).toMatch(/already opted out/);
  });

  it("opting out cancels a training still running at the provider and releases its reservation", async () => {
    await rateMany(alice, THRESHOLD, "qq-alice");
    await core.lifecycle.readiness();
    await core.assistant.approvalClick({
      user: alice,
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "approve",
    });
    const job = await t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("running");
    const out = await rights().optOut(alice);
    expect(out.text).toMatch(/cancelled 1 training/);
    expect(emu.fineTuning.records.get(job.providerJobId!)!.job.status).toBe("cancelled");
    expect((await t.db.fineTuneJob.findFirstOrThrow()).state).toBe("cancelled");
    expect((await t.db.costLedgerEntry.findFirstOrThrow({ where: { kind: "training" } })).status).toBe(
      "released",
    );
  });

  it("retention deletes old exchanges except untrained highly rated ones, unless their owner opted out", async () => {
    const start = clock.now();
    // Day 0: Alice's old exchanges of every kind; Bob's highly rated one.
    const unrated = await say(alice, "Old unrated question qq-alice");
    const low = await say(alice, "Old low rated question qq-alice", "2️⃣");
    const keep = await say(alice, "Old highly rated question qq-alice", "👍");
    const trained = await say(alice, "Old highly rated trained question qq-alice", "5️⃣");
    // As a successful fine-tune leaves it: trained, no longer ready.
    await t.db.exchange.update({ where: { id: trained }, data: { trainedAt: start } });
    const aliceRow = await t.db.user.findUniqueOrThrow({ where: { externalId: alice.externalId } });
    await t.db.user.update({ where: { id: aliceRow.id }, data: { readyCount: { decrement: 1 } } });
    const bobOld = await say(bob, "Bob's old highly rated question", "👍");
    // An old declined offer's dataset ages out too.
    await t.db.fineTuneProposal.create({
      data: {
        userId: aliceRow.id,
        state: "declined",
        origin: "scheduled",
        provider: "openai",
        baseModel: "b",
        examples: 1,
        trainExamples: 1,
        validationExamples: 0,
        tokens: 1,
        epochs: 1,
        redactions: 0,
        drops: {},
        estimatedCostUsd: "0.01",
        estimatedSeconds: 1,
        trainJsonl: "{}\n",
        datasetSha256: "x",
        createdAt: start,
        expiresAt: start,
      },
    });
    // Day 80: recent ones.
    clock.advance(80 * DAY);
    const recent = await say(alice, "Recent unrated question qq-alice");
    const bobRecent = await say(bob, "Bob's recent question");
    await rights().optOut(bob);
    // Day 91.
    clock.advance(11 * DAY);
    const result = await runRetention({ db: t.db, clock, log: memoryLogger(), minRating: 4, batchSize: 2 });
    expect(result).toMatchObject({ deletedExchanges: 4, users: 2, deletedProposals: 1, batches: 3 });
    expect(result.cutoff).toEqual(new Date(clock.now().getTime() - 90 * DAY));

    const left = (await t.db.exchange.findMany({ orderBy: { id: "asc" } })).map((e) => e.id);
    expect(left).toEqual([keep, recent, bobRecent]);
    for (const gone of [unrated, low, trained, bobOld])
      expect(await t.db.exchangeReaction.count({ where: { exchangeId: gone } })).toBe(0);

    // Counters agree with the rows that are left.
    for (const u of await t.db.user.findMany()) {
      const rows = await t.db.exchange.findMany({ where: { userId: u.id } });
      const high = rows.filter((e) => (e.rating ?? 0) >= 4);
      expect(u).toMatchObject({
        exchangeCount: rows.length,
        ratedCount: rows.filter((e) => e.rating !== null).length,
        highRatedCount: high.length,
        readyCount: high.filter((e) => e.trainedAt === null && e.status === "answered").length,
      });
    }
    expect((await t.db.user.findUniqueOrThrow({ where: { id: aliceRow.id } })).readyCount).toBe(1);
    // Running again finds nothing more.
    expect(
      (await runRetention({ db: t.db, clock, log: memoryLogger(), minRating: 4 })).deletedExchanges,
    ).toBe(0);
    // A shorter age takes the recent ones (11 days old) as well, but still keeps the training example.
    const short = await runRetention({
      db: t.db,
      clock,
      log: memoryLogger(),
      minRating: 4,
      retentionDays: 10,
    });
    expect(short.deletedExchanges).toBe(2);
    expect((await t.db.exchange.findMany()).map((e) => e.id)).toEqual([keep]);
  });

  it("retention prunes handled-event keys after a week and scheduled-run records after 30 days", async () => {
    const ago = (days: number) => new Date(clock.now().getTime() - days * DAY);
    await t.db.processedEvent.createMany({
      data: [
        { key: "Ev-8-days", createdAt: ago(8) },
        { key: "Ev-6-days", createdAt: ago(6) },
        { key: "Ev-1-hour", createdAt: new Date(clock.now().getTime() - 3_600_000) },
      ],
    });
    const run = (job: string, slot: string, days: number) => ({
      job,
      slot,
      claimedBy: "replica-a",
      claimedAt: ago(days),
      finishedAt: ago(days),
      outcome: "ok",
    });
    await t.db.jobRun.createMany({
      data: [
        run("monitor", "old-1", 40),
        run("monitor", "old-2", 31),
        run("monitor", "recent", 29),
        // A job that has not run for a long time keeps its last record: its last known outcome.
        run("yearly-report", "last", 200),
        run("yearly-report", "before-last", 400),
      ],
    });

    const result = await runRetention({ db: t.db, clock, log: memoryLogger(), minRating: 4, batchSize: 2 });
    expect(result).toMatchObject({ deletedEvents: 1, deletedJobRuns: 3 });
    expect((await t.db.processedEvent.findMany({ orderBy: { key: "asc" } })).map((e) => e.key)).toEqual([
      "Ev-1-hour",
      "Ev-6-days",
    ]);
    expect((await t.db.jobRun.findMany({ orderBy: { id: "asc" } })).map((r) => `${r.job}/${r.slot}`)).toEqual(
      ["monitor/recent", "yearly-report/last"],
    );
    // A replayed delivery from an hour ago is still recognised after the job ran.
    expect(
      (await t.db.processedEvent.createMany({ data: [{ key: "Ev-1-hour" }], skipDuplicates: true })).count,
    ).toBe(0);
  });
});
