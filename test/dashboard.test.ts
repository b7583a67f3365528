// The operators' dashboard (src/dashboard/) in a real browser: Debian's Chromium driven by
// playwright-core against a dashboard on a seeded test database. It logs in, opens every page,
// checks that the charts carry the seeded figures, changes a limit (then reads the database and
// the audit row), retries a deletion at the Together emulator, and saves a screenshot of each page
// under test-output/dashboard/. Plain requests check what must change nothing: no session, an
// expired or logged-out session, a missing or wrong CSRF token, too many failed logins.
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../src/app.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { createBudgets } from "../src/core/budgets.ts";
import { subjectHash } from "../src/core/data-rights/deletions.ts";
import { createDataRights } from "../src/core/data-rights/rights.ts";
import { modelSuffix } from "../src/core/fine-tune/launch.ts";
import { createFineTuneProvider } from "../src/core/providers/from-config.ts";
import { SESSION_IDLE_MS } from "../src/dashboard/auth.ts";
import { type Dashboard, startDashboard } from "../src/dashboard/server.ts";
import { startTogetherEmulator, type TogetherEmulator } from "./emulators/together/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = join("test-output", "dashboard");
const TOKEN = "dashboard-test-token-0123456789abcdef";
const OPERATOR = "slack:T9:U42";
const OTHER_OPERATOR = "discord:1001";
const NOW = new Date("2026-11-20T12:00:00Z");
/** Message text that must never appear on a page. */
const PRIVATE_TEXT = "my-private-message-text";

let database: TestDatabase;
let clock: TestClock;
let together: TogetherEmulator;
let dashboard: Dashboard;
let browser: Browser | undefined;
const ids: Record<"ana" | "ben" | "cai", string> = { ana: "", ben: "", cai: "" };
let uploadedFileId = "";

const day = (d: string, h = 10) => new Date(`${d}T${String(h).padStart(2, "0")}:00:00Z`);

