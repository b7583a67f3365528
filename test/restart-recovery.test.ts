// Nothing a person sent is left unanswered by a restart. A stop cancels the reply still waiting on
// the model when its grace runs out (the person is told the bot is restarting, the exchange is
// "interrupted"); after the restart Slack's redelivery of that event is answered (not dropped as a
// replay), exactly once, whether it races another redelivery or the restart sweep. Real app graph,
// real Bolt over HTTP, the Slack and OpenAI emulators, a real database.
import { afterEach, describe, expect, it } from "vitest";
import { type App, startApp } from "../src/app.ts";
import { replyNotices as messages } from "../src/core/messages.ts";
import { ALICE, eventually, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

const ENV = { SHUTDOWN_GRACE_SECONDS: "0.5" };
const ANSWER = "The answer, after the restart.";

let h: SlackAppHarness | undefined;
let second: App | undefined;
afterEach(async () => {
  await second?.stop();
  second = undefined;
  await h?.stop();
  h = undefined;
});

/** Mentions the bot while the model hangs, then stops the app: the reply is cut at the grace. */
async function interruptedMention(harness: SlackAppHarness) {
  let hang = true;
  harness.openai.hangNext(100, { match: (r) => hang && r.path.endsWith("/chat/completions") });
  harness.openai.setReply(() => ANSWER);
  const sent = await harness.mention(ALICE, "What did I ask?", { eventId: "Ev-restart-1" });
  await eventually(
    () => harness.openai.requests.some((r) => r.fault === "hang"),
    "the model to be asked (and hang)",
  );
  await harness.app.stop();
  hang = false;
  return sent;
}

/** A new process on the same database, where Slack now delivers events. */
async function restart(harness: SlackAppHarness, options: { recover: boolean }): Promise<App> {
  const app = await startApp({
    config: harness.config,
    db: harness.database.db,
    log: harness.log,
    schedule: false,
    recover: options.recover,
  });
  const port = (app.platforms.slack as { httpPort?: number }).httpPort;
  harness.emu.setTarget({ kind: "http", url: `http://127.0.0.1:${port}/slack/events` });
  return app;
}

const exchangeOf = (harness: SlackAppHarness, ts: string) =>
  harness.database.db.exchange.findFirstOrThrow({ where: { platform: "slack", userMessageId: ts } });

describe("a reply cut short by a stop", () => {
  it("tells the person the bot is restarting, and Slack's redelivery after the restart is answered once", {
    timeout: 90_000,
  }, async () => {
    h = await startSlackApp({ transport: "http", env: ENV });
    const { ts, event } = await interruptedMention(h);
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual([messages.restarting]);
    expect(await exchangeOf(h, ts)).toMatchObject({ status: "interrupted", replyText: null });

    second = await restart(h, { recover: false });
    // Slack retries the event it could not deliver: same event id, same message ts, twice at once.
    await Promise.all([
      h.send(event, { eventId: "Ev-restart-1", retryNum: 1 }),
      h.send(event, { eventId: "Ev-restart-1", retryNum: 2 }),
    ]);
    const answer = await h.emu.waitForCall(
      "chat.postMessage",
      (c) => c.args.thread_ts === ts && c.args.text === ANSWER,
    );
    await eventually(
      async () => (await exchangeOf(h!, ts)).replyMessageId === String(answer.response.ts),
      "the answer to be recorded",
    );
    expect(await exchangeOf(h, ts)).toMatchObject({ status: "answered", replyText: ANSWER });
    // Nothing else to do for the sweep, and nothing doubled.
    expect(await second.core.recovery.sweep()).toEqual({ answered: 0, apologised: 0, dropped: 0, failed: 0 });
    await h.send(event, { eventId: "Ev-restart-1", retryNum: 3 });
    await h.barrier();
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual([messages.restarting, ANSWER]);
    const user = await h.database.db.user.findUniqueOrThrow({ where: { externalId: h.externalId(ALICE) } });
    expect(user.exchangeCount).toBe(1);
  });

  it("is answered by the restart itself when no redelivery comes, once even if one comes after", {
    timeout: 90_000,
  }, async () => {
    h = await startSlackApp({ transport: "http", env: ENV });
    const { ts, event } = await interruptedMention(h);
    second = await restart(h, { recover: true });
    await second.recovered;
    const answer = await h.emu.waitForCall(
      "chat.postMessage",
      (c) => c.args.thread_ts === ts && c.args.text === ANSWER,
    );
    expect(await exchangeOf(h, ts)).toMatchObject({
      status: "answered",
      replyMessageId: String(answer.response.ts),
    });
    await h.send(event, { eventId: "Ev-restart-1", retryNum: 1 });
    await h.barrier();
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual([messages.restarting, ANSWER]);
  });

  it("apologises instead when the message is too old to be worth answering", {
    timeout: 90_000,
  }, async () => {
    h = await startSlackApp({ transport: "http", env: ENV });
    const { ts } = await interruptedMention(h);
    await h.database.db.exchange.updateMany({
      where: { userMessageId: ts },
      data: { createdAt: new Date(Date.now() - 60 * 60_000) },
    });
    second = await restart(h, { recover: true });
    await second.recovered;
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual([
      messages.restarting,
      messages.tooLateAfterRestart,
    ]);
    expect(await exchangeOf(h, ts)).toMatchObject({ status: "failed" });
    expect(h.openai.requests.filter((r) => r.path.endsWith("/chat/completions") && !r.fault)).toHaveLength(0);
  });

  it("leaves a pending exchange alone while its claim is fresh (another process is answering it)", {
    timeout: 90_000,
  }, async () => {
    h = await startSlackApp({ transport: "http", env: ENV });
    const { ts, event } = await interruptedMention(h);
    // As if a live replica had just claimed it.
    await h.database.db.exchange.updateMany({
      where: { userMessageId: ts },
      data: { status: "pending", claimedBy: "another-process", claimedAt: new Date() },
    });
    second = await restart(h, { recover: true });
    await second.recovered;
    await h.send(event, { eventId: "Ev-restart-1", retryNum: 1 });
    await h.barrier();
    expect(h.postsInThread(ts).map((c) => c.args.text)).toEqual([messages.restarting]);
    expect(await exchangeOf(h, ts)).toMatchObject({ status: "pending", claimedBy: "another-process" });
  });
});
