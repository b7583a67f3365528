// Slack's assistant surface and App Home end to end: the real app graph (startApp -> real Bolt, its
// `Assistant`) against the Slack emulator, the OpenAI emulator and a real database, over HTTP and
// Socket Mode. Assertions read what reached Slack (recorded Web API calls, the threads' status,
// title and prompts, the published home views) and what the database holds.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOW_CLOSE, KNOW_ABOUT_ME } from "../src/bots/slack/assistant-prompts.ts";
import { GREETING, THINKING, TITLE_CHARS } from "../src/bots/slack/assistant-thread.ts";
import { HOME_LABELS } from "../src/bots/slack/home-view.ts";
import { toSlackMrkdwn } from "../src/bots/slack/mrkdwn.ts";
import { OUTCOMES } from "../src/core/messages.ts";
import { CONVERSATION_HEADER } from "../src/core/thread-context.ts";
import type { PublishedHomeView, RecordedCall } from "./emulators/slack/index.ts";
import { eventually, SLACK_IDS, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

const THRESHOLD = 5;

describe.each(["http", "socket"] as const)("Slack assistant surface over %s", (transport) => {
  let h: SlackAppHarness;
  let users = 0;
  /** A person of their own per test, so that figures never mix. */
  const newUser = () => `U0P${transport === "http" ? "H" : "S"}${++users}`;

  beforeAll(async () => {
    h = await startSlackApp({
      transport,
      env: { FINETUNE_THRESHOLD: String(THRESHOLD), FINETUNE_MIN_REPLY_CHARS: "0" },
    });
  });
  afterAll(() => h?.stop());

  /** The person opens a new assistant thread; resolves once the bot greeted it and set its prompts. */
  async function startThread(userId: string) {
    const channel = await h.dmChannel(userId);
    const event = h.emu.assistantEvents.assistantThreadStarted({
      userId,
      channelId: channel,
      contextChannelId: "C0GENERAL",
    });
    const threadTs = (event.assistant_thread as { thread_ts: string }).thread_ts;
    await h.send(event);
    await h.emu.waitForCall("assistant.threads.setSuggestedPrompts", (c) => c.args.thread_ts === threadTs);
    return { channel, threadTs };
  }

  /** The person writes in the thread (a `message.im` with the thread's ts). */
  async function say(
    userId: string,
    thread: { channel: string; threadTs: string },
    text: string,
    o: { eventId?: string; ts?: string } = {},
  ) {
    const event = h.emu.events.message({
      userId,
      channelId: thread.channel,
      text,
      threadTs: thread.threadTs,
      ...(o.ts !== undefined ? { ts: o.ts } : {}),
    });
    await h.send(event, o.eventId !== undefined ? { eventId: o.eventId } : {});
    return String(event.ts);
  }

  /** The bot's posts in the thread after the message `afterTs` (the greeting and earlier answers aside). */
  const postsAfter = (threadTs: string, index: number) =>
    h.emu.calls.slice(index).filter((c) => c.method === "chat.postMessage" && c.args.thread_ts === threadTs);

  const waitForPost = (
    threadTs: string,
    from: number,
    predicate: (c: RecordedCall) => boolean = () => true,
  ) =>
    eventually(
      () => postsAfter(threadTs, from).find((c) => c.response.ok === true && predicate(c)),
      "a post in the thread",
    );

  /** The status cleared after the answer: the call that does it, recorded after `from`. */
  const statusCleared = (threadTs: string, from: number) =>
    eventually(
      () =>
        h.emu.calls
          .slice(from)
          .find(
            (c) =>
              c.method === "assistant.threads.setStatus" &&
              c.args.thread_ts === threadTs &&
              c.args.status === "",
          ),
      "the status to be cleared",
    );

  const chatCalls = () => h.openai.requests.filter((r) => r.path.endsWith("/chat/completions")).length;

  /** A reply rated 👍 with the feedback button under it. */
  async function rate(userId: string, channel: string, replyTs: string) {
    await h.click(userId, {
      actionId: "rate",
      type: "feedback_buttons",
      value: "rate:5",
      channelId: channel,
      messageTs: replyTs,
    });
    await eventually(
      () => h.database.db.exchange.findFirst({ where: { replyMessageId: replyTs, rating: 5 } }),
      "the rating",
    );
  }

  it("greets a new thread and offers the two questions as suggested prompts", async () => {
    const user = newUser();
    const thread = await startThread(user);
    const prompts = h.emu
      .callsTo("assistant.threads.setSuggestedPrompts")
      .find((c) => c.args.thread_ts === thread.threadTs)!;
    expect(prompts.response.ok).toBe(true);
    expect(prompts.args.channel_id).toBe(thread.channel);
    const recorded = h.emu.assistantThread(thread.channel, thread.threadTs)?.prompts ?? [];
    expect(recorded.map((p) => p.message)).toEqual(expect.arrayContaining([KNOW_ABOUT_ME, HOW_CLOSE]));
    const greeting = h.postsInThread(thread.threadTs);
    expect(greeting.map((c) => c.args.text)).toEqual([toSlackMrkdwn(GREETING)]);
    expect(greeting[0]?.args.channel).toBe(thread.channel);
    // The channel the person was viewing is not copied into the greeting's metadata.
    expect(greeting[0]?.args.metadata).toBeUndefined();
    expect(JSON.stringify(greeting[0]?.args)).not.toContain("C0GENERAL");
  });

  it("shows thinking… before the reply, names the thread, answers in it through the core", async () => {
    const user = newUser();
    const thread = await startThread(user);
    const from = h.emu.calls.length;
    const question = `Explain how tides work, with the moon and the sun, in a short paragraph please ${"x".repeat(40)}`;
    const ts = await say(user, thread, question);
    const reply = await waitForPost(thread.threadTs, from);

    const calls = h.emu.calls.slice(from);
    const thinking = calls.findIndex(
      (c) =>
        c.method === "assistant.threads.setStatus" &&
        c.args.thread_ts === thread.threadTs &&
        c.args.status === THINKING,
    );
    expect(thinking).toBeGreaterThanOrEqual(0);
    expect(thinking).toBeLessThan(calls.indexOf(reply));
    expect(reply.args.channel).toBe(thread.channel);

    // Set while the core answers, so not necessarily before the reply.
    const title = await eventually(
      () => h.emu.assistantThread(thread.channel, thread.threadTs)?.title,
      "the title",
    );
    expect(title.length).toBeLessThanOrEqual(TITLE_CHARS);
    expect(title.length).toBeGreaterThan(20);
    expect(question.startsWith(title.replace(/…$/, ""))).toBe(true);

    // Rated like any answer: the feedback buttons under it.
    expect(JSON.stringify(reply.args.blocks)).toContain("feedback_buttons");
    const exchange = await eventually(
      () =>
        h.database.db.exchange.findFirst({
          where: { platform: "slack", userMessageId: ts, replyMessageId: String(reply.response.ts) },
          include: { user: { select: { externalId: true } } },
        }),
      "the exchange",
    );
    expect(exchange.user.externalId).toBe(h.externalId(user));
    expect(exchange.userText).toBe(question);
    await statusCleared(thread.threadTs, from);
    expect(h.emu.assistantThread(thread.channel, thread.threadTs)?.status).toBeUndefined();

    // The thread's second message does not rename it.
    const before = h.emu.callsTo("assistant.threads.setTitle").length;
    const from2 = h.emu.calls.length;
    await say(user, thread, "and in the Mediterranean?");
    await waitForPost(thread.threadTs, from2);
    await statusCleared(thread.threadTs, from2);
    expect(h.emu.callsTo("assistant.threads.setTitle").length).toBe(before);
    // The model sees the assistant thread so far, read from Slack at reply time, as in any thread.
    expect(
      h.emu.calls
        .slice(from2)
        .some((c) => c.method === "conversations.replies" && c.args.ts === thread.threadTs),
    ).toBe(true);
    const lastPrompt = JSON.stringify(
      h.openai.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!.body,
    );
    expect(lastPrompt).toContain(JSON.stringify(CONVERSATION_HEADER).slice(1, 30));
    expect(lastPrompt).toContain("Explain how tides work");
  });

  it("a replayed event gets no second reply, and its status does not stay up", async () => {
    const user = newUser();
    const thread = await startThread(user);
    const eventId = `Ev${randomUUID().slice(0, 8).toUpperCase()}`;
    const from = h.emu.calls.length;
    const ts = await say(user, thread, "answer me once in this thread", { eventId });
    await waitForPost(thread.threadTs, from);
    await statusCleared(thread.threadTs, from);
    // The same delivery again (Slack's retry), then the same message under a new event id.
    await say(user, thread, "answer me once in this thread", { eventId, ts });
    const from2 = h.emu.calls.length;
    await say(user, thread, "answer me once in this thread", { ts });
    await statusCleared(thread.threadTs, from2);
    await h.barrier();
    expect(postsAfter(thread.threadTs, from)).toHaveLength(1);
    expect(await h.database.db.exchange.count({ where: { userMessageId: ts } })).toBe(1);
    expect(h.emu.assistantThread(thread.channel, thread.threadTs)?.status).toBeUndefined();
  });

  it("a refused message is answered with why, and the status is cleared", async () => {
    const user = newUser();
    const thread = await startThread(user);
    const from = h.emu.calls.length;
    await say(user, thread, "y".repeat(8_001));
    const post = await waitForPost(thread.threadTs, from);
    expect(String(post.args.text)).toContain("8,001 characters");
    await statusCleared(thread.threadTs, from);
    expect(await h.database.db.exchange.count({ where: { user: { externalId: h.externalId(user) } } })).toBe(
      0,
    );
  });

  it("a status Slack refuses does not stop the answer", async () => {
    const user = newUser();
    const thread = await startThread(user);
    h.emu.failNext("assistant.threads.setStatus", "channel_not_found");
    const from = h.emu.calls.length;
    const ts = await say(user, thread, "still answer me please");
    await waitForPost(thread.threadTs, from);
    await eventually(
      () => h.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: { not: null } } }),
      "the exchange",
    );
  });

  it("answers the two suggested prompts with the person's own figures", async () => {
    const user = newUser();
    const thread = await startThread(user);
    // Three answers, two of them rated 👍: two ready examples of THRESHOLD.
    for (const [i, text] of ["what is a fjord?", "what is a glacier?", "what is a moraine?"].entries()) {
      const from = h.emu.calls.length;
      await say(user, thread, text);
      const reply = await waitForPost(thread.threadTs, from);
      await statusCleared(thread.threadTs, from);
      if (i < 2) await rate(user, thread.channel, String(reply.response.ts));
    }
    const person = await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(user) } });
    expect(person).toMatchObject({ exchangeCount: 3, highRatedCount: 2, readyCount: 2 });
    const modelCalls = chatCalls();

    const from = h.emu.calls.length;
    await say(user, thread, HOW_CLOSE);
    const progress = String((await waitForPost(thread.threadTs, from)).args.text);
    expect(progress).toContain(`2/${THRESHOLD} ready examples (40%)`);
    // FINETUNE_PROVIDER is none here: the figures, then why nothing trains.
    expect(progress).toContain("Your own model: off.");
    await statusCleared(thread.threadTs, from);

    const from2 = h.emu.calls.length;
    await say(user, thread, KNOW_ABOUT_ME);
    const known = String((await waitForPost(thread.threadTs, from2)).args.text);
    expect(known).toContain("Exchanges: 3");
    expect(known).toContain("ready for training 2");
    expect(known).toContain("what is a moraine?");
    await statusCleared(thread.threadTs, from2);

    // Answered from the figures: the model was not asked, nothing was stored.
    expect(chatCalls()).toBe(modelCalls);
    expect(
      await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(user) } }),
    ).toMatchObject({
      exchangeCount: 3,
    });
  });

  it("keeps nothing of a context change and posts nothing", async () => {
    const user = newUser();
    const thread = await startThread(user);
    const from = h.emu.calls.length;
    await h.send(
      h.emu.assistantEvents.assistantThreadContextChanged({
        userId: user,
        channelId: thread.channel,
        threadTs: thread.threadTs,
        contextChannelId: "C0RANDOM",
      }),
    );
    await h.barrier();
    const methods = h.emu.calls
      .slice(from)
      .filter((c) => c.args.channel !== "C0BARRIER" && c.args.channel_id !== "C0BARRIER");
    // No thread post, no metadata rewrite of the greeting, no history read (Bolt's default store would).
    expect(methods.filter((c) => c.args.thread_ts === thread.threadTs || c.args.ts !== undefined)).toEqual(
      [],
    );
    expect(methods.map((c) => c.method)).not.toContain("conversations.replies");
    expect(h.log.lines.join("\n")).not.toContain("slack event failed");
  });

  // -------------------------------------------------------------------------------------------
  // App Home

  /** Every text of a published view, joined: what the person reads. */
  const viewText = (v: PublishedHomeView | undefined) => JSON.stringify(v?.view.blocks ?? []);

  /** The person opens one of the app's tabs (the messages tab is the DM). */
  async function openTab(userId: string, tab: "home" | "messages"): Promise<void> {
    const current = h.emu.homeView(userId);
    await h.send(
      h.emu.assistantEvents.appHomeOpened({
        userId,
        channelId: await h.dmChannel(userId),
        tab,
        ...(current ? { view: h.emu.homeViewJson(current) } : {}),
      }),
    );
  }

  /** The person opens the Home tab; resolves with the view published for it. */
  async function openHome(userId: string): Promise<PublishedHomeView> {
    const published = h.emu.callsTo("views.publish").length;
    await openTab(userId, "home");
    await h.emu.waitForCall(
      "views.publish",
      (c) => c.args.user_id === userId && h.emu.callsTo("views.publish").indexOf(c) >= published,
    );
    const view = h.emu.homeView(userId);
    if (!view) throw new Error("no home view");
    return view;
  }

  /** Clicks a button of the tab and waits for the tab to be published again. */
  async function clickHome(userId: string, actionId: string, view?: PublishedHomeView) {
    const before = h.emu.homeView(userId)?.hash;
    await h.emu.sendHomeAction({ userId, actionId, ...(view ? { view } : {}) });
    return eventually(() => {
      const now = h.emu.homeView(userId);
      return now && now.hash !== before ? now : undefined;
    }, "the home tab to be published again");
  }

  /** A person with two answers, one rated 👍, through a DM thread. */
  async function personWithHistory(userId: string) {
    const thread = await startThread(userId);
    for (const [i, text] of ["how do bees fly?", "why is the sky blue?"].entries()) {
      const from = h.emu.calls.length;
      await say(userId, thread, text);
      const reply = await waitForPost(thread.threadTs, from);
      await statusCleared(thread.threadTs, from);
      if (i === 0) await rate(userId, thread.channel, String(reply.response.ts));
    }
  }

  it("publishes the person's status on the home tab, and nothing for the messages tab", async () => {
    const user = newUser();
    await personWithHistory(user);
    const before = h.emu.callsTo("views.publish").length;
    await openTab(user, "messages");
    await h.barrier();
    expect(h.emu.callsTo("views.publish").length).toBe(before);

    const view = await openHome(user);
    const text = viewText(view);
    expect(view.view.type).toBe("home");
    expect(text).toContain("Exchanges remembered: 2");
    expect(text).toContain("Rated replies: 1, highly rated: 1");
    expect(text).toContain(`1/${THRESHOLD} ready examples`);
    expect(text).toContain("Training offers: *on*");
    expect(text).toContain("Opted out: *no*");
    for (const label of [HOME_LABELS.offersOff, HOME_LABELS.export, HOME_LABELS.optOut, HOME_LABELS.forget])
      expect(text).toContain(label);
    // FINETUNE_PROVIDER is none here: no Train button, and the status says why.
    expect(text).not.toContain(HOME_LABELS.train);
    expect(text).toContain("Your own model: off.");
  });

  it("a home button changes the person's state and the tab shows it", async () => {
    const user = newUser();
    await personWithHistory(user);
    await openHome(user);
    const off = await clickHome(user, "home:cmd:training:off");
    expect(
      (await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(user) } }))
        .trainingOffersOff,
    ).toBe(true);
    const text = viewText(off);
    expect(text).toContain("Training offers: *off*");
    expect(text).toContain(HOME_LABELS.offersOn);
    expect(text).toContain(toSlackMrkdwn(OUTCOMES["training_offers.off"].text()).slice(0, 30));

    const on = await clickHome(user, "home:cmd:training:on");
    expect(viewText(on)).toContain("Training offers: *on*");
    expect(
      (await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(user) } }))
        .trainingOffersOff,
    ).toBe(false);

    const out = await clickHome(user, "home:cmd:opt-out");
    expect(viewText(out)).toContain("Opted out: *yes*");
    expect(viewText(out)).toContain(HOME_LABELS.optIn);
    expect(
      (await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(user) } })).optedOut,
    ).toBe(true);
  });

  it("a double click on Export sends one file and publishes once", async () => {
    const user = newUser();
    await personWithHistory(user);
    const view = await openHome(user);
    const filesBefore = h.emu.files.length;
    const publishesBefore = h.emu.callsTo("views.publish").filter((c) => c.args.user_id === user).length;
    // Two clicks on the same rendering of the tab, as a double click sends them.
    await Promise.all([
      h.emu.sendHomeAction({ userId: user, actionId: "home:cmd:export", view }),
      h.emu.sendHomeAction({ userId: user, actionId: "home:cmd:export", view }),
    ]);
    await eventually(() => h.emu.homeView(user)?.hash !== view.hash, "the tab published again");
    await h.slack.drain(10_000);
    await h.barrier();
    expect(h.emu.files.length - filesBefore).toBe(1);
    expect(h.emu.files.at(-1)?.completed).toBe(true);
    expect(
      h.emu.callsTo("views.publish").filter((c) => c.args.user_id === user).length - publishesBefore,
    ).toBe(1);
    expect(viewText(h.emu.homeView(user))).toContain(toSlackMrkdwn(OUTCOMES["export.sent"].text()));

    // A click on the new rendering is a new request: it is carried out.
    await clickHome(user, "home:cmd:export");
    await eventually(() => h.emu.files.length - filesBefore === 2, "a second export");
  });

  it("forget asks first in the tab, deletes on its confirmation, and the tab shows nothing held", async () => {
    const user = newUser();
    await personWithHistory(user);
    await openHome(user);
    const warning = await clickHome(user, "home:forget");
    // Nothing deleted yet: the warning with its own button.
    expect(await h.database.db.exchange.count({ where: { user: { externalId: h.externalId(user) } } })).toBe(
      2,
    );
    const confirm = JSON.stringify(warning.view.blocks).match(
      /"action_id":"(home:forget:confirm:[0-9a-f]+)"/,
    )?.[1];
    expect(confirm).toBeDefined();
    expect(viewText(warning)).toContain(HOME_LABELS.forgetConfirm);

    const cancelled = await clickHome(user, "home:cancel");
    expect(viewText(cancelled)).toContain("Exchanges remembered: 2");
    const again = await clickHome(user, "home:forget");

    const done = await clickHome(user, confirm!, again);
    expect(await h.database.db.user.findUnique({ where: { externalId: h.externalId(user) } })).toBeNull();
    expect(viewText(done)).toContain("Exchanges remembered: 0");
  });

  it("a button the core does not know gets a clear answer on the tab", async () => {
    const user = newUser();
    const view = await openHome(user);
    const stale: PublishedHomeView = {
      ...view,
      view: {
        ...view.view,
        blocks: [
          ...(view.view.blocks as unknown[]),
          {
            type: "actions",
            elements: [
              {
                type: "button",
                action_id: "home:cmd:limits",
                value: "n",
                text: { type: "plain_text", text: "x" },
              },
            ],
          },
        ],
      },
    };
    const after = await clickHome(user, "home:cmd:limits", stale);
    expect(viewText(after)).toContain(toSlackMrkdwn(OUTCOMES["button.stale"].text()).slice(0, 30));
    expect(h.emu.callsTo("views.publish").every((c) => c.response.ok === true)).toBe(true);
  });

  it("keeps message text out of the logs", () => {
    const text = h.log.lines.join("\n");
    expect(text).not.toContain("fjord");
    expect(text).not.toContain("tides");
    expect(text).toContain(SLACK_IDS.teamId);
  });
});
