// The whole learning loop on Discord through the real discord.js client: a user reaches the
// threshold, gets the approval DM, clicks Approve, the job succeeds and their next mention is
// answered by their fine-tuned model. Plus Decline, a second click and a foreign click.
import { afterEach, describe, expect, it } from "vitest";
import { defaultChatReply } from "./emulators/openai/index.ts";
import { ALICE, BOB, type DiscordApp, startDiscordApp } from "./support/discord-app.ts";

const THRESHOLD = 10;

describe("Discord fine-tuning loop", () => {
  let h: DiscordApp;
  afterEach(async () => {
    await h?.stop();
  });

  async function start() {
    h = await startDiscordApp({
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

  async function becomeReady(n: number) {
    for (let i = 0; i < n; i++) {
      const { replies } = await h.mention(ALICE, `Question ${i}: how do I tune topic ${i * 13}?`);
      await h.rate(ALICE, replies[0]!.id, "👍");
    }
  }

  /** The approval DM and its button ids. */
  function approvalDm() {
    const dm = h.emu
      .messagesIn(h.dmChannelOf(ALICE))
      .find((m) => JSON.stringify(m.components ?? []).includes("ft:approve:"));
    if (!dm) throw new Error("no approval DM");
    const components = JSON.stringify(dm.components);
    return {
      dm,
      approve: /"custom_id":"(ft:approve:[0-9a-f-]{36})"/.exec(components)![1]!,
      decline: /"custom_id":"(ft:decline:[0-9a-f-]{36})"/.exec(components)![1]!,
    };
  }
  const followUpText = (r: { responses: Array<{ data: unknown }> }) =>
    JSON.stringify(r.responses.map((x) => x.data));

  it("threshold, DM with the estimate, Approve, job succeeds, the fine-tuned model answers next", async () => {
    await start();
    await becomeReady(THRESHOLD);
    await h.app.core.lifecycle.readiness();
    const { dm, approve } = approvalDm();
    expect(dm.content).toContain(`Examples: ${THRESHOLD}`);
    expect(dm.content).toMatch(/Estimated cost: \$/);

    const foreign = await h.click(BOB, dm.id, approve);
    expect(followUpText(foreign)).toMatch(/Only the person/);
    expect(await h.db.fineTuneJob.count()).toBe(0);

    const click = await h.click(ALICE, dm.id, approve);
    expect(followUpText(click)).toMatch(/Approved/);
    const edited = h.emu.messagesIn(h.dmChannelOf(ALICE)).find((m) => m.id === dm.id)!;
    expect(edited.content).toMatch(/^Approved/);
    expect(edited.components ?? []).toEqual([]);

    const again = await h.click(ALICE, dm.id, approve);
    expect(followUpText(again)).toMatch(/already|Nothing changed/);

    h.openai.runJobs();
    await h.app.core.lifecycle.monitor();
    const job = await h.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("succeeded");
    expect(h.emu.messagesIn(h.dmChannelOf(ALICE)).some((m) => m.content.includes("is ready"))).toBe(true);

    await h.mention(ALICE, "Now answer me with my own model please");
    const chat = h.openai.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect((chat.body as { model: string }).model).toBe(job.fineTunedModel);
    expect(await h.db.fineTuneJob.count()).toBe(1);

    const status = await h.command(ALICE, "status");
    expect(JSON.stringify(status.reply)).toContain(job.fineTunedModel!);
    // Twenty rated replies through the gateway: ~10 s idle, past the default 30 s on a loaded machine.
  }, 90_000);

  it("a reply quoting a cut-off IBAN or a Luhn-failing card reaches the training upload redacted", async () => {
    await start();
    const fragments = "Refund to DE89 3704 0044 0532 013, or to card 4242 4242 4242 4241.";
    h.openai.setReply((body) => `${defaultChatReply(body)} ${fragments}`);
    await becomeReady(THRESHOLD);
    // Alice got the replies as the model wrote them; only the training file is redacted.
    expect(await h.db.exchange.count({ where: { replyText: { contains: fragments } } })).toBe(THRESHOLD);

    await h.app.core.lifecycle.readiness();
    const { dm, approve } = approvalDm();
    expect(dm.content).toContain(`Personal data removed before upload: ${2 * THRESHOLD} items`);
    await h.click(ALICE, dm.id, approve);
    const uploads = [...h.openai.files.values()].filter((f) => f.purpose === "fine-tune");
    expect(uploads).toHaveLength(1);
    const content = uploads[0]!.bytes.toString("utf8");
    expect(content).not.toContain("3704");
    expect(content).not.toContain("4242");
    expect(content.match(/Refund to \[IBAN\], or to card \[CARD\]\./g)).toHaveLength(THRESHOLD);
  });

  it("Decline closes the prompt and launches nothing", async () => {
    await start();
    await becomeReady(THRESHOLD);
    await h.app.core.lifecycle.readiness();
    const { dm, decline } = approvalDm();
    const click = await h.click(ALICE, dm.id, decline);
    expect(followUpText(click)).toMatch(/Declined/);
    expect((await h.db.fineTuneProposal.findFirstOrThrow()).state).toBe("declined");
    expect(h.openai.requests.some((r) => r.path.startsWith("/v1/fine_tuning"))).toBe(false);
  });
});