async function seed(db: TestDatabase["db"]) {
  const mk = (externalId: string, platform: string) => db.user.create({ data: { externalId, platform } });
  const [ana, ben, cai] = await Promise.all([
    mk("discord:2001", "discord"),
    mk("slack:T1:U2", "slack"),
    mk("discord:2003", "discord"),
  ]);
  ids.ana = ana.id;
  ids.ben = ben.id;
  ids.cai = cai.id;
  let n = 0;
  const exchange = (
    userId: string,
    createdAt: Date,
    o: {
      model?: string;
      rating?: number;
      ratedAt?: Date;
      status?: string;
      level?: string;
      holdout?: boolean;
    } = {},
  ) => {
    n += 1;
    return db.exchange.create({
      data: {
        userId,
        platform: userId === ben.id ? "slack" : "discord",
        channelId: "c1",
        userMessageId: `m${n}`,
        userText: `${PRIVATE_TEXT} ${n}`,
        replyText: `reply ${n}`,
        status: o.status ?? "answered",
        model: o.model ?? "gpt-4.1-mini",
        createdAt,
        rating: o.rating ?? null,
        ratedAt: o.ratedAt ?? null,
        level: o.level ?? null,
        holdout: o.holdout ?? false,
      },
    });
  };
  // Replies per day: 11-18: 4 (ana 3, ben 1), 11-19: 2 (ana 2; cai's failed one is no reply), 11-20: 5 (ben).
  // Ratings: 11-19: 3, 4, 3 (mean 3.33, ana's base model); 11-20: 5, 5 (ana's v1), 4, 2 (ben): mean 4.
  // Levels (issue 16): ana's base-model replies 3 (memory), 4 (few-shot), 3 (the holdout, base);
  // her v1's 5 and 5 (own model).
  const a1 = await exchange(ana.id, day("2026-11-18"), {
    rating: 3,
    ratedAt: day("2026-11-19"),
    level: "memory",
  });
  await exchange(ana.id, day("2026-11-18", 11), { rating: 4, ratedAt: day("2026-11-19"), level: "few_shot" });
  await exchange(ana.id, day("2026-11-18", 12), {
    rating: 3,
    ratedAt: day("2026-11-19"),
    level: "base",
    holdout: true,
  });
  const b1 = await exchange(ben.id, day("2026-11-18", 13));
  await exchange(ana.id, day("2026-11-19"), {
    model: "ft:ana-v1",
    rating: 5,
    ratedAt: day("2026-11-20", 9),
    level: "own_model",
  });
  await exchange(ana.id, day("2026-11-19", 11), {
    model: "ft:ana-v1",
    rating: 5,
    ratedAt: day("2026-11-20", 9),
    level: "own_model",
  });
  await exchange(cai.id, day("2026-11-19", 12), { status: "failed" });
  const b2 = await exchange(ben.id, day("2026-11-20", 8), { rating: 4, ratedAt: day("2026-11-20", 9) });
  await exchange(ben.id, day("2026-11-20", 8), { rating: 2, ratedAt: day("2026-11-20", 9) });
  for (let i = 0; i < 3; i++) await exchange(ben.id, day("2026-11-20", 9));
  await db.user.update({
    where: { id: ana.id },
    data: { exchangeCount: 5, ratedCount: 5, highRatedCount: 3, readyCount: 1 },
  });
  await db.user.update({
    where: { id: ben.id },
    data: { exchangeCount: 6, ratedCount: 2, highRatedCount: 1, readyCount: 40 },
  });
  await db.user.update({ where: { id: cai.id }, data: { exchangeCount: 1 } });

  // Chat spend: 11-18 $0.03 (two answers), 11-20 $0.05.
  const chat = (exchangeId: bigint, userId: string, amountUsd: number, createdAt: Date) =>
    db.costLedgerEntry.create({
      data: { kind: "chat", status: "settled", userId, exchangeId, amountUsd, period: "2026-11", createdAt },
    });
  await chat(a1.id, ana.id, 0.02, day("2026-11-18"));
  await chat(b1.id, ben.id, 0.01, day("2026-11-18", 13));
  await chat(b2.id, ben.id, 0.05, day("2026-11-20", 8));

  // Trainings: ana's succeeded (est. $1.20, billed $1.05, 11-05), ben's running on the self-hosted
  // trainer (step 40 of 100, $2.50 reserved, 11-19), cai's failed (released), ben's older declined offer.
  const proposal = (
    userId: string,
    state: string,
    createdAt: Date,
    estimatedCostUsd: number,
    provider: string,
  ) =>
    db.fineTuneProposal.create({
      data: {
        userId,
        state,
        origin: "scheduled",
        provider,
        baseModel: "Qwen/Qwen3-8B",
        examples: 120,
        trainExamples: 108,
        validationExamples: 12,
        tokens: 48_000,
        epochs: 3,
        redactions: 2,
        drops: {},
        estimatedCostUsd,
        estimatedSeconds: 900,
        trainJsonl: "{}",
        datasetSha256: "0".repeat(64),
        createdAt,
        expiresAt: new Date(createdAt.getTime() + 72 * 3600_000),
        decidedAt: state === "pending" ? null : new Date(createdAt.getTime() + 3600_000),
      },
    });
  const pa = await proposal(ana.id, "approved", day("2026-11-05"), 1.2, "together");
  const ja = await db.fineTuneJob.create({
    data: {
      proposalId: pa.id,
      userId: ana.id,
      provider: "together",
      baseModel: "Qwen/Qwen3-8B",
      state: "succeeded",
      estimatedCostUsd: 1.2,
      actualCostUsd: 1.05,
      trainedTokens: 144_000,
      createdAt: day("2026-11-05", 11),
      startedAt: day("2026-11-05", 11),
      finishedAt: day("2026-11-05", 12),
    },
  });
  const v1 = await db.modelVersion.create({
    data: {
      userId: ana.id,
      jobId: ja.id,
      provider: "together",
      modelId: "ft:ana-v1",
      baseModel: "Qwen/Qwen3-8B",
      version: 1,
      createdAt: day("2026-11-05", 12),
      validationLoss: 0.8125,
      canaryState: "promoted",
      canaryResult: {
        candidate: { n: 12, mean: 4.25, upShare: 0.83 },
        incumbent: { n: 11, mean: 2.5, upShare: 0.27 },
        difference: 1.75,
        pNotWorse: 0.0012,
        pWorse: 0.9988,
        basis: "test",
      },
    },
  });
  await db.user.update({ where: { id: ana.id }, data: { activeModelVersionId: v1.id } });
  const pb = await proposal(ben.id, "approved", day("2026-11-19"), 2.5, "self-hosted");
  const jb = await db.fineTuneJob.create({
    data: {
      proposalId: pb.id,
      userId: ben.id,
      provider: "self-hosted",
      baseModel: "Qwen/Qwen3-8B",
      state: "running",
      providerStatus: "running",
      estimatedCostUsd: 2.5,
      createdAt: day("2026-11-19", 11),
      startedAt: day("2026-11-19", 11),
    },
  });
  await db.trainerJob.create({
    data: {
      fineTuneJobId: jb.id,
      baseModel: "Qwen/Qwen3-8B",
      trainJsonl: "{}",
      datasetSha256: "0".repeat(64),
      state: "running",
      attempts: 1,
      claimedBy: "gpu-box-1:4242:1f3a",
      claimToken: "5d0c7f0e-8b0e-4a53-9d5e-2f6f0d6f7a11",
      heartbeatAt: day("2026-11-20", 11),
      leaseExpiresAt: day("2026-11-20", 13),
      startedAt: day("2026-11-19", 11),
      progress: { step: 40, totalSteps: 100, epoch: 1, loss: 1.234 },
    },
  });
  const pc = await proposal(cai.id, "approved", day("2026-11-10"), 0.8, "together");
  await db.fineTuneJob.create({
    data: {
      proposalId: pc.id,
      userId: cai.id,
      provider: "together",
      baseModel: "Qwen/Qwen3-8B",
      state: "failed",
      estimatedCostUsd: 0.8,
      error: "Together: the dataset has a line without an assistant message",
      createdAt: day("2026-11-10", 11),
      startedAt: day("2026-11-10", 11),
      finishedAt: day("2026-11-10", 11),
    },
  });
  await proposal(ben.id, "declined", day("2026-11-02"), 2.1, "together");
  const training = (userId: string, proposalId: string, status: string, amountUsd: number, createdAt: Date) =>
    db.costLedgerEntry.create({
      data: { kind: "training", status, userId, proposalId, amountUsd, period: "2026-11", createdAt },
    });
  await training(ana.id, pa.id, "settled", 1.05, day("2026-11-05"));
  await training(ben.id, pb.id, "reserved", 2.5, day("2026-11-19", 11));
  await training(cai.id, pc.id, "released", 0.8, day("2026-11-10"));

  // Deletions owed: a training file at Together that failed a minute ago (not due for the sweep
  // yet: "Retry now" retries it anyway), and a Vertex model only an operator can delete.
  const form = new FormData();
  form.set("purpose", "fine-tune");
  form.set("file_name", "ft-old.jsonl");
  form.set(
    "file",
    new Blob([
      `${JSON.stringify({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
        ],
      })}\n`,
    ]),
    "ft-old.jsonl",
  );
  const uploaded = await fetch(`${together.url}/v1/files/upload`, {
    method: "POST",
    headers: { authorization: "Bearer tg-test" },
    body: form,
  });
  expect(uploaded.status).toBe(200);
  uploadedFileId = ((await uploaded.json()) as { id: string }).id;
  await db.deletionRecord.create({
    data: {
      subjectHash: subjectHash("discord:3999"),
      provider: "together",
      kind: "file",
      resourceId: uploadedFileId,
      status: "failed",
      reason: "503: the service is busy",
      attempts: 1,
      createdAt: day("2026-11-12"),
      lastAttemptAt: new Date(NOW.getTime() - 60_000),
    },
  });
  await db.deletionRecord.create({
    data: {
      subjectHash: subjectHash("discord:3998"),
      provider: "vertex",
      kind: "model",
      resourceId: "projects/p/locations/us-central1/models/123",
      status: "unsupported",
      reason: "Vertex cannot delete tuned models through its API",
      attempts: 1,
      createdAt: day("2026-11-08"),
      lastAttemptAt: day("2026-11-08", 11),
    },
  });
}

