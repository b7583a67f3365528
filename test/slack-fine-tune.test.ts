// The whole learning loop on Slack, through the real Bolt app: a user reaches the threshold, gets the
// approval DM, clicks Approve, the job succeeds and their next mention is answered by their model.
// Plus Decline, a foreign click and a non-operator. Over HTTP and over Socket Mode.
import { afterEach, describe, expect, it } from "vitest";
import { ALICE, BOB, eventually, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

const THRESHOLD = 10;

describe.each(["http", "socket"] as const)("Slack fine-tuning loop (%s)", (transport) => {
  let h: SlackAppHarness;
  afterEach(async () => {
    await h?.stop();
  });

  async function start() {
    h = await startSlackApp({
      transport,
      env: {
        FINETUNE_PROVIDER: "openai",
        // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
        CANARY_SHARE: "0",
        FINETUNE_PLATFORMS: "discord,slack",
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
      },
    });
  }

  /** Alice asks and rates `n` replies 👍. */
  async function becomeReady(n: number) {
    for (let i = 0; i < n; i++) {
      const { ts } = await h.mention(ALICE, `Question ${i}: how do I tune topic ${i * 13}?`);
      const reply = await h.replyTo(ts);
      const replyTs = (reply.response as { ts: string }).ts;
      // The bot records the reply's id after Slack answered the post; a reaction that arrives first
      // is not a reply yet (and is ignored). On a Postgres server that write is not queued ahead.
      await eventually(
        () => h.database.db.exchange.findFirst({ where: { replyMessageId: replyTs } }),
        "the reply's id recorded",
      );
      await h.react(ALICE, replyTs, "+1");
    }
    await eventually(async () => {
      const u = await h.database.db.user.findUnique({ where: { externalId: h.externalId(ALICE) } });
      return (u?.readyCount ?? 0) >= n;
    }, "ready examples");
  }

  async function approvalPrompt() {
    const post = await h.emu.waitForCall(
      "chat.postMessage",
      (c) => Array.isArray(c.args.blocks) && JSON.stringify(c.args.blocks).includes("ft:approve:"),
    );
    const blocks = JSON.stringify(post.args.blocks);
    const approve = /"action_id":"(ft:approve:[0-9a-f-]{36})"/.exec(blocks)![1]!;
    const decline = /"action_id":"(ft:decline:[0-9a-f-]{36})"/.exec(blocks)![1]!;
    return {
      post,
      approve,
      decline,
      channel: post.args.channel as string,
      ts: (post.response as { ts: string }).ts,
    };
  }

  it("threshold, DM with the estimate, Approve, job succeeds, the fine-tuned model answers next", async () => {
    await start();
    await becomeReady(THRESHOLD);
    await h.app.core.lifecycle.readiness();
    const prompt = await approvalPrompt();
    expect(JSON.stringify(prompt.post.args)).toMatch(/Examples: 10/);
    expect(JSON.stringify(prompt.post.args)).toMatch(/Estimated cost/);

    // Bob clicks Alice's button: nothing changes, and he is told so.
    const foreign = await h.click(BOB, {
      actionId: prompt.approve,
      channelId: prompt.channel,
      messageTs: prompt.ts,
    });
    expect(JSON.stringify((await h.responseTo(foreign.responseUrl)).body)).toMatch(/Only the person/);
    expect(await h.database.db.fineTuneJob.count()).toBe(0);

    const click = await h.click(ALICE, {
      actionId: prompt.approve,
      channelId: prompt.channel,
      messageTs: prompt.ts,
    });
    expect(JSON.stringify((await h.responseTo(click.responseUrl)).body)).toMatch(/Approved/);
    await eventually(
      async () => (await h.database.db.fineTuneJob.findFirst())?.state === "running",
      "a running job",
    );
    // The prompt lost its buttons.
    const update = await h.emu.waitForCall("chat.update", (c) => c.args.ts === prompt.ts);
    expect(JSON.stringify(update.args.blocks ?? [])).not.toContain("ft:approve");

    // A second click changes nothing.
    const second = await h.click(ALICE, {
      actionId: prompt.approve,
      channelId: prompt.channel,
      messageTs: prompt.ts,
    });
    expect(JSON.stringify((await h.responseTo(second.responseUrl)).body)).toMatch(/already|Nothing changed/);

    h.openai.runJobs();
    await h.app.core.lifecycle.monitor();
    const job = await h.database.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("succeeded");
    await h.emu.waitForCall("chat.postMessage", (c) => String(c.args.text ?? "").includes("is ready"));

    const { ts } = await h.mention(ALICE, "Now answer me with my own model please");
    await h.replyTo(ts);
    const chat = h.openai.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect((chat.body as { model: string }).model).toBe(job.fineTunedModel);
    expect(await h.database.db.fineTuneJob.count()).toBe(1);
  });

  it("Decline closes the prompt and launches nothing; non-operators are refused the limits", async () => {
    await start();
    await becomeReady(THRESHOLD);
    await h.app.core.lifecycle.readiness();
    const prompt = await approvalPrompt();
    const click = await h.click(ALICE, {
      actionId: prompt.decline,
      channelId: prompt.channel,
      messageTs: prompt.ts,
    });
    expect(JSON.stringify((await h.responseTo(click.responseUrl)).body)).toMatch(/Declined/);
    await eventually(
      async () => (await h.database.db.fineTuneProposal.findFirst())?.state === "declined",
      "a declined proposal",
    );
    expect(await h.database.db.fineTuneJob.count()).toBe(0);
    expect(h.openai.requests.some((r) => r.path.startsWith("/v1/fine_tuning"))).toBe(false);

    const limits = await h.command(BOB, "limits set training-total-month 100");
    expect(JSON.stringify(limits.response.body)).toMatch(/Only the bot's operators/);
    expect(await h.database.db.adminLimits.count()).toBe(0);
  });
});
