// `npm run admin -- ...` as an operator runs it: a real process on an embedded data directory that the
// test fills beforehand, the OpenAI emulator standing in for the fine-tuning provider.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subjectHash } from "../src/core/data-rights/deletions.ts";
import { modelSuffix } from "../src/core/fine-tune/launch.ts";
import { createOpenAIFineTuneProvider } from "../src/core/providers/openai-fine-tune.ts";
import { openPGlite } from "../src/database/adapters.ts";
import { acquireDataDirLock, pgliteDir } from "../src/database/data-dir-lock.ts";
import { openDatabase } from "../src/database/open-database.ts";
import { PrismaClient } from "../src/generated/prisma/client.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { seedDataDir } from "./support/database.ts";

const script = fileURLToPath(new URL("../scripts/admin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

const ALICE = "discord:777000111222333444";
const BOB = "slack:T0001:U0002";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("npm run admin", () => {
  let dir: string;
  let dataDir: string;
  let emu: OpenAIEmulator;
  let aliceId: string;
  let aliceOpaque: string;
  let fileId: string;
  let modelId: string;

  function admin(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      const child: ChildProcess = spawn(process.execPath, ["--import", tsx, script, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATA_DIR: dataDir, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (d) => {
        stdout += d;
      });
      child.stderr?.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** The data directory as it is now, without migrations (the tool already ran them). */
  async function inspect<T>(fn: (db: PrismaClient) => Promise<T>): Promise<T> {
    const release = acquireDataDirLock(dataDir);
    const pglite = await openPGlite(pgliteDir(dataDir));
    const db = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
    try {
      return await fn(db);
    } finally {
      await db.$disconnect();
      await pglite.close();
      release();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bot-admin-"));
    dataDir = join(dir, "data");
    emu = await startOpenAIEmulator();
    // What the provider holds for Alice: her uploaded training file and her tuned model.
    const provider = createOpenAIFineTuneProvider({ apiKey: "test", baseUrl: `${emu.url}/v1` });
    fileId = await provider.uploadFile({
      filename: "ft-x-train.jsonl",
      content: `${JSON.stringify({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello there" },
        ],
      })}\n`,
    });

    // A data directory as a bot that has run leaves it (migrated: the tool finds nothing to apply).
    // Migrating one is database.test.ts's subject; here it would only cost the migrate engine's run.
    await seedDataDir(dataDir);
    const opened = await openDatabase({ dataDir });
    try {
      const db = opened.db;
      const alice = await db.user.create({ data: { externalId: ALICE, platform: "discord" } });
      aliceId = alice.id;
      aliceOpaque = modelSuffix(alice.id);
      modelId = `ft:gpt-4.1-mini-2025-04-14:emulator-org:${aliceOpaque}:abc12345`;
      emu.addModel({ id: modelId, fineTunedFrom: "gpt-4.1-mini-2025-04-14", owned_by: "emulator-org" });
      const exchanges: Array<[string, string, number | null]> = [
        [
          "Please email me at jane.doe@example.com about the invoice",
          "Sure, I'll send the invoice to jane.doe@example.com shortly; the refund goes to DE89 3704 0044 0532 013.",
          5,
        ],
        [
          "What did <@777000111222333444> ask yesterday about the roadmap?",
          "You asked about the third quarter roadmap milestones.",
          5,
        ],
        ["How do I reverse a list in Python?", "Use reversed(items) or items[::-1] to reverse it.", 4],
        ["An unrated question about the weather", "It looks sunny all week.", null],
      ];
      for (const [i, [userText, replyText, rating]] of exchanges.entries()) {
        await db.exchange.create({
          data: {
            userId: alice.id,
            platform: "discord",
            channelId: "c",
            userMessageId: `a${i}`,
            userText,
            replyText,
            status: "answered",
            costUsd: "0.0003",
            rating,
            ratedAt: rating ? new Date() : null,
            createdAt: new Date(Date.UTC(2026, 10, 1 + i)),
            // What answered (for `lift`): two with few-shot, one in the holdout, one with memory.
            level: ["few_shot", "few_shot", "base", "memory"][i],
            holdout: i === 2,
          },
        });
      }
      await db.user.update({
        where: { id: alice.id },
        data: { exchangeCount: 4, ratedCount: 3, highRatedCount: 3, readyCount: 3 },
      });
      const proposal = await db.fineTuneProposal.create({
        data: {
          userId: alice.id,
          state: "approved",
          origin: "requested",
          provider: "openai",
          baseModel: "gpt-4.1-mini-2025-04-14",
          examples: 10,
          trainExamples: 10,
          validationExamples: 0,
          tokens: 1000,
          epochs: 3,
          redactions: 0,
          drops: {},
          estimatedCostUsd: "0.5",
          estimatedSeconds: 600,
          trainJsonl: "{}\n",
          datasetSha256: "x",
          expiresAt: new Date(),
        },
      });
      const job = await db.fineTuneJob.create({
        data: {
          proposalId: proposal.id,
          userId: alice.id,
          provider: "openai",
          baseModel: "gpt-4.1-mini-2025-04-14",
          state: "succeeded",
          providerFileId: fileId,
          providerJobId: "ftjob-alice",
          fineTunedModel: modelId,
          estimatedCostUsd: "0.5",
          actualCostUsd: "0.5",
        },
      });
      const version = await db.modelVersion.create({
        data: {
          userId: alice.id,
          jobId: job.id,
          provider: "openai",
          modelId,
          baseModel: "gpt-4.1-mini-2025-04-14",
          version: 1,
        },
      });
      await db.user.update({ where: { id: alice.id }, data: { activeModelVersionId: version.id } });
      await db.costLedgerEntry.createMany({
        data: [
          { kind: "chat", status: "settled", userId: alice.id, amountUsd: "0.0012", period: "2026-11" },
          {
            kind: "training",
            status: "settled",
            userId: alice.id,
            proposalId: proposal.id,
            jobId: job.id,
            amountUsd: "0.5",
            period: "2026-11",
          },
        ],
      });
      const bob = await db.user.create({ data: { externalId: BOB, platform: "slack", exchangeCount: 1 } });
      await db.exchange.create({
        data: {
          userId: bob.id,
          platform: "slack",
          channelId: "C1",
          userMessageId: "b1",
          userText: "Bob's question",
          replyText: "Bob's answer",
          status: "answered",
        },
      });
    } finally {
      await opened.close();
    }
  }, 120_000);

  afterAll(async () => {
    await emu?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("help: --help and -h print the usage and exit 0; no command or an unknown one exits 2", async () => {
    const [help, h, none, unknown] = await Promise.all([
      admin(["--help"]),
      admin(["-h"]),
      admin([]),
      admin(["frobnicate"]),
    ]);
    for (const [r, args] of [
      [help, "--help"],
      [h, "-h"],
    ] as const) {
      expect(r.code, args).toBe(0);
      expect(r.stdout).toMatch(/^Usage: npm run admin -- <command>/);
      expect(r.stderr).toBe("");
    }
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: npm run admin -- <command>/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown command "frobnicate"\.\n\nUsage:/);
    expect(unknown.stdout).toBe("");
  }, 120_000);

  it("lift: mean rating and count by level, arm and holdout", async () => {
    const r = await admin(["lift"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
    expect(lines).toEqual([
      ["level", "arm", "holdout", "ratings", "mean"],
      ["base", "-", "yes", "1", "4.00"],
      ["few_shot", "-", "no", "2", "5.00"],
    ]);
  }, 120_000);

  it("users: one row per person with counts and spend, and no platform identities", async () => {
    const r = await admin(["users"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^USER\s+PLATFORM\s+EXCHANGES\s+RATED\s+HIGH\s+READY\s+MODELS\s+OPTED OUT\s+CHAT\s+TRAINING$/,
    );
    const alice = lines.find((l) => l.startsWith(aliceOpaque));
    expect(alice?.split(/\s{2,}/)).toEqual([
      aliceOpaque,
      "discord",
      "4",
      "3",
      "3",
      "3",
      "1",
      "no",
      "$0.0012",
      "$0.50",
    ]);
    expect(lines.filter((l) => /^u[0-9a-f]{16} +slack +1 +0 +0 +0 +0 +no/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toBe("2 people; spend (all time, reserved + settled): chat $0.0012, training $0.50");
    expect(r.stdout).not.toContain("777000111222333444");
    expect(r.stdout).not.toContain("U0002");
  }, 120_000);

  it("export-dataset: the curated examples as JSONL, personal data redacted, identifiers hashed", async () => {
    const file = join(dir, "alice.jsonl");
    const r = await admin(["export-dataset", ALICE, "--out", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${aliceOpaque}: 3 examples \\(openai format\\) from 3 highly rated exchanges; [1-9]\\d* personal data items redacted; written to`,
      ),
    );
    const text = readFileSync(file, "utf8");
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(Object.keys(line)).toEqual(["user", "example", "messages"]);
      expect(line.user).toBe(aliceOpaque);
      expect(line.example).toMatch(/^e[0-9a-f]{16}$/);
      expect(line.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user", "assistant"]);
    }
    expect(new Set(lines.map((l) => l.example)).size).toBe(3);
    // Chronological, like the training files.
    expect(lines[0].messages[1].content).toBe("Please email me at [EMAIL] about the invoice");
    // A fragment of an IBAN (failing its checksum) is redacted in training exports too.
    expect(lines[0].messages[2].content).toBe(
      "Sure, I'll send the invoice to [EMAIL] shortly; the refund goes to [IBAN].",
    );
    expect(lines[1].messages[1].content).toBe(
      "What did <@[REDACTED:user-id]> ask yesterday about the roadmap?",
    );
    expect(text).not.toContain("jane.doe@example.com");
    expect(text).not.toContain("3704 0044");
    expect(text).not.toContain("777000111222333444");
    expect(text).not.toContain(aliceId);
    expect(text).not.toContain("weather");

    // By the opaque id, to stdout: the same file.
    const again = await admin(["export-dataset", aliceOpaque]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(text);
  }, 120_000);

  it("refuses to open the embedded database while the bot holds it", async () => {
    const release = acquireDataDirLock(dataDir);
    try {
      const r = await admin(["users"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/in use by another bot process \(pid \d+\)/);
      expect(r.stderr).toMatch(/stop the bot first, or use DATABASE_URL/);
      expect(r.stdout).toBe("");
    } finally {
      release();
    }
  }, 60_000);

  it("forget: asks for --yes, then deletes the person, their provider file and model, with a progress bar", async () => {
    const refused = await admin(["forget", ALICE]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(
      /4 exchanges, 1 training offer, 1 training and 1 model version will be deleted/,
    );
    expect(refused.stderr).toMatch(/Not confirmed: nothing was deleted/);
    expect(await inspect((db) => db.user.count({ where: { externalId: ALICE } }))).toBe(1);
    expect(emu.files.has(fileId)).toBe(true);

    const r = await admin(["forget", aliceOpaque, "--yes"], {
      FINETUNE_PROVIDER: "openai",
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${emu.url}/v1`,
    });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^Done: I deleted everything I held about you from my database: 4 exchanges/);
    expect(r.stdout).toMatch(/At the provider I deleted 1 uploaded training file and 1 tuned model\./);
    expect(r.stderr).toContain("database [████████████████████████] 1/1");
    expect(r.stderr).toMatch(/provider [░█[\]]+ 0\/2\n/);
    expect(r.stderr).toContain("provider [████████████████████████] 2/2");
    expect(emu.files.has(fileId)).toBe(false);
    expect(emu.models.has(modelId)).toBe(false);

    const after = await inspect(async (db) => ({
      users: (await db.user.findMany()).map((u) => u.externalId),
      exchanges: await db.exchange.count(),
      jobs: await db.fineTuneJob.count(),
      versions: await db.modelVersion.count(),
      ledger: await db.costLedgerEntry.findMany({ orderBy: { id: "asc" } }),
      deletions: await db.deletionRecord.count({ where: { subjectHash: subjectHash(ALICE) } }),
    }));
    expect(after.users).toEqual([BOB]);
    expect(after.exchanges).toBe(1);
    expect(after.jobs).toBe(0);
    expect(after.versions).toBe(0);
    expect(after.deletions).toBe(0);
    // The spend stays, pointing to nobody.
    expect(after.ledger.map((l) => [l.kind, l.userId, l.jobId, l.proposalId, String(l.amountUsd)])).toEqual([
      ["chat", null, null, null, "0.0012"],
      ["training", null, null, null, "0.5"],
    ]);

    const list = await admin(["deletions"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe("No provider deletions are outstanding.\n");
  }, 180_000);
});