const budgetsOf = () => createBudgets({ db: database.db, clock });

async function startTestDashboard(options: { trustProxy?: boolean } = {}): Promise<Dashboard> {
  const log = memoryLogger();
  const config = loadConfig({
    OPENAI_API_KEY: "sk-test",
    FINETUNE_PROVIDER: "together",
    TOGETHER_API_KEY: "tg-test",
    TOGETHER_BASE_URL: `${together.url}/v1`,
  });
  const rights = createDataRights({
    db: database.db,
    clock,
    log,
    provider: createFineTuneProvider(config, { db: database.db }),
    minRating: 4,
  });
  return startDashboard({
    host: "127.0.0.1",
    port: 0,
    token: TOKEN,
    trustProxy: options.trustProxy ?? false,
    operators: [OTHER_OPERATOR, OPERATOR],
    db: database.db,
    clock,
    log,
    budgets: budgetsOf(),
    retryDeletions: rights.retryDeletions,
    settings: { threshold: 100, chatModel: "gpt-4.1-mini" },
  });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  database = await createTestDatabase();
  clock = new TestClock(new Date(NOW));
  together = await startTogetherEmulator({ apiKey: "tg-test" });
  await seed(database.db);
  // Set by the other operator, through the core: the first audit rows.
  await budgetsOf().setLimits(
    { chatPerDayUsd: 0.04, trainingTotalMonthUsd: 10, trainingPerUserMonthUsd: 5 },
    OTHER_OPERATOR,
  );
  dashboard = await startTestDashboard();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await together?.close();
  await database?.close();
});

