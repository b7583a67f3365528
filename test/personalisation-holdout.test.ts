// The personalisation holdout: a share of replies is answered without memory and few-shot, so the
// ratings show what they add. Asserted on the prompts that reached the OpenAI emulator and on what
// the exchanges record; /assistant status, the admin figures and Prometheus read the same rows.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { ratingsByLevel } from "../src/core/evaluation/ratings-by-level.ts";
import { createMetrics } from "../src/observability/metrics.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

const AFTER = 6;

describe("personalisation holdout and ratings by level", () => {
  let t: TestDatabase;
  let emu: OpenAIEmulator;
  let core: ReturnType<typeof createCore>;

  beforeEach(async () => {
    t = await createTestDatabase();
    emu = await startOpenAIEmulator();
    const config = loadConfig({
      DISCORD_TOKEN: "t",
      DISCORD_APPLICATION_ID: "1",
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${emu.url}/v1`,
      EMBEDDING_DIMENSIONS: "64",
      PERSONALISATION_HOLDOUT: "0.3",
      PERSONALISATION_HOLDOUT_AFTER: String(AFTER),
    });
    core = createCore({ config, db: t.db, log: memoryLogger(), clock: new TestClock(), notifiers: {} });
  });
  afterEach(async () => {
    await emu.close();
    await t.close();
  });

  it("answers the holdout without memory and few-shot, never a person's first replies, and shows the lift", async () => {
    const u = { externalId: "discord:4001", platform: "discord" as const };
    const chats = () => emu.requests.filter((r) => r.path === "/v1/chat/completions");
    const prompts: Array<{ id: bigint; messages: Array<{ role: string; content: string }> }> = [];
    for (let i = 0; i < 40; i++) {
      // A channel each, so no recent turns: anything besides the system prompt and the message is
      // memory or few-shot.
      const r = await core.assistant.mention({
        user: u,
        messageId: `h${i}`,
        channelId: `c${i}`,
        text: `Question ${i} about my sourdough starter`,
      });
      if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
      prompts.push({ id: r.exchangeId, messages: (chats().at(-1)!.body as { messages: [] }).messages });
      await core.assistant.recordReplyMessages(r.exchangeId, [`rh${i}`]);
      await core.assistant.reaction({
        platform: "discord",
        messageId: `rh${i}`,
        reactorExternalId: u.externalId,
        emoji: i % 3 === 0 ? "3️⃣" : "👍",
        action: "add",
      });
    }
    const rows = await t.db.exchange.findMany({ orderBy: { id: "asc" } });
    expect(rows.slice(0, AFTER).every((x) => !x.holdout)).toBe(true);
    const held = rows.filter((x) => x.holdout);
    expect(held.length).toBeGreaterThanOrEqual(4);
    expect(held.length).toBeLessThanOrEqual(20);
    for (const x of rows) {
      const p = prompts.find((q) => q.id === x.id)!.messages;
      if (x.holdout) {
        expect(x.level).toBe("base");
        expect(p).toHaveLength(2);
        expect(p[0]!.content).not.toMatch(/sourdough/);
      } else if (x.id > rows[1]!.id) {
        // From the third reply on, memory and few-shot are there to use.
        expect(["memory", "few_shot"]).toContain(x.level);
        expect(p.length > 2 || /sourdough/.test(p[0]!.content)).toBe(true);
      }
    }

    const status = await core.assistant.command(u, { name: "status", args: "" });
    const heldMean = held.reduce((a, x) => a + x.rating!, 0) / held.length;
    expect(status.text).toContain(`base model (holdout) ${heldMean.toFixed(2)} (${held.length})`);
    const fewShot = rows.filter((x) => x.level === "few_shot");
    expect(status.text).toContain(
      `+ few-shot ${(fewShot.reduce((a, x) => a + x.rating!, 0) / fewShot.length).toFixed(2)} (${fewShot.length})`,
    );

    const figures = await ratingsByLevel(t.db);
    expect(figures.find((f) => f.holdout)).toMatchObject({ level: "base", arm: null, n: held.length });
    const metrics = createMetrics({ db: t.db, budgets: core.budgets });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`bot_rated_replies{level="base",arm="none",holdout="true"} ${held.length}`);
    expect(text).toMatch(/bot_rating_mean\{level="few_shot",arm="none",holdout="false"\} [\d.]+/);
  });
});
