// Text from outside never breaks a reply: what a person sends, what a model answers and what a
// provider says when it fails. NUL characters and lone UTF-16 surrogates (which Postgres and Prisma
// cannot store) are stored as U+FFFD; special-token text such as "<|endoftext|>" is ordinary text to
// the prompt budget and to the training estimate alike. End to end: the real discord.js client
// against the Discord emulator, the OpenAI emulator answering and training, a real database; the
// core against both model providers for what models answer.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { toSlackMrkdwn } from "../src/bots/slack/mrkdwn.ts";
import { REPLACEMENT_CHARACTER } from "../src/core/storable-text.ts";
import { defaultChatReply } from "./emulators/openai/index.ts";
import { buildCore, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { ALICE, BOB, type DiscordApp, startDiscordApp } from "./support/discord-app.ts";
import { type LlmHarness, llmHarnesses } from "./support/llm-harness.ts";
import {
  eventually,
  ALICE as SLACK_ALICE,
  type SlackAppHarness,
  startSlackApp,
} from "./support/slack-app.ts";

const R = REPLACEMENT_CHARACTER;
const THRESHOLD = 10;

describe("text from outside, on Discord", () => {
  let h: DiscordApp;

  beforeAll(async () => {
    h = await startDiscordApp({
      env: {
        FINETUNE_PROVIDER: "openai",
        FINETUNE_PLATFORMS: "discord,slack",
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });
  afterEach(() => {
    h.openai.setReply(defaultChatReply);
  });

  const exchangeFor = (messageId: string) =>
    h.db.exchange.findFirstOrThrow({ where: { platform: "discord", userMessageId: messageId } });
  const lastChatBody = () =>
    JSON.stringify(h.openai.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body);

  it.each([
    ["a NUL character", "before\u0000after", `before${R}after`],
    ["a lone high surrogate (half an emoji)", "half \uD83D of an emoji", `half ${R} of an emoji`],
    ["a lone low surrogate", "\uDE00 opens this message", `${R} opens this message`],
    ["special-token text", "what do <|endoftext|> and <|im_start|> mean?", undefined],
    ["a whole emoji (kept as it is)", "a pair 😀 stays whole", undefined],
  ])("a message holding %s gets an answer and is stored as text", async (_what, sent, expected) => {
    const stored = expected ?? sent;
    const { message, replies } = await h.mention(ALICE, sent);
    expect(replies.map((r) => r.content)).toEqual([`echo(gpt-4.1-mini): ${stored}`]);
    const exchange = await exchangeFor(message.id);
    expect(exchange).toMatchObject({ status: "answered", userText: stored, replyMessageId: replies[0]!.id });
    // The model was asked with the same text that is stored (its memory later is what it saw now).
    expect(lastChatBody()).toContain(JSON.stringify(stored).slice(1, -1));
  });

  it("a model answer holding a NUL character or a lone surrogate is posted and stored as text", async () => {
    h.openai.setReply(() => "The byte \u0000 and a broken \uDC00 emoji, then a whole 🎉.");
    const { message, replies } = await h.mention(ALICE, "say something odd");
    const expected = `The byte ${R} and a broken ${R} emoji, then a whole 🎉.`;
    expect(replies.map((r) => r.content)).toEqual([expected]);
    expect(await exchangeFor(message.id)).toMatchObject({ status: "answered", replyText: expected });
  });

  it("special-token text counts as text in the training estimate: the file uploaded and the bill agree", async () => {
    for (let i = 0; i < THRESHOLD; i++) {
      const { replies } = await h.mention(
        BOB,
        `Question ${i}: what does <|endoftext|> do in topic ${i * 17}? (and \u0000 byte ${i})`,
      );
      await h.rate(BOB, replies[0]!.id, "👍");
    }
    await h.app.core.lifecycle.readiness();
    const dm = h.emu
      .messagesIn(h.dmChannelOf(BOB))
      .find((m) => JSON.stringify(m.components ?? []).includes("ft:approve:"));
    expect(dm?.content).toContain(`Examples: ${THRESHOLD}`);
    const approve = /"custom_id":"(ft:approve:[0-9a-f-]{36})"/.exec(JSON.stringify(dm!.components))![1]!;
    await h.click(BOB, dm!.id, approve);

    const [upload] = [...h.openai.files.values()].filter((f) => f.purpose === "fine-tune");
    const content = upload!.bytes.toString("utf8");
    expect(content.split("\n").filter(Boolean)).toHaveLength(THRESHOLD);
    expect(content).toContain("what does <|endoftext|> do in topic 17?");
    expect(content).toContain(`(and ${R} byte 1)`);
    expect(content).not.toContain("\\u0000");

    h.openai.runJobs();
    await h.app.core.lifecycle.monitor();
    const job = await h.db.fineTuneJob.findFirstOrThrow({
      where: { user: { externalId: `discord:${BOB}` } },
    });
    expect(job.state).toBe("succeeded");
    const proposal = await h.db.fineTuneProposal.findUniqueOrThrow({ where: { id: job.proposalId } });
    // The emulator bills as OpenAI documents, special-token text as text: the estimate is the bill.
    expect(job.trainedTokens).toBe(proposal.tokens);
  });

  it("a provider's failure reason holding a NUL character or a cut emoji is stored, and the person told", async () => {
    for (let i = 0; i < THRESHOLD; i++) {
      const { replies } = await h.mention(ALICE, `Training question ${i} about subject ${i * 19}`);
      await h.rate(ALICE, replies[0]!.id, "👍");
    }
    // 500 characters are kept: the odd prefix puts that cut in the middle of an emoji.
    const reason = `Bad byte \u0000 in line 1;  ${"😀".repeat(300)}`;
    h.openai.failNextJob(reason);
    await h.app.core.lifecycle.readiness();
    const dm = h.emu
      .messagesIn(h.dmChannelOf(ALICE))
      .find((m) => JSON.stringify(m.components ?? []).includes("ft:approve:"));
    const approve = /"custom_id":"(ft:approve:[0-9a-f-]{36})"/.exec(JSON.stringify(dm!.components))![1]!;
    await h.click(ALICE, dm!.id, approve);
    h.openai.runJobs();
    await h.app.core.lifecycle.monitor();

    const job = await h.db.fineTuneJob.findFirstOrThrow({
      where: { user: { externalId: `discord:${ALICE}` } },
    });
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(new RegExp(`^Bad byte ${R} in line 1;  (?:😀)+$`, "u"));
    expect(job.error!.length).toBeLessThanOrEqual(500);
    expect(
      h.emu.messagesIn(h.dmChannelOf(ALICE)).some((m) => m.content.includes(`Bad byte ${R} in line 1`)),
    ).toBe(true);
  });

  it("forget finishes and records the provider's refusal when its message holds a NUL character", async () => {
    // Bob's training files were already deleted after his training; his tuned model is what forget
    // still has to delete at the provider.
    h.openai.failNext(1, {
      status: 500,
      message: `Could not delete \u0000 the model ${"😀".repeat(200)}`,
      match: (r) => r.method === "DELETE" && r.path.startsWith("/v1/models/"),
    });
    const { id } = await h.command(BOB, "forget");
    const warningId = h.emu.interaction(id)!.originalMessageId!;
    const buttonId = /"custom_id":"([^"]+)"/.exec(
      JSON.stringify(h.emu.state.snapshot(h.emu.state.messages.get(warningId)!).components),
    )![1]!;
    const { responses } = await h.click(BOB, warningId, buttonId);
    expect(String(responses.find((r) => r.kind === "followup")?.data.content)).toContain(
      "I deleted everything I held about you",
    );
    expect(await h.db.user.findUnique({ where: { externalId: `discord:${BOB}` } })).toBeNull();
    const owed = await h.db.deletionRecord.findMany({ where: { kind: "model" } });
    expect(owed).toHaveLength(1);
    expect(owed[0]!.reason).toContain(`Could not delete ${R} the model`);
  });

  it("made no request Discord would refuse", () => {
    expect(h.emu.unknownRequests()).toEqual([]);
  });
});

describe("text from outside, on Slack", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({ transport: "http" });
  });
  afterAll(() => h?.stop());

  it("a message holding NUL, a lone surrogate and special-token text gets an answer and is stored", async () => {
    const { ts } = await h.mention(SLACK_ALICE, "zero \u0000, half \uD83D, <|endoftext|> and <|fim_prefix|>");
    const stored = `zero ${R}, half ${R}, <|endoftext|> and <|fim_prefix|>`;
    const reply = await h.replyTo(ts);
    expect(reply.args.text).toBe(toSlackMrkdwn(`echo(gpt-4.1-mini): ${stored}`));
    const exchange = await eventually(
      () => h.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: { not: null } } }),
      "the answered exchange",
    );
    expect(exchange).toMatchObject({ status: "answered", userText: stored });
  });
});

describe.each(llmHarnesses)("a model answer holding unstorable characters (%s)", (_name, startHarness) => {
  let t: TestDatabase;
  let llm: LlmHarness;
  let core: ReturnType<typeof buildCore>;

  beforeEach(async () => {
    t = await createTestDatabase();
    llm = await startHarness();
    core = buildCore(t.db, llm, new TestClock());
  });
  afterEach(async () => {
    await llm.close();
    await t.close();
  });

  it("is stored and returned with U+FFFD in their place", async () => {
    llm.setReply(() => "zero \u0000 byte, lone \uD800 half, whole 😀");
    const user = { externalId: "discord:42", platform: "discord" as const };
    const r = await core.conversation.respond({ user, messageId: "m1", channelId: "c", text: "hi" });
    const expected = `zero ${R} byte, lone ${R} half, whole 😀`;
    expect(r).toMatchObject({ kind: "reply", failed: false, text: expected });
    expect(await t.db.exchange.findFirstOrThrow()).toMatchObject({ status: "answered", replyText: expected });
  });
});