/** The figures a chart's marks carry, by day (or group and series). */
async function marks(page: Page, chart: string): Promise<Record<string, number>> {
  return page.$$eval(`svg[data-chart="${chart}"] [data-value]`, (els) =>
    Object.fromEntries(
      els.map((e) => [
        e.getAttribute("data-day") ?? `${e.getAttribute("data-group")}/${e.getAttribute("data-series")}`,
        Number(e.getAttribute("data-value")),
      ]),
    ),
  );
}

async function logIn(page: Page) {
  await page.goto(`${dashboard.url}/`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await page.fill("#operator", OPERATOR);
  await page.fill("#token", "not-the-token-not-the-token");
  await page.click("button[type=submit]");
  expect(await page.textContent(".flash.bad")).toContain("do not match");
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(`${dashboard.url}/`);
}

describe("the dashboard in Chromium", () => {
  it("logs in, shows every page with the seeded figures, changes a limit and retries a deletion", async () => {
    // A missing browser fails this test (never skips it), saying how to install one.
    if (!existsSync(CHROMIUM))
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (Debian's package; .ci/run does it), or set CHROMIUM_PATH.`,
      );
    browser = await chromium.launch({ executablePath: CHROMIUM });
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Fail at the step that went wrong, well inside the test timeout.
    page.setDefaultTimeout(5_000);
    await logIn(page);
    const cookie = (await context.cookies()).find((c) => c.name === "dashboard_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: false });

    // Overview
    expect(await marks(page, "replies-per-day")).toMatchObject({
      "2026-11-17": 0,
      "2026-11-18": 4,
      "2026-11-19": 2,
      "2026-11-20": 5,
    });
    expect(await marks(page, "active-people-per-day")).toMatchObject({
      "2026-11-18": 2,
      "2026-11-19": 2,
      "2026-11-20": 1,
    });
    expect(await marks(page, "ratings-per-day")).toMatchObject({ "2026-11-19": 3, "2026-11-20": 4 });
    expect(await marks(page, "mean-rating-per-day")).toEqual({ "2026-11-19": 3.33, "2026-11-20": 4 });
    expect(await marks(page, "chat-spend-per-day")).toMatchObject({
      "2026-11-18": 0.03,
      "2026-11-19": 0,
      "2026-11-20": 0.05,
    });
    expect(await page.getAttribute('svg[data-chart="chat-spend-per-day"] line.limit', "data-limit")).toBe(
      "0.04",
    );
    const training = await marks(page, "training-spend-month");
    expect(training).toMatchObject({
      "2026-11-04": 0,
      "2026-11-05": 1.05,
      "2026-11-18": 1.05,
      "2026-11-20": 3.55,
    });
    expect(Object.keys(training)[0]).toBe("2026-11-01");
    expect(await page.getAttribute('svg[data-chart="training-spend-month"] line.limit', "data-limit")).toBe(
      "10",
    );
    const anaShort = modelSuffix(ids.ana).slice(0, 7);
    expect(await marks(page, "model-comparison")).toEqual({
      [`${anaShort}/base model`]: 3.33,
      [`${anaShort}/own model (latest)`]: 5,
    });
    expect(await page.textContent('[data-tile="replies"] .value')).toBe("11");
    expect(await page.textContent('[data-tile="people"] .value')).toBe("3");
    expect(await page.textContent('[data-tile="ratings"] .note')).toContain("3.71");
    await page.screenshot({ path: join(SHOTS, "overview.png"), fullPage: true });

    // People, then one person
    await page.click("nav >> text=People");
    const rows = await page.$$eval("#people tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
    expect(rows).toHaveLength(3);
    const anaRow = rows.find((r) => r.includes(modelSuffix(ids.ana)))!;
    expect(anaRow).toContain("v1");
    expect(anaRow).toContain("4.00"); // (3 + 4 + 3 + 5 + 5) / 5
    expect(rows.find((r) => r.includes(modelSuffix(ids.ben)))).toContain("40 / 100");
    expect(await page.content()).not.toContain(PRIVATE_TEXT);
    await page.screenshot({ path: join(SHOTS, "people.png"), fullPage: true });
    await page.click(`a[href="/people/${modelSuffix(ids.ana)}"]`);
    const versionsRow = await page.textContent("#versions tbody");
    expect(versionsRow).toContain("answers now");
    expect(versionsRow).toContain("promoted");
    expect(versionsRow).toContain("0.813");
    expect(versionsRow).toContain("4.25 (12) vs 2.50 (11), p 0.001 not worse");
    expect(await marks(page, "rating-by-model")).toEqual({
      "base model/mean rating": 3.33,
      "v1/mean rating": 5,
    });
    expect(await marks(page, "rating-by-level")).toEqual({
      "base (holdout)/mean rating": 3,
      "memory/mean rating": 3,
      "few-shot/mean rating": 4,
      "own model/mean rating": 5,
    });
    expect(await page.textContent("#rating-by-level tbody")).toContain("own model");
    expect(await page.content()).not.toContain(PRIVATE_TEXT);
    await page.screenshot({ path: join(SHOTS, "person.png"), fullPage: true });

    // Trainings
    await page.click("nav >> text=Trainings");
    const trainings = await page.textContent("#trainings tbody");
    expect(trainings).toContain("the dataset has a line without an assistant message");
    expect(await page.getAttribute("[data-progress-step]", "data-progress-step")).toBe("40");
    expect(await page.getAttribute("[data-progress-step]", "data-progress-total")).toBe("100");
    expect(await marks(page, "estimate-vs-billed")).toEqual({
      [`${anaShort}/estimated`]: 1.2,
      [`${anaShort}/billed`]: 1.05,
    });
    expect(await page.$$eval("#trainings tbody tr", (trs) => trs.length)).toBe(4);
    await page.screenshot({ path: join(SHOTS, "trainings.png"), fullPage: true });

    // Limits: a bad value changes nothing; then chat-day 0.04 -> 0.06, audited.
    await page.click("nav >> text=Limits");
    await page.fill('input[name="chat-day"]', "lots");
    await page.click('button:has-text("Save limits")');
    expect(await page.textContent(".flash.bad")).toContain("lots");
    expect(
      Number((await database.db.adminLimits.findUniqueOrThrow({ where: { id: 1 } })).chatPerDayUsd),
    ).toBe(0.04);
    await page.fill('input[name="chat-day"]', "0.06");
    await page.click('button:has-text("Save limits")');
    expect(await page.textContent(".flash.ok")).toContain("Limits updated");
    const limits = await database.db.adminLimits.findUniqueOrThrow({ where: { id: 1 } });
    expect(Number(limits.chatPerDayUsd)).toBe(0.06);
    expect(Number(limits.trainingTotalMonthUsd)).toBe(10); // untouched fields stay
    expect(limits.updatedBy).toBe(OPERATOR);
    const audit = await database.db.limitChange.findMany({ orderBy: { id: "desc" }, take: 1 });
    expect(audit[0]).toMatchObject({ changedBy: OPERATOR, limitKey: "chatPerDayUsd" });
    expect([Number(audit[0]!.oldValue), Number(audit[0]!.newValue)]).toEqual([0.04, 0.06]);
    const firstRow = page.locator("#audit tbody tr").first();
    expect(await firstRow.textContent()).toContain(OPERATOR);
    expect(await firstRow.locator("[data-audit-key]").getAttribute("data-new")).toBe("0.06");
    expect(await page.locator("#audit tbody tr").count()).toBe(4); // 3 by the other operator, then this one
    await page.screenshot({ path: join(SHOTS, "limits.png"), fullPage: true });

    // Deletions: "Retry now" deletes the file at Together; the unsupported model stays.
    await page.click("nav >> text=Deletions owed");
    expect(together.files.files.has(uploadedFileId)).toBe(true);
    await page.screenshot({ path: join(SHOTS, "deletions.png"), fullPage: true });
    // "Retry what is due" is the sweep's retry: the failure a minute ago is not due yet.
    await page.click("#retry-all");
    expect(await page.textContent(".flash")).toContain(
      "0 deleted; 1 still to retry; 1 for an operator to delete by hand",
    );
    expect(together.files.files.has(uploadedFileId)).toBe(true);
    await page.click('button:has-text("Retry now")');
    expect(await page.textContent(".flash")).toContain(
      "This person's deletions: 1 deleted; 0 still to retry",
    );
    expect(together.files.files.has(uploadedFileId)).toBe(false);
    const left = await database.db.deletionRecord.findMany();
    expect(left.map((r) => r.status)).toEqual(["unsupported"]);
    await page.screenshot({ path: join(SHOTS, "deletions-after-retry.png"), fullPage: true });

    // Logging out ends the session on the server, not only in this browser.
    const stale = `dashboard_session=${cookie.value}`;
    await page.click('button:has-text("Log out")');
    await page.waitForURL(`${dashboard.url}/login`);
    expect(
      (await fetch(`${dashboard.url}/limits`, { headers: { cookie: stale }, redirect: "manual" })).status,
    ).toBe(303);
    await context.close();
  }, 90_000); // a loaded 2-core machine: Chromium and seven pages may take a while
});

// ---- Requests that must change nothing ------------------------------------------------------

async function login(base: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ operator: OPERATOR, token: TOKEN }),
    redirect: "manual",
  });
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0]!;
  const html = await (await fetch(`${base}/limits`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  return { status: res.status, setCookie, cookie, csrf };
}

async function postLimits(base: string, body: Record<string, string>, cookie?: string) {
  return fetch(`${base}/limits`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(body),
    redirect: "manual",
  });
}

