// Issue 18, end to end: the bot core (as the app builds it) on a real Postgres server with the real
// migrations, and the real trainer worker (`python -m lora_trainer`, trainer/) as its own process.
// A person's rated replies become an offer priced in GPU time; they approve; the worker claims the
// queued row, trains a LoRA adapter on CPU for a tiny model made here (nothing downloaded), and
// publishes it on the shared adapters directory; the monitor sees it succeed and asks vLLM (the
// emulator, which reads the adapter from disk as vLLM does) to load it; the next reply is answered
// by the adapter. Run by `npm run test:trainer-e2e` (needs the trainer venv and DATABASE_URL; .ci/run
// provides both). Every assertion is on the database, the disk, or what reached an emulator.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createCore } from "../../src/core/create-core.ts";
import { type OpenDatabase, openDatabase } from "../../src/database/open-database.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "../emulators/openai/index.ts";
import { startVllmEmulator, type VllmEmulator } from "../emulators/vllm/index.ts";
import { memoryLogger, TestClock } from "../support/core.ts";
import { rateReplies } from "../support/rate-replies.ts";
import { RecordingNotifier } from "../support/recording-notifier.ts";

const REPO = resolve(import.meta.dirname, "../..");
const TRAINER = join(REPO, "trainer");
const VENV = process.env.TRAINER_VENV ?? join(homedir(), ".cache/learning-assistant/trainer-venv");
const PYTHON = join(VENV, "bin/python");
// 20 training examples and 2 for validation (dataset.ts holds out a tenth from 20 on).
const THRESHOLD = 22;
const ALICE = { externalId: "discord:4001", platform: "discord" as const };

/** The environment this test needs, or a message saying how to get it: it never skips. */
function requireEnvironment(): string {
  if (!existsSync(PYTHON))
    throw new Error(
      `The trainer venv is missing (${PYTHON}). Install it with trainer/scripts/install-cpu.sh "${VENV}" ` +
        "(.ci/run does), or point TRAINER_VENV at one.",
    );
  const url = process.env.DATABASE_URL;
  if (!url?.startsWith("postgres"))
    throw new Error(
      'DATABASE_URL must name a Postgres server: eval "$(../shared/scripts/postgres-pgvector.sh start)" (.ci/run does).',
    );
  return url;
}

