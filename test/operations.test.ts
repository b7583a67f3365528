// What operators rely on: /healthz and /metrics, a graceful shutdown that finishes the reply in
// flight, and a restart that answers what a stop cut short. The bot runs for real (a child process
// for the shutdown tests) against the emulators.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { replyNotices as messages } from "../src/core/messages.ts";
import { openDatabase } from "../src/database/open-database.ts";
import { startHealthServer } from "../src/observability/health-server.ts";
import { startDiscordEmulator } from "./emulators/discord/index.ts";
import { startOpenAIEmulator } from "./emulators/openai/index.ts";
import { seedDataDir } from "./support/database.ts";
import { ALICE, GENERAL, startDiscordApp } from "./support/discord-app.ts";
import { startBot } from "./support/processes.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("health and metrics", () => {
  it("report the database, the platform, replies, provider calls, ratings, jobs and spend", {
    timeout: 90_000,
  }, async () => {
    const h = await startDiscordApp();
    const server = await startHealthServer({
      port: 0,
      db: h.db,
      platforms: h.app.platforms,
      metrics: h.app.metrics,
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const healthy = await fetch(`${base}/healthz`);
      expect(healthy.status).toBe(200);
      expect(await healthy.json()).toEqual({ status: "ok", database: true, platforms: { discord: true } });

      const { replies } = await h.mention(ALICE, "What is observability?");
      await h.rate(ALICE, replies[0]!.id, "👍");
      h.openai.failNext(3, { status: 500, match: "/chat/completions" });
      await h.mention(ALICE, "This one fails");
      // Commands are counted by their outcome code: two refusals (fine-tuning is off here) and an answer.
      await h.command(ALICE, "train");
      await h.command(ALICE, "train");
      await h.command(ALICE, "models");

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/bot_replies_total\{platform="discord",outcome="reply"\} 1/);
      expect(metrics).toMatch(/bot_replies_total\{platform="discord",outcome="failed"\} 1/);
      expect(metrics).toMatch(/bot_reply_duration_seconds_count\{platform="discord"\} 2/);
      expect(metrics).toMatch(
        /bot_provider_request_duration_seconds_count\{provider="openai",operation="chat"\} 4/,
      );
      expect(metrics).toMatch(
        /bot_provider_errors_total\{provider="openai",operation="chat",status="500"\} 3/,
      );
      expect(metrics).toMatch(/bot_ratings_total\{outcome="rated"\} 1/);
      expect(metrics).toMatch(/bot_outcomes_total\{code="train.disabled"\} 2/);
      expect(metrics).toMatch(/bot_outcomes_total\{code="models.base_only"\} 1/);
      expect(metrics).toMatch(/bot_spend_usd\{kind="chat_month"\} [0-9.e-]+/);
      expect(metrics).toContain("# TYPE bot_fine_tune_jobs gauge");
      expect(metrics).not.toContain("What is observability");

      await h.app.platforms.discord!.stop();
      const down = await fetch(`${base}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: "unavailable", platforms: { discord: false } });
    } finally {
      await server.close();
      await h.stop();
    }
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM mid-reply finishes the reply, stores the exchange and exits 0", {
    timeout: 120_000,
  }, async () => {
    const discord = await startDiscordEmulator({
      token: "test-token",
      applicationId: "1000",
      botUserId: "1000",
    });
    discord.addUser({ id: ALICE, username: "alice" });
    discord.addGuild({
      id: "2000",
      name: "g",
      channels: [{ id: GENERAL, name: "general" }],
      members: [ALICE],
    });
    const openai = await startOpenAIEmulator();
    let chatStarted!: () => void;
    const started = new Promise<void>((r) => {
      chatStarted = r;
    });
    openai.setReply(async () => {
      chatStarted();
      await new Promise((r) => setTimeout(r, 1500));
      return "A slow but complete answer.";
    });
    const cwd = mkdtempSync(join(tmpdir(), "bot-shutdown-"));
    dirs.push(cwd);
    const dataDir = join(cwd, "data");
    await seedDataDir(dataDir);
    const bot = startBot(
      {
        DISCORD_TOKEN: "test-token",
        DISCORD_APPLICATION_ID: "1000",
        DISCORD_API_URL: discord.apiUrl,
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        FINETUNE_PROVIDER: "none",
        EMBEDDING_DIMENSIONS: "64",
        HEALTH_PORT: "0",
        DATA_DIR: dataDir,
      },
      cwd,
    );
    try {
      await bot.waitForOutput(/connected to Discord/, 90_000);
      await new Promise((r) => setTimeout(r, 500));
      const message = discord.sendMessage({
        channelId: GENERAL,
        guildId: "2000",
        authorId: ALICE,
        content: "Tell me slowly",
        mentionsBot: true,
      });
      await started;
      bot.child.kill("SIGTERM");
      expect(await bot.exited).toBe(0);
      const posted = discord
        .messagesIn(GENERAL)
        .filter((m) => m.message_reference?.message_id === message.id);
      expect(posted.map((m) => m.content)).toEqual(["A slow but complete answer."]);
    } finally {
      if (bot.child.exitCode === null) bot.child.kill("SIGKILL");
      await openai.close();
      await discord.close();
    }
    const opened = await openDatabase({ dataDir });
    try {
      const exchange = await opened.db.exchange.findFirstOrThrow();
      expect(exchange).toMatchObject({ status: "answered", replyText: "A slow but complete answer." });
      expect(exchange.replyMessageId).not.toBeNull();
    } finally {
      await opened.close();
    }
  });

  it("on SIGTERM with a reply slower than the grace: cancels it, says so, exits, and answers it after the restart, once", {
    timeout: 180_000,
  }, async () => {
    const discord = await startDiscordEmulator({
      token: "test-token",
      applicationId: "1000",
      botUserId: "1000",
    });
    discord.addUser({ id: ALICE, username: "alice" });
    discord.addGuild({
      id: "2000",
      name: "g",
      channels: [{ id: GENERAL, name: "general" }],
      members: [ALICE],
    });
    const openai = await startOpenAIEmulator();
    // The first chat never answers (a model slower than any grace); after the restart it answers.
    openai.hangNext(1, { match: "/chat/completions" });
    openai.setReply(() => "The answer, after the restart.");
    const cwd = mkdtempSync(join(tmpdir(), "bot-restart-"));
    dirs.push(cwd);
    const dataDir = join(cwd, "data");
    await seedDataDir(dataDir);
    const env = {
      DISCORD_TOKEN: "test-token",
      DISCORD_APPLICATION_ID: "1000",
      DISCORD_API_URL: discord.apiUrl,
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      FINETUNE_PROVIDER: "none",
      EMBEDDING_DIMENSIONS: "64",
      HEALTH_PORT: "0",
      DATA_DIR: dataDir,
      SHUTDOWN_GRACE_SECONDS: "1",
    };
    const bots: Array<ReturnType<typeof startBot>> = [];
    try {
      const first = startBot(env, cwd);
      bots.push(first);
      await first.waitForOutput(/"msg":"started"/, 90_000);
      const message = discord.sendMessage({
        channelId: GENERAL,
        guildId: "2000",
        authorId: ALICE,
        content: "Tell me something that takes long",
        mentionsBot: true,
      });
      await vi.waitUntil(() => openai.requests.some((r) => r.fault === "hang"), {
        timeout: 30_000,
        interval: 20,
      });
      first.child.kill("SIGTERM");
      // Bounded: the grace (1 s), then the cancelled reply settles; not the model's pace.
      expect(await first.exited).toBe(0);
      expect(first.output()).toMatch(/cancelling them/);
      const repliesTo = () =>
        discord.messagesIn(GENERAL).filter((m) => m.message_reference?.message_id === message.id);
      expect(repliesTo().map((m) => m.content)).toEqual([messages.restarting]);

      const second = startBot(env, cwd);
      bots.push(second);
      await second.waitForOutput(/answered a message a stop left unanswered/, 90_000);
      expect(repliesTo().map((m) => m.content)).toEqual([
        messages.restarting,
        "The answer, after the restart.",
      ]);
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
      expect(repliesTo()).toHaveLength(2);
    } finally {
      for (const b of bots) if (b.child.exitCode === null) b.child.kill("SIGKILL");
      await openai.close();
      await discord.close();
    }
    const opened = await openDatabase({ dataDir });
    try {
      const exchanges = await opened.db.exchange.findMany();
      expect(exchanges).toHaveLength(1);
      expect(exchanges[0]).toMatchObject({ status: "answered", replyText: "The answer, after the restart." });
      expect(exchanges[0]!.replyMessageId).not.toBeNull();
    } finally {
      await opened.close();
    }
  });
});