async function state() {
  const limits = await database.db.adminLimits.findUniqueOrThrow({ where: { id: 1 } });
  return { chatDay: Number(limits.chatPerDayUsd), audit: await database.db.limitChange.count() };
}

describe("changes without a valid session and CSRF token", () => {
  it("refuses each of them and changes nothing; the same request with both goes through", async () => {
    const { cookie, csrf } = await login(dashboard.url);
    expect(csrf).not.toBe("");
    const before = await state();
    const refused = [
      await postLimits(dashboard.url, { csrf, "chat-day": "9" }), // no session
      await postLimits(dashboard.url, { "chat-day": "9" }, cookie), // no CSRF token
      await postLimits(dashboard.url, { csrf: `${csrf}x`, "chat-day": "9" }, cookie), // wrong token
      await postLimits(dashboard.url, { csrf, "chat-day": "9" }, "dashboard_session=made-up"), // unknown session
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(await state()).toEqual(before);

    // The control: the same change with both goes through, so the refusals above were the checks.
    const ok = await postLimits(dashboard.url, { csrf, "chat-day": "9" }, cookie);
    expect(ok.status).toBe(303);
    expect(await state()).toEqual({ chatDay: 9, audit: before.audit + 1 });

    // An idle session expires: the same cookie and token no longer change anything.
    clock.advance(SESSION_IDLE_MS + 1000);
    const expired = await postLimits(dashboard.url, { csrf, "chat-day": "7" }, cookie);
    expect(expired.status).toBe(403);
    expect(await state()).toEqual({ chatDay: 9, audit: before.audit + 1 });
    const page = await fetch(`${dashboard.url}/`, { headers: { cookie }, redirect: "manual" });
    expect([page.status, page.headers.get("location")]).toEqual([303, "/login"]);
  });

  it("limits failed logins per client, and marks the cookie Secure only behind a trusted TLS proxy", async () => {
    const proxied = await startTestDashboard({ trustProxy: true });
    try {
      const wrong = () =>
        fetch(`${proxied.url}/login`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": "203.0.113.9" },
          body: new URLSearchParams({ operator: OPERATOR, token: "wrong-wrong-wrong-wrong-wrong" }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await wrong()).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      // Refused even with the right token, from that client; another client still gets in.
      expect((await login(proxied.url, { "x-forwarded-for": "203.0.113.9" })).status).toBe(429);
      const other = await login(proxied.url, {
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-proto": "https",
      });
      expect(other.status).toBe(303);
      expect(other.setCookie).toMatch(/HttpOnly/);
      expect(other.setCookie).toMatch(/SameSite=Strict/);
      expect(other.setCookie).toMatch(/Secure/);
      // Without a trusted proxy the header means nothing.
      const direct = await login(dashboard.url, { "x-forwarded-proto": "https" });
      expect(direct.status).toBe(303);
      expect(direct.setCookie).not.toMatch(/Secure/);
      // A listed operator id is needed: the token alone is not enough.
      const notOperator = await fetch(`${dashboard.url}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ operator: "discord:2001", token: TOKEN }),
        redirect: "manual",
      });
      expect(notOperator.status).toBe(401);
    } finally {
      await proxied.close();
    }
  });
});

// ---- Configuration and start -------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("starting the dashboard", () => {
  const base = { OPENAI_API_KEY: "sk-test", DASHBOARD_PORT: "8080" };

  it("refuses a configuration with no token or no operators, saying what to set", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        return e.problems.map((p) => p.variable);
      }
    };
    expect(problems({ ...base, OPERATORS: OPERATOR })).toEqual(["DASHBOARD_TOKEN"]);
    expect(problems({ ...base, DASHBOARD_TOKEN: TOKEN })).toEqual(["OPERATORS"]);
    expect(problems({ ...base, OPERATORS: OPERATOR, DASHBOARD_TOKEN: "short" })).toEqual(["DASHBOARD_TOKEN"]);
    const config = loadConfig({ ...base, OPERATORS: OPERATOR, DASHBOARD_TOKEN: TOKEN });
    expect(config.dashboard).toEqual({ port: 8080, host: "127.0.0.1", token: TOKEN, trustProxy: false });
    expect(loadConfig({ OPENAI_API_KEY: "sk-test" }).dashboard).toBeUndefined();
  });

  it("is started by the app on 127.0.0.1 when DASHBOARD_PORT is set, and stopped with it", async () => {
    const port = await freePort();
    const config = loadConfig({
      OPENAI_API_KEY: "sk-test",
      DASHBOARD_PORT: String(port),
      DASHBOARD_TOKEN: TOKEN,
      OPERATORS: OPERATOR,
    });
    const app = await startApp({
      config,
      db: database.db,
      log: memoryLogger(),
      schedule: false,
      recover: false,
    });
    try {
      expect(app.dashboard?.url).toBe(`http://127.0.0.1:${port}`);
      const res = await fetch(`${app.dashboard!.url}/login`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    } finally {
      await app.stop();
    }
    await expect(fetch(`http://127.0.0.1:${port}/login`)).rejects.toThrow();
  });
});
