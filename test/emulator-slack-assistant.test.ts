// The Slack emulator's assistant and App Home methods, called with the real @slack/web-api client
// as the bot calls them: what they accept, what they refuse (Slack's error codes), and the state
// they keep (a thread's status, title, prompts; each user's home view and its hash).
import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SlackEmulator, startSlackEmulator } from "./emulators/slack/index.ts";

const IDS = { teamId: "T1", botUserId: "UBOT", botId: "BBOT", botToken: "xoxb-test" };
const DM = "DALICE01";
const THREAD = "1764000000.000100";

describe("Slack emulator: assistant threads and views.publish", () => {
  let emu: SlackEmulator;
  let client: webApi.WebClient;

  beforeAll(async () => {
    emu = await startSlackEmulator(IDS);
    client = new webApi.WebClient(IDS.botToken, { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } });
  });
  afterAll(() => emu?.stop());

  /** Slack's error code for a call that must fail. */
  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => "ok",
      (e: { data?: { error?: string } }) => e.data?.error ?? "thrown",
    );

  it("keeps a thread's status until it is cleared or the bot posts in the thread", async () => {
    await client.assistant.threads.setStatus({ channel_id: DM, thread_ts: THREAD, status: "thinking…" });
    expect(emu.assistantThread(DM, THREAD)?.status).toBe("thinking…");
    await client.assistant.threads.setStatus({ channel_id: DM, thread_ts: THREAD, status: "" });
    expect(emu.assistantThread(DM, THREAD)?.status).toBeUndefined();

    await client.assistant.threads.setStatus({ channel_id: DM, thread_ts: THREAD, status: "thinking…" });
    await client.chat.postMessage({ channel: DM, thread_ts: "1764000000.000999", text: "another thread" });
    expect(emu.assistantThread(DM, THREAD)?.status).toBe("thinking…");
    await client.chat.postMessage({ channel: DM, thread_ts: THREAD, text: "the answer" });
    expect(emu.assistantThread(DM, THREAD)?.status).toBeUndefined();
  });

  it("refuses a status without a thread, a channel or with too many loading messages", async () => {
    expect(
      await errorOf(client.assistant.threads.setStatus({ channel_id: DM, thread_ts: "x", status: "a" })),
    ).toBe("invalid_thread_ts");
    expect(
      await errorOf(
        client.assistant.threads.setStatus({ channel_id: "nope", thread_ts: THREAD, status: "a" }),
      ),
    ).toBe("channel_not_found");
    expect(
      await errorOf(
        client.assistant.threads.setStatus({
          channel_id: DM,
          thread_ts: THREAD,
          status: "a",
          loading_messages: Array.from({ length: 11 }, (_, i) => `m${i}`),
        }),
      ),
    ).toBe("invalid_arguments");
  });

  it("keeps suggested prompts (1 to 4, each with a title and a message) and a title", async () => {
    const prompts = [
      { title: "One", message: "first" },
      { title: "Two", message: "second" },
    ];
    await client.assistant.threads.setSuggestedPrompts({
      channel_id: DM,
      thread_ts: THREAD,
      title: "Try",
      prompts,
    });
    expect(emu.assistantThread(DM, THREAD)).toMatchObject({ prompts, promptsTitle: "Try" });
    const five = Array.from({ length: 5 }, (_, i) => ({ title: `t${i}`, message: `m${i}` }));
    expect(
      await errorOf(
        client.assistant.threads.setSuggestedPrompts({ channel_id: DM, thread_ts: THREAD, prompts: five }),
      ),
    ).toBe("invalid_arguments");
    expect(
      await errorOf(
        client.assistant.threads.setSuggestedPrompts({
          channel_id: DM,
          thread_ts: THREAD,
          prompts: [{ title: "", message: "m" }],
        }),
      ),
    ).toBe("invalid_arguments");

    await client.assistant.threads.setTitle({ channel_id: DM, thread_ts: THREAD, title: "Tides" });
    expect(emu.assistantThread(DM, THREAD)?.title).toBe("Tides");
    expect(
      await errorOf(client.assistant.threads.setTitle({ channel_id: DM, thread_ts: THREAD, title: "" })),
    ).toBe("invalid_arguments");
  });

  it("publishes a home view per user, with a new hash each time, and refuses a stale hash", async () => {
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "hello" } }];
    const first = await client.views.publish({ user_id: "UALICE", view: { type: "home", blocks } });
    expect(first.view?.type).toBe("home");
    const stored = emu.homeView("UALICE");
    expect(stored?.view.blocks).toEqual(blocks);
    expect(stored?.hash).toBe(first.view?.hash);

    const second = await client.views.publish({
      user_id: "UALICE",
      view: { type: "home", blocks },
      hash: first.view?.hash,
    });
    expect(second.view?.id).toBe(first.view?.id);
    expect(second.view?.hash).not.toBe(first.view?.hash);
    expect(
      await errorOf(
        client.views.publish({ user_id: "UALICE", view: { type: "home", blocks }, hash: first.view?.hash }),
      ),
    ).toBe("hash_conflict");
    // Another person's tab is theirs.
    expect(emu.homeView("UBOB")).toBeUndefined();
  });

  it("refuses a home view that is not one, or whose blocks Slack would refuse", async () => {
    const modal = { type: "modal" as const, title: { type: "plain_text" as const, text: "x" }, blocks: [] };
    expect(await errorOf(client.views.publish({ user_id: "UALICE", view: modal }))).toBe("invalid_arguments");
    expect(
      await errorOf(client.views.publish({ user_id: "nobody", view: { type: "home", blocks: [] } })),
    ).toBe("invalid_arguments");
    const long = [{ type: "section", text: { type: "mrkdwn", text: "x".repeat(3001) } }];
    expect(
      await errorOf(client.views.publish({ user_id: "UALICE", view: { type: "home", blocks: long } })),
    ).toBe("invalid_blocks");
    const many = Array.from({ length: 101 }, () => ({ type: "divider" }));
    expect(
      await errorOf(client.views.publish({ user_id: "UALICE", view: { type: "home", blocks: many } })),
    ).toBe("invalid_blocks");
  });
});