describe("self-hosted training with the real worker, end to end", () => {
  let server: string;
  let dbName: string;
  let url: string;
  let opened: OpenDatabase;
  let openai: OpenAIEmulator;
  let vllm: VllmEmulator;
  let work: string;
  let adapterDir: string;
  let modelDir: string;
  let worker: ChildProcess | undefined;
  let workerLog: string;

  beforeAll(async () => {
    server = requireEnvironment();
    work = await mkdtemp(join(tmpdir(), "trainer-e2e-"));
    adapterDir = join(work, "adapters");
    modelDir = join(work, "tiny-model");
    workerLog = join(work, "worker.log");
    // The trainer's own tiny model (trainer/tests/tiny_model.py): random weights, a BPE tokenizer
    // with a chat template, saved for from_pretrained. The job's baseModel is its path.
    const made = spawnSync(
      PYTHON,
      [
        "-c",
        "import sys, pathlib; sys.path.insert(0, 'tests'); from tiny_model import make_tiny_model; make_tiny_model(pathlib.Path(sys.argv[1]))",
        modelDir,
      ],
      { cwd: TRAINER, encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } },
    );
    if (made.status !== 0) throw new Error(`making the tiny model failed:\n${made.stderr}`);

    // A database of its own on the server, migrated by the bot's own openDatabase.
    dbName = `trainer_e2e_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${dbName}"`);
    await admin.end();
    const u = new URL(server);
    u.pathname = `/${dbName}`;
    url = u.toString();
    opened = await openDatabase({ url, dataDir: join(work, "unused") });

    openai = await startOpenAIEmulator();
    vllm = await startVllmEmulator({ baseModel: modelDir, readAdaptersFromDisk: true });

    const log = createWriteStream(workerLog);
    worker = spawn(PYTHON, ["-m", "lora_trainer"], {
      cwd: TRAINER,
      env: {
        ...process.env,
        DATABASE_URL: url,
        TRAINER_ADAPTER_DIR: adapterDir,
        TRAINER_WORKER_ID: "e2e-gpu",
        TRAINER_POLL_SECONDS: "0.2",
        TRAINER_HEARTBEAT_SECONDS: "0.25",
        TRAINER_LEASE_SECONDS: "5",
        HF_HUB_OFFLINE: "1",
        HF_DATASETS_OFFLINE: "1",
        OMP_NUM_THREADS: "1",
        TOKENIZERS_PARALLELISM: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    worker.stdout?.pipe(log);
    worker.stderr?.pipe(log);
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once("exit", r));
      worker.kill("SIGTERM"); // the worker gives its job back and exits 0
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (worker.exitCode === null) worker.kill("SIGKILL");
    }
    await opened?.close();
    if (dbName) {
      const admin = new pg.Client({ connectionString: server });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await admin.end();
    }
    await openai?.close();
    await vllm?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("approve, claim, train, succeed: the adapter on disk is loaded into vLLM and answers the next reply", async () => {
    const db = opened.db;
    expect(opened.kind).toBe("postgres");
    const notifier = new RecordingNotifier();
    const core = createCore({
      config: loadConfig({
        DATABASE_URL: url,
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        CHAT_MODEL: "gpt-4.1-mini",
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_PROVIDER: "self-hosted",
        FINETUNE_BASE_MODEL: modelDir,
        FINETUNE_PLATFORMS: "discord",
        FINETUNE_EPOCHS: "2",
        FINETUNE_LORA_RANK: "8",
        LORA_SERVER_URL: `${vllm.url}/v1`,
        // The worker and vLLM share the volume: the same path for both.
        LORA_ADAPTER_DIR: adapterDir,
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
        TRAINER_TOKENS_PER_SECOND: "200",
        TRAINER_GPU_USD_PER_HOUR: "0.9",
      }),
      db,
      log: memoryLogger(),
      clock: new TestClock(new Date()),
      notifiers: { discord: notifier },
    });

    await rateReplies(core.assistant, ALICE, THRESHOLD, (i) => `What colour is box number ${i}?`);
    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    const { prompt } = notifier.prompts[0]!;
    expect(prompt.text).toContain("an estimate of time on the operator's own GPU");
    const click = await core.assistant.approvalClick({
      user: ALICE,
      proposalId: prompt.proposalId,
      action: "approve",
      eventKey: "approve-1",
    });
    expect(click.promptText).toMatch(/^Approved/);
    const proposal = await db.fineTuneProposal.findFirstOrThrow();
    expect(proposal.validationJsonl).not.toBeNull();

    // The monitoring job, as the scheduler runs it, until the worker has trained and published.
    const deadline = Date.now() + 240_000;
    let job = await db.fineTuneJob.findFirstOrThrow();
    while (job.state === "running" && Date.now() < deadline) {
      await core.lifecycle.monitor();
      job = await db.fineTuneJob.findFirstOrThrow();
      if (worker?.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const workerOutput = await readFile(workerLog, "utf8");
    expect(job.state, `the job did not succeed; worker log:\n${workerOutput.slice(-4000)}`).toBe("succeeded");

    // The worker's row: one claim by this worker, every step done, the validation loss measured.
    const row = await db.trainerJob.findUniqueOrThrow({ where: { fineTuneJobId: job.id } });
    expect(row).toMatchObject({
      state: "succeeded",
      attempts: 1,
      claimedBy: "e2e-gpu",
      error: null,
      trainJsonl: proposal.trainJsonl,
      datasetSha256: proposal.datasetSha256,
      adapterPath: join(adapterDir, row.id),
    });
    const progress = row.progress as { step: number; totalSteps: number; evalLoss?: number };
    expect(progress.step).toBe(progress.totalSteps);
    expect(progress.step).toBeGreaterThan(0);
    expect(typeof progress.evalLoss).toBe("number");
    expect(job.fineTunedModel).toBe(row.id);

    // The adapter on disk, in PEFT's format for vLLM, for the base model the job named.
    const config = JSON.parse(await readFile(join(adapterDir, row.id, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({ peft_type: "LORA", r: 8, base_model_name_or_path: modelDir });
    expect((await stat(join(adapterDir, row.id, "adapter_model.safetensors"))).size).toBeGreaterThan(0);

    // Activation: vLLM was asked to load it from the shared directory, and did (from disk).
    const loads = vllm.requests.filter((r) => r.method === "POST" && r.path === "/v1/load_lora_adapter");
    expect(loads.map((r) => (r as unknown as { body: unknown }).body)).toContainEqual({
      lora_name: row.id,
      lora_path: join(adapterDir, row.id),
    });
    expect(vllm.adapters.loaded.get(row.id)?.path).toBe(join(adapterDir, row.id));
    const version = await db.modelVersion.findFirstOrThrow();
    expect(version).toMatchObject({ provider: "self-hosted", adapterName: row.id, adapterServer: "vllm" });
    expect(notifier.dms.at(-1)!.text).toMatch(/Your own model \(v1\) is ready/);

    // The next reply is answered by the adapter.
    const reply = await core.assistant.mention({
      user: ALICE,
      messageId: "after",
      channelId: "c",
      text: "And box 3?",
    });
    expect(reply.kind === "reply" && reply.model).toBe(row.id);
    expect(vllm.answers.at(-1)).toMatchObject({ model: row.id, adapter: { name: row.id } });
    // The worker's log never quotes the dataset (trainer/README.md, "Settings").
    expect(workerOutput).not.toContain("What colour is box");
  });
});
