// People's data rights on Slack, end to end: the real app graph (startApp -> real Bolt over HTTP)
// against the Slack emulator, the OpenAI emulator and a real database. `/assistant memory`, `export`
// (a JSON file uploaded into the person's DM), `opt-out` / `opt-in`, and `forget` with its
// confirmation button. Assertions read what reached Slack and what the database holds.
import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommandText } from "../src/bots/shared/commands.ts";
import { FORGET_BUTTON_LABEL } from "../src/bots/slack/forget.ts";
import { toSlackMrkdwn } from "../src/bots/slack/mrkdwn.ts";
import { EXPORT_FORMAT } from "../src/core/data-rights/export.ts";
import { type SlackEmulator, startSlackEmulator } from "./emulators/slack/index.ts";
import { ALICE, BOB, CHANNEL, eventually, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

describe("Slack data rights (http)", () => {
  let h: SlackAppHarness;

  beforeAll(async () => {
    h = await startSlackApp({ transport: "http" });
  });
  afterAll(() => h?.stop());

  const db = () => h.database.db;
  const userRow = (userId: string) => db().user.findUnique({ where: { externalId: h.externalId(userId) } });
  const exchangesOf = (userId: string) =>
    db().exchange.findMany({ where: { user: { externalId: h.externalId(userId) } }, orderBy: { id: "asc" } });

  /** A mention answered, and its exchange recorded with the reply's ts. */
  async function chat(userId: string, text: string): Promise<{ ts: string; replyTs: string }> {
    const { ts } = await h.mention(userId, text);
    const reply = await h.replyTo(ts);
    const replyTs = String(reply.response.ts);
    await eventually(
      () => db().exchange.findFirst({ where: { userMessageId: ts, replyMessageId: replyTs } }),
      `the exchange of "${text}"`,
    );
    return { ts, replyTs };
  }

  const aliceTexts = ["alice asks about tide pools", "alice asks about lichens"];
  const bobTexts = ["bob asks about sourdough starters"];

  it("/assistant memory shows the caller what is held about them, ephemerally", async () => {
    const first = await chat(ALICE, aliceTexts[0]!);
    await chat(ALICE, aliceTexts[1]!);
    await chat(BOB, bobTexts[0]!);
    await h.react(ALICE, first.replyTs, "+1");
    await eventually(
      async () => (await db().exchange.findFirst({ where: { userMessageId: first.ts } }))?.rating === 5,
      "Alice's rating",
    );

    const { delivery, response } = await h.command(ALICE, "memory");
    expect(delivery.status).toBe(200);
    expect(response).toMatchObject({ kind: "command", userId: ALICE });
    // What the core says (reading it changes nothing), converted for Slack, to the caller only.
    const expected = await h.app.assistant.memory(h.userRef(ALICE));
    expect(response.body).toEqual({ response_type: "ephemeral", text: toSlackMrkdwn(expected.text) });
    const text = String(response.body.text);
    expect(text).toContain("Exchanges: 2");
    expect(text).toContain("rated 1");
    expect(text).toContain(aliceTexts[1]);
    expect(text).not.toContain(bobTexts[0]);
  });

  it("/assistant export uploads a JSON file of the caller's data into their DM", async () => {
    const { response } = await h.command(ALICE, "export");
    expect(response.body.response_type).toBe("ephemeral");
    expect(String(response.body.text)).toContain("DM");

    const dm = await h.dmChannel(ALICE);
    const file = await h.emu.waitForFile((f) => f.channel === dm, 10_000);
    expect(file.filename).toMatch(/^assistant-data-\d{4}-\d{2}-\d{2}\.json$/);
    expect(file.initialComment).toContain("Here is everything I hold about you");
    // Slack's upload flow, as files.uploadV2 runs it: the URL, the bytes, the completion.
    const getUrl = h.emu.callsTo("files.getUploadURLExternal").find((c) => c.response.file_id === file.id);
    expect(getUrl?.args).toMatchObject({ filename: file.filename, length: String(file.content?.length) });
    const complete = h.emu.callsTo("files.completeUploadExternal").find((c) => c.response.ok === true);
    expect(complete?.args).toMatchObject({ channel_id: dm, files: [{ id: file.id, title: file.filename }] });
    expect(file.content?.length).toBe(file.length);

    const doc = JSON.parse(file.content!.toString("utf8")) as {
      format: string;
      user: { externalId: string; counters: { exchangeCount: number; ratedCount: number } };
      exchanges: Array<{ userText: string; replyText: string | null; rating: number | null }>;
    };
    expect(doc.format).toBe(EXPORT_FORMAT);
    expect(doc.user.externalId).toBe(h.externalId(ALICE));
    expect(doc.user.counters).toMatchObject({ exchangeCount: 2, ratedCount: 1 });
    expect(doc.exchanges.map((e) => e.userText)).toEqual(aliceTexts);
    expect(doc.exchanges[0]?.rating).toBe(5);
    const stored = await exchangesOf(ALICE);
    expect(doc.exchanges.map((e) => e.replyText)).toEqual(stored.map((e) => e.replyText));
    // Nobody else's data is in it.
    const raw = file.content!.toString("utf8");
    expect(raw).not.toContain(bobTexts[0]);
    expect(raw).not.toContain(h.externalId(BOB));
    // Only Alice got a file.
    expect(h.emu.files.filter((f) => f.completed)).toHaveLength(1);
  });

  it("/assistant opt-out: the next mention is answered but nothing is stored; opt-in stores again", async () => {
    const out = await h.command(ALICE, "opt-out");
    expect(out.response.body.response_type).toBe("ephemeral");
    expect((await userRow(ALICE))?.optedOut).toBe(true);
    const before = (await exchangesOf(ALICE)).length;

    const { ts } = await h.mention(ALICE, "alice asks while opted out");
    const reply = await h.replyTo(ts);
    expect(reply.args).toMatchObject({ channel: CHANNEL, thread_ts: ts });
    await h.barrier();
    expect(await db().exchange.findFirst({ where: { userMessageId: ts } })).toBeNull();
    expect(await exchangesOf(ALICE)).toHaveLength(before);
    expect((await userRow(ALICE))?.exchangeCount).toBe(2);

    const back = await h.command(ALICE, "opt-in");
    expect(back.response.body.response_type).toBe("ephemeral");
    expect((await userRow(ALICE))?.optedOut).toBe(false);
    const again = await chat(ALICE, "alice asks after opting back in");
    const exchange = await db().exchange.findFirstOrThrow({
      where: { userMessageId: again.ts },
      include: { user: { select: { externalId: true } } },
    });
    expect(exchange).toMatchObject({
      userText: "alice asks after opting back in",
      replyMessageId: again.replyTs,
    });
    expect(exchange.user.externalId).toBe(h.externalId(ALICE));
  });

  it("reactions from someone who opted out change nothing: ignored as opted_out", async () => {
    const CAROL = "U0CAROL";
    const rated = await chat(CAROL, "carol asks about mosses");
    await h.react(CAROL, rated.replyTs, "+1");
    await eventually(
      async () => (await db().exchange.findFirst({ where: { userMessageId: rated.ts } }))?.rating === 5,
      "Carol's rating",
    );
    const plain = await chat(CAROL, "carol asks about ferns");
    await h.command(CAROL, "opt-out");
    const before = await userRow(CAROL);
    expect(before).toMatchObject({ optedOut: true, ratedCount: 1, highRatedCount: 1, readyCount: 1 });

    const ignored = () => h.log.lines.filter((l) => l.includes('"outcome":"opted_out"')).length;
    await h.react(CAROL, plain.replyTs, "+1");
    await h.react(CAROL, rated.replyTs, "+1", { remove: true });
    await eventually(() => ignored() === 2, "both reactions to be handled as opted_out");

    expect(await db().exchange.findFirst({ where: { userMessageId: plain.ts } })).toMatchObject({
      rating: null,
      ratedAt: null,
    });
    expect((await db().exchange.findFirst({ where: { userMessageId: rated.ts } }))?.rating).toBe(5);
    const reactions = await db().exchangeReaction.findMany({
      where: { exchange: { user: { externalId: h.externalId(CAROL) } } },
    });
    expect(reactions.map((r) => [r.emoji, r.removedAt])).toEqual([["+1", null]]);
    expect(await userRow(CAROL)).toEqual(before);
  });

  it("/assistant forget warns with one button; the owner's click deletes all of theirs and replaces the warning", async () => {
    const aliceId = (await userRow(ALICE))!.id;
    const bobBefore = await exchangesOf(BOB);
    expect(bobBefore).toHaveLength(1);

    const { response } = await h.command(ALICE, "forget");
    const request = await h.app.assistant.forgetRequest(h.userRef(ALICE));
    expect(response.body.response_type).toBe("ephemeral");
    expect(response.body.text).toBe(toSlackMrkdwn(request.text));
    const blocks = response.body.blocks as Array<{ type: string; elements?: Array<Record<string, unknown>> }>;
    expect(JSON.stringify(blocks[0])).toContain("cannot be undone");
    const actions = blocks.filter((b) => b.type === "actions");
    expect(actions).toHaveLength(1);
    expect(actions[0]?.elements).toEqual([
      expect.objectContaining({
        type: "button",
        style: "danger",
        action_id: request.confirmButtonId,
        text: expect.objectContaining({ text: FORGET_BUTTON_LABEL }),
      }),
    ]);
    // Nothing is deleted by asking.
    expect(await userRow(ALICE)).not.toBeNull();

    // Somebody else's click on Alice's button changes nothing and replaces nothing.
    const messageTs = "1700000000.000100";
    const bobClick = await h.click(BOB, { actionId: request.confirmButtonId, channelId: CHANNEL, messageTs });
    const toBob = await h.responseTo(bobClick.responseUrl);
    expect(toBob).toMatchObject({ kind: "action", userId: BOB });
    expect(toBob.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(String(toBob.body.text)).toContain("Only the person who asked");
    expect(await userRow(ALICE)).not.toBeNull();

    // Alice confirms.
    const click = await h.click(ALICE, { actionId: request.confirmButtonId, channelId: CHANNEL, messageTs });
    expect(click.delivery.status).toBe(200);
    const replaced = await h.responseTo(click.responseUrl, 20_000);
    expect(replaced).toMatchObject({ kind: "action", userId: ALICE });
    expect(replaced.body).toMatchObject({ response_type: "ephemeral", replace_original: true });
    const replacedBlocks = replaced.body.blocks as Array<{ type: string }>;
    expect(replacedBlocks.some((b) => b.type === "actions")).toBe(false);
    expect(String(replaced.body.text)).not.toBe("");

    // Nothing of Alice's is left: no User row, no exchanges, and her id and words appear nowhere.
    expect(await userRow(ALICE)).toBeNull();
    expect(await db().exchange.count({ where: { userId: aliceId } })).toBe(0);
    const needles = [
      h.externalId(ALICE),
      aliceId,
      ...aliceTexts,
      "alice asks while opted out",
      "alice asks after opting back in",
    ];
    const tables = await db().$queryRaw<Array<{ table_name: string }>>`
      SELECT table_name::text AS table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`;
    for (const { table_name } of tables) {
      const rows = await db().$queryRawUnsafe<Array<{ row: string }>>(
        `SELECT row_to_json(t)::text AS row FROM "${table_name.replace(/"/g, '""')}" t`,
      );
      for (const { row } of rows)
        for (const needle of needles)
          expect(row, `${table_name} still holds "${needle}"`).not.toContain(needle);
    }

    // Bob's data is untouched.
    expect(await userRow(BOB)).not.toBeNull();
    expect(await exchangesOf(BOB)).toEqual(bobBefore);

    // The replaced warning said it all: Alice got exactly one answer to her click.
    await h.barrier();
    expect(h.emu.responseUrlPosts.filter((p) => p.url === click.responseUrl)).toHaveLength(1);
  });

  it("lists the data-rights commands in the help", async () => {
    const { response } = await h.command(BOB, "help");
    const text = String(response.body.text);
    for (const sub of ["memory", "export", "forget", "opt-out", "opt-in"])
      expect(text).toContain(`/assistant ${sub}`);
  });
});

describe("/assistant data-rights parsing", () => {
  it("accepts the words with and without the hyphen", () => {
    for (const word of ["memory", "export", "forget"])
      expect(parseCommandText(word)).toEqual({ name: word, args: "" });
    for (const word of ["opt-out", "optout", "OPT_OUT"])
      expect(parseCommandText(word)).toEqual({ name: "opt-out", args: "" });
    for (const word of ["opt-in", "optin", "opt_in"])
      expect(parseCommandText(word)).toEqual({ name: "opt-in", args: "" });
  });
});

describe("Slack emulator: file uploads", () => {
  let emu: SlackEmulator;
  let client: webApi.WebClient;

  beforeAll(async () => {
    emu = await startSlackEmulator({ botToken: "xoxb-files" });
    const quiet = () => {};
    client = new webApi.WebClient("xoxb-files", {
      slackApiUrl: emu.apiUrl,
      retryConfig: { retries: 0 },
      // The refused calls below are expected; the client would log Slack's messages about them.
      logger: {
        debug: quiet,
        info: quiet,
        warn: quiet,
        error: quiet,
        setLevel: quiet,
        getLevel: () => webApi.LogLevel.ERROR,
        setName: quiet,
      },
    });
  });
  afterAll(() => emu?.stop());

  it("stores the bytes files.uploadV2 sends, byte for byte, and where they were shared", async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13, 0x7b]);
    const res = await client.files.uploadV2({
      channel_id: "D0FILES",
      file: bytes,
      filename: "raw.bin",
      initial_comment: "here it is",
    });
    expect(res.ok).toBe(true);
    const file = await emu.waitForFile((f) => f.filename === "raw.bin");
    expect(file).toMatchObject({
      completed: true,
      channel: "D0FILES",
      initialComment: "here it is",
      length: 8,
    });
    expect(file.content?.equals(bytes)).toBe(true);
    expect(file.uploadContentType).toMatch(/^multipart\/form-data/);
  });

  it("answers Slack's errors for an incomplete flow", async () => {
    await expect(client.files.getUploadURLExternal({ filename: "x.txt", length: 0 })).rejects.toMatchObject({
      data: { error: "invalid_arguments" },
    });
    const started = await client.files.getUploadURLExternal({ filename: "x.txt", length: 3 });
    // Completing before the bytes arrived.
    await expect(
      client.files.completeUploadExternal({ files: [{ id: String(started.file_id) }], channel_id: "C0X" }),
    ).rejects.toMatchObject({ data: { error: "file_not_found" } });
    const upload = await fetch(String(started.upload_url), { method: "POST", body: "abc" });
    expect(await upload.text()).toBe("OK - 3");
    await client.files.completeUploadExternal({
      files: [{ id: String(started.file_id) }],
      channel_id: "C0X",
    });
    const file = await emu.waitForFile((f) => f.id === started.file_id);
    expect(file.content?.toString("utf8")).toBe("abc");
    expect(file.title).toBe("x.txt");
  });
});
