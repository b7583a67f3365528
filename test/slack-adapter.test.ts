// The Slack adapter end to end: the real app graph (startApp -> real Bolt) against the Slack
// emulator, the OpenAI emulator and a real database, over HTTP and over Socket Mode. Assertions
// read what reached Slack (recorded Web API calls, response_url posts) and what the database holds.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SLACK_PART_CHARS, toSlackMrkdwn } from "../src/bots/slack/mrkdwn.ts";
import { approvalButtonId } from "../src/core/button-ids.ts";
import { defaultChatReply } from "./emulators/openai/index.ts";
import {
  ALICE,
  BOB,
  CHANNEL,
  eventually,
  SLACK_IDS,
  type SlackAppHarness,
  startSlackApp,
} from "./support/slack-app.ts";

describe.each(["http", "socket"] as const)("Slack adapter over %s", (transport) => {
  let h: SlackAppHarness;

  beforeAll(async () => {
    // "reject": a post over Slack's 40,000 characters fails instead of being truncated, so a reply
    // that was not split could not pass unnoticed.
    h = await startSlackApp({ transport, emulator: { longText: "reject" } });
  });
  afterAll(() => h?.stop());

  const exchangeFor = (ts: string) =>
    h.database.db.exchange.findFirst({
      where: { platform: "slack", userMessageId: ts },
      include: { user: { select: { externalId: true } } },
    });

  it("is connected, as the bot user of the token's workspace", () => {
    expect(h.slack.connected()).toBe(true);
    expect(h.slack.workspace).toEqual({ teamId: SLACK_IDS.teamId, botUserId: SLACK_IDS.botUserId });
    expect(h.emu.callsTo("auth.test")[0]?.token).toBe(SLACK_IDS.botToken);
  });

  it("answers a mention in a thread under it and records the reply's ts on the exchange", async () => {
    const { ts } = await h.mention(ALICE, "what is a monad, in one sentence?");
    const reply = await h.replyTo(ts);
    expect(reply.args).toMatchObject({ channel: CHANNEL, thread_ts: ts });
    const exchange = await eventually(async () => {
      const e = await exchangeFor(ts);
      return e?.replyMessageId ? e : undefined;
    }, "the reply ts on the exchange");
    expect(exchange).toMatchObject({
      userText: "what is a monad, in one sentence?", // the <@BOT> mention is gone
      channelId: CHANNEL,
      threadId: ts,
      status: "answered",
      replyMessageId: reply.response.ts,
      replyMessageIds: [reply.response.ts],
      user: { externalId: `slack:${SLACK_IDS.teamId}:${ALICE}` },
    });
    expect(reply.args.text).toBe(exchange.replyText);
    expect(h.postsInThread(ts)).toHaveLength(1);
  });

  it("answers a mention inside a thread in that thread", async () => {
    const root = await h.mention(ALICE, "start of a thread");
    await h.replyTo(root.ts);
    const { ts } = await h.mention(ALICE, "a follow-up in the thread", { threadTs: root.ts });
    const reply = await h.emu.waitForCall(
      "chat.postMessage",
      (c) =>
        c.args.thread_ts === root.ts &&
        c.args.text !== undefined &&
        String(c.args.text).includes("follow-up"),
      10_000,
    );
    expect(reply.args.channel).toBe(CHANNEL);
    const exchange = await eventually(() => exchangeFor(ts), "the follow-up exchange");
    expect(exchange.threadId).toBe(root.ts);
  });

  it("answers a direct message in the DM, and in the DM's thread when the message is in one", async () => {
    const top = await h.dm(BOB, "hello in private");
    const reply = await h.emu.waitForCall("chat.postMessage", (c) => c.args.channel === top.channel, 10_000);
    expect(reply.args.thread_ts).toBeUndefined();
    const exchange = await eventually(async () => {
      const e = await exchangeFor(top.ts);
      return e?.replyMessageId ? e : undefined;
    }, "the DM exchange");
    expect(exchange).toMatchObject({
      channelId: top.channel,
      threadId: null,
      replyMessageId: reply.response.ts,
    });

    const threaded = await h.dm(BOB, "and in a thread", { threadTs: top.ts });
    const threadReply = await h.replyTo(top.ts);
    expect(threadReply.args.channel).toBe(top.channel);
    expect((await eventually(() => exchangeFor(threaded.ts), "the threaded DM exchange")).threadId).toBe(
      top.ts,
    );
  });

  it("answers the caption of a file shared in a DM", async () => {
    const channel = await h.dmChannel(BOB);
    const event = {
      ...h.emu.events.message({ userId: BOB, channelId: channel, text: "what is in this file?" }),
    };
    await h.send({ ...event, subtype: "file_share", files: [{ id: "F0FILE", name: "notes.txt" }] });
    const exchange = await eventually(async () => {
      const e = await exchangeFor(String(event.ts));
      return e?.replyMessageId ? e : undefined;
    }, "the file_share exchange");
    expect(exchange.userText).toBe("what is in this file?");
    // The file object carries no download address: the answer says so first (attachments.ts).
    await h.emu.waitForCall(
      "chat.postMessage",
      (c) =>
        c.args.channel === channel &&
        c.args.text ===
          `_I couldn't download notes.txt from the chat platform, so I answered without it._\n\n${exchange.replyText}`,
    );
  });

  it("splits a long reply into parts that each fit and keep code fences whole", async () => {
    const paragraph = (n: number) => `Paragraph ${n}: ${"lorem ipsum dolor sit amet ".repeat(30).trim()}.`;
    const code = Array.from({ length: 150 }, (_, i) => `const value${i} = compute(${i}); // step ${i}`).join(
      "\n",
    );
    const long = [paragraph(1), paragraph(2), `\`\`\`ts\n${code}\n\`\`\``, paragraph(3), paragraph(4)].join(
      "\n\n",
    );
    h.openai.setReply(() => long);
    try {
      const { ts } = await h.mention(ALICE, "write me something long");
      await h.replyTo(ts);
      const exchange = await eventually(async () => {
        const e = await exchangeFor(ts);
        return e && e.replyMessageIds.length > 1 ? e : undefined;
      }, "all reply parts recorded");
      const posts = h.postsInThread(ts);
      expect(posts.length).toBeGreaterThanOrEqual(3);
      expect(posts.every((p) => p.response.ok === true)).toBe(true);
      expect(exchange.replyMessageIds).toEqual(posts.map((p) => p.response.ts));
      expect(exchange.replyMessageId).toBe(posts[0]?.response.ts);
      for (const p of posts) {
        const text = String(p.args.text);
        expect(text.length).toBeLessThanOrEqual(SLACK_PART_CHARS);
        expect((text.match(/^```/gm) ?? []).length % 2).toBe(0);
      }
      const all = posts.map((p) => String(p.args.text)).join("\n");
      for (let i = 0; i < 150; i++) expect(all).toContain(`const value${i} = compute(${i}); // step ${i}`);
      for (let n = 1; n <= 4; n++) expect(all).toContain(`Paragraph ${n}:`);
    } finally {
      h.openai.setReply(defaultChatReply);
    }
  });

  it("never lets model output ping the channel", async () => {
    h.openai.setReply(() => "Attention <!channel> and <!here>: <@U0BOB> look at <https://evil.example|this>");
    try {
      const { ts } = await h.mention(ALICE, "say something loud");
      const reply = await h.replyTo(ts);
      expect(String(reply.args.text)).not.toMatch(/<[!@]/);
      expect(reply.args.text).toBe(
        "Attention &lt;!channel&gt; and &lt;!here&gt;: &lt;@U0BOB&gt; look at &lt;https://evil.example|this&gt;",
      );
    } finally {
      h.openai.setReply(defaultChatReply);
    }
  });

  it("turns a reaction on a reply into a rating and clears it when the reaction is removed", async () => {
    const { ts } = await h.mention(ALICE, "rate this answer please");
    const reply = await h.replyTo(ts);
    const replyTs = String(reply.response.ts);
    await eventually(async () => (await exchangeFor(ts))?.replyMessageId, "reply recorded");

    await h.react(ALICE, replyTs, "+1");
    expect((await eventually(async () => (await exchangeFor(ts))?.rating, "the rating")) as number).toBe(5);
    const reaction = await h.database.db.exchangeReaction.findFirstOrThrow({
      where: { exchange: { userMessageId: ts } },
    });
    expect(reaction).toMatchObject({ emoji: "+1", rating: 5, removedAt: null });

    await h.react(ALICE, replyTs, "+1", { remove: true });
    await eventually(async () => (await exchangeFor(ts))?.rating === null, "the rating cleared");

    // Somebody else's thumbs up is not the asker's rating.
    await h.react(BOB, replyTs, "+1");
    await h.barrier();
    expect((await exchangeFor(ts))?.rating).toBeNull();
  });

  it("/assistant status answers only the caller, with the core's status text", async () => {
    const { ts } = await h.mention(ALICE, "one more for the counts");
    await h.replyTo(ts);
    await eventually(async () => (await exchangeFor(ts))?.replyMessageId, "reply recorded");
    const { delivery, response } = await h.command(ALICE, "status");
    expect(delivery.status).toBe(200);
    // Run in a channel: the workspace's settings that apply there are part of the answer.
    const expected = await h.app.assistant.status(h.userRef(ALICE), {
      serverId: SLACK_IDS.teamId,
      channelId: CHANNEL,
    });
    expect(response.body).toEqual({ response_type: "ephemeral", text: toSlackMrkdwn(expected.text) });
    expect(String(response.body.text)).toContain(`Exchanges remembered: ${expected.status.exchanges}`);
    expect(String(response.body.text)).toContain("Answers in: every channel");
    expect(expected.status.exchanges).toBeGreaterThan(0);
    expect(response).toMatchObject({ kind: "command", userId: ALICE });
  });

  it("/assistant train answers with what the core's train says", async () => {
    const carol = "U0CAROL";
    const { response } = await h.command(carol, "train");
    // A twin with the same (empty) history: asking the core directly must not touch carol's state.
    const expected = await h.app.assistant.train(h.userRef("U0CAROLTWIN"));
    expect(response.body).toEqual({ response_type: "ephemeral", text: toSlackMrkdwn(expected.text) });
  });

  it("/assistant limits from a non-operator is refused by the core", async () => {
    const { response } = await h.command(BOB, "limits");
    const expected = await h.app.assistant.limitsShow(h.userRef(BOB));
    expect(expected.ok).toBe(false);
    expect(response.body).toEqual({ response_type: "ephemeral", text: toSlackMrkdwn(expected.text) });
  });

  it("DMs an approval prompt with Approve and Decline buttons, and answers clicks only to the clicker", async () => {
    const proposalId = randomUUID();
    const ref = await h.app.notifiers.slack!.sendApprovalPrompt(h.externalId(ALICE), {
      proposalId,
      text: "Ready to train your own model on 120 rated answers. Estimated cost: *$0.42*.",
      approveLabel: "Approve ($0.42)",
      declineLabel: "Decline",
    });
    const open = h.emu.callsTo("conversations.open").filter((c) => c.args.users === ALICE);
    expect(open.length).toBeGreaterThan(0);
    const dm = await h.dmChannel(ALICE);
    expect(ref).toEqual({ channel: dm, ts: expect.any(String) });
    const post = await h.emu.waitForCall("chat.postMessage", (c) => c.response.ts === ref.ts);
    expect(post.args.channel).toBe(dm);
    const blocks = post.args.blocks as Array<Record<string, unknown>>;
    expect(blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    expect(JSON.stringify(blocks[0])).toContain("120 rated answers");
    const actions = blocks.find((b) => b.type === "actions") as { elements: Array<Record<string, unknown>> };
    expect(actions.elements).toEqual([
      expect.objectContaining({
        type: "button",
        style: "primary",
        action_id: approvalButtonId("approve", proposalId),
        text: expect.objectContaining({ text: "Approve ($0.42)" }),
      }),
      expect.objectContaining({
        type: "button",
        style: "danger",
        action_id: approvalButtonId("decline", proposalId),
        text: expect.objectContaining({ text: "Decline" }),
      }),
    ]);

    // The owner clicks: the core's answer goes to them, ephemerally.
    const mine = await h.click(ALICE, {
      actionId: approvalButtonId("approve", proposalId),
      value: proposalId,
      channelId: ref.channel!,
      messageTs: ref.ts!,
    });
    expect(mine.delivery.status).toBe(200);
    const toAlice = await h.responseTo(mine.responseUrl);
    expect(toAlice).toMatchObject({ kind: "action", userId: ALICE });
    expect(toAlice.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
    const core = await h.app.assistant.approvalClick({
      user: h.userRef(ALICE),
      proposalId,
      action: "approve",
    });
    expect(toAlice.body.text).toBe(toSlackMrkdwn(core.text));

    // Someone else clicks: whatever the core says is shown to that person only.
    const theirs = await h.click(BOB, {
      actionId: approvalButtonId("decline", proposalId),
      value: proposalId,
      channelId: ref.channel!,
      messageTs: ref.ts!,
    });
    const toBob = await h.responseTo(theirs.responseUrl);
    expect(toBob).toMatchObject({ kind: "action", userId: BOB });
    expect(toBob.body.response_type).toBe("ephemeral");
    expect(typeof toBob.body.text).toBe("string");
    if (core.promptText === undefined) {
      expect(h.emu.callsTo("chat.update").filter((c) => c.args.ts === ref.ts)).toHaveLength(0);
    }

    // The core closes the prompt: the new text, and no buttons left.
    await h.app.notifiers.slack!.closeApprovalPrompt(
      ref,
      "Declined. I'll ask again when you have 50 more rated answers.",
    );
    const stored = h.emu.messages(dm).find((m) => m.ts === ref.ts);
    expect(stored?.text).toBe("Declined. I'll ask again when you have 50 more rated answers.");
    expect((stored?.blocks ?? []).some((b) => (b as { type?: string }).type === "actions")).toBe(false);
  });

  it("sends a plain DM through the notifier", async () => {
    await h.app.notifiers.slack!.sendDirectMessage(h.externalId(BOB), "Your model **v2** is ready.");
    const dm = await h.dmChannel(BOB);
    const post = await h.emu.waitForCall(
      "chat.postMessage",
      (c) => c.args.text === "Your model *v2* is ready.",
    );
    expect(post.args.channel).toBe(dm);
  });

  it("a delivery retried with the same event_id produces one reply", async () => {
    const eventId = `Ev${randomUUID().slice(0, 8).toUpperCase()}`;
    const first = await h.mention(ALICE, "answer me once", { eventId });
    await h.replyTo(first.ts);
    await h.mention(ALICE, "answer me once", { eventId, ts: first.ts, retryNum: 1 });
    // The same message again under a new event id (as after a restart): the core's idempotency.
    await h.mention(ALICE, "answer me once", { ts: first.ts });
    await h.barrier();
    // The retry was skipped by the adapter's memory of event ids, before reaching the core.
    expect(
      h.log.lines.some((l) => l.includes("skipped a repeated event delivery") && l.includes(eventId)),
    ).toBe(true);
    expect(h.postsInThread(first.ts)).toHaveLength(1);
    expect(await h.database.db.exchange.count({ where: { userMessageId: first.ts } })).toBe(1);
  });

  it("a repeated reaction event is applied once", async () => {
    const { ts } = await h.mention(ALICE, "rate me twice");
    const reply = await h.replyTo(ts);
    await eventually(async () => (await exchangeFor(ts))?.replyMessageId, "reply recorded");
    const eventId = `Ev${randomUUID().slice(0, 8).toUpperCase()}`;
    await h.react(ALICE, String(reply.response.ts), "five", { eventId });
    await eventually(async () => (await exchangeFor(ts))?.rating === 5, "the rating");
    await h.react(ALICE, String(reply.response.ts), "five", { remove: true });
    await eventually(async () => (await exchangeFor(ts))?.rating === null, "the rating cleared");
    // The add replayed after the removal must not bring the rating back.
    await h.react(ALICE, String(reply.response.ts), "five", { eventId });
    await h.barrier();
    expect((await exchangeFor(ts))?.rating).toBeNull();
  });

  it("ignores bot messages, edits, deletions and plain channel messages", async () => {
    const dm = await h.dmChannel(ALICE);
    const before = await h.database.db.exchange.count();
    const postsBefore = h.emu.callsTo("chat.postMessage").length;
    const ts = () =>
      `${Math.floor(Date.now() / 1000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
    await h.send({
      type: "message",
      subtype: "bot_message",
      bot_id: "B0OTHER",
      text: "I am another bot",
      ts: ts(),
      channel: dm,
      channel_type: "im",
    });
    await h.send({
      type: "message",
      user: "U0OTHERBOT",
      bot_id: "B0OTHER",
      text: "a bot with a user id",
      ts: ts(),
      channel: dm,
      channel_type: "im",
    });
    const edited = ts();
    await h.send({
      type: "message",
      subtype: "message_changed",
      hidden: true,
      channel: dm,
      channel_type: "im",
      ts: ts(),
      message: {
        type: "message",
        user: ALICE,
        text: "edited text",
        ts: edited,
        edited: { user: ALICE, ts: ts() },
      },
      previous_message: { type: "message", user: ALICE, text: "original", ts: edited },
    });
    await h.send({
      type: "message",
      subtype: "message_deleted",
      hidden: true,
      channel: dm,
      channel_type: "im",
      ts: ts(),
      deleted_ts: edited,
    });
    await h.send(
      h.emu.events.message({ userId: ALICE, channelId: CHANNEL, text: "just chatting, no mention" }),
    );
    await h.send(h.emu.events.message({ userId: SLACK_IDS.botUserId, channelId: dm, text: "my own words" }));
    await h.barrier();
    // Only the barrier's exchange and reply.
    expect(await h.database.db.exchange.count()).toBe(before + 1);
    expect(h.emu.callsTo("chat.postMessage").length).toBe(postsBefore + 1);
  });

  it("keeps message text out of the logs", () => {
    const text = h.log.lines.join("\n");
    expect(text).not.toContain("what is a monad");
    expect(text).not.toContain("hello in private");
    expect(text).toContain("slack connected");
  });
});

describe("Slack adapter over HTTP: request verification", () => {
  let h: SlackAppHarness;

  beforeAll(async () => {
    h = await startSlackApp({ transport: "http" });
  });
  afterAll(() => h?.stop());

  it("answers Slack's URL verification challenge", async () => {
    const res = await h.emu.sendUrlVerification("challenge-abc");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ challenge: "challenge-abc" });
  });

  it("rejects a forged signature and a stale timestamp with 401, and stores nothing", async () => {
    const forged = h.emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "forged request" });
    const body = JSON.stringify({
      type: "event_callback",
      team_id: SLACK_IDS.teamId,
      api_app_id: "A0EMULATOR",
      event_id: "EvFORGED",
      event: forged,
    });
    const now = Math.floor(Date.now() / 1000);
    const res = await h.emu.sendRaw({
      body,
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": String(now),
        "x-slack-signature": `v0=${"0".repeat(64)}`,
      },
    });
    expect(res.status).toBe(401);

    const stale = await h.mention(ALICE, "stale request", { timestampSec: now - 6 * 60 });
    expect(stale.delivery.status).toBe(401);

    await h.barrier();
    expect(await h.database.db.exchange.count({ where: { userText: { contains: "request" } } })).toBe(0);
    expect(h.postsInThread(String(forged.ts))).toHaveLength(0);
    expect(h.postsInThread(stale.ts)).toHaveLength(0);
  });

  it("refuses a request signed 10 minutes ahead (401, nothing stored) and accepts one 4 minutes ahead", async () => {
    const now = Math.floor(Date.now() / 1000);
    const ahead = await h.mention(ALICE, "signed ten minutes ahead", { timestampSec: now + 10 * 60 });
    expect(ahead.delivery.status).toBe(401);
    const near = await h.mention(ALICE, "signed four minutes ahead", { timestampSec: now + 4 * 60 });
    expect(near.delivery.status).toBe(200);
    expect((await h.replyTo(near.ts)).args.text).toContain("signed four minutes ahead");

    await h.barrier();
    expect(
      await h.database.db.exchange.count({ where: { userText: { contains: "ten minutes ahead" } } }),
    ).toBe(0);
    expect(h.postsInThread(ahead.ts)).toHaveLength(0);
    expect(
      await h.database.db.exchange.count({
        where: { userText: "signed four minutes ahead", status: "answered" },
      }),
    ).toBe(1);
  });

  it("stop() lets a reply in flight finish, then closes the port", async () => {
    const chats = () => h.openai.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
    const before = chats();
    h.openai.setReply(async () => {
      await new Promise((r) => setTimeout(r, 400));
      return "a slow answer";
    });
    const { ts } = await h.mention(ALICE, "answer slowly");
    await eventually(() => chats() > before, "the model to be asked");
    const port = h.slack.httpPort;
    await h.slack.stop();
    expect(h.slack.connected()).toBe(false);
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual(["a slow answer"]);
    expect((await h.database.db.exchange.findFirst({ where: { userMessageId: ts } }))?.replyMessageId).toBe(
      h.postsInThread(ts)[0]?.response.ts,
    );
    await expect(
      fetch(`http://127.0.0.1:${port}/slack/events`, { method: "POST", body: "{}" }),
    ).rejects.toThrow();
  });
});
