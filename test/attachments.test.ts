// Attachments end to end, on Slack (files behind url_private and the bot token) and Discord (CDN
// URLs), through the real Bolt and discord.js clients: text files are read into the person's
// message (the model's prompt and the stored exchange), files too big or not text get a note,
// images reach a model that can see them as image parts and get a clear refusal otherwise, while
// the text of the message is still answered. Assertions read the OpenAI emulator's requests, the
// platform emulators' records and the database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptsImages, defaultAttachmentSettings, imagesForModel } from "../src/core/attachments.ts";
import type { OpenAIEmulator } from "./emulators/openai/index.ts";
import {
  ALICE as D_ALICE,
  type DiscordApp,
  GENERAL,
  GUILD_ID,
  startDiscordApp,
} from "./support/discord-app.ts";
import { startGeminiHarness } from "./support/llm-harness.ts";
import { ALICE, eventually, SLACK_IDS, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

/** A 1x1 transparent PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

type Part = { type: string; text?: string; image_url?: { url: string } };
type Sent = { role: string; content: string | Part[] };

/** The last user message of each chat request, oldest first. */
function userTurns(openai: OpenAIEmulator): Sent[] {
  return openai.requests
    .filter((r) => r.path.endsWith("/chat/completions"))
    .map((r) => (r.body as { messages: Sent[] }).messages.at(-1)!);
}
const textOf = (m: Sent | undefined) =>
  typeof m?.content === "string" ? m.content : (m?.content ?? []).map((p) => p.text ?? "").join("");
const imagesOf = (m: Sent | undefined) =>
  typeof m?.content === "string" ? [] : (m?.content ?? []).filter((p) => p.type === "image_url");

describe("attachments on Slack", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({ transport: "http" });
  });
  afterAll(() => h?.stop());

  const exchangeFor = (ts: string) =>
    eventually(
      () => h.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: { not: null } } }),
      "the reply recorded",
    );

  it("reads a text file into the message: the model gets it and it is stored as the asker's own", async () => {
    const file = h.emu.shareFile({
      name: "notes.txt",
      mimetype: "text/plain",
      content: "Standup moved to Thursday at 3pm.\nBring the Q3 numbers.",
      userId: ALICE,
    });
    const { ts } = await h.mention(ALICE, "what does my file say?", { files: [file] });
    await h.replyTo(ts);
    const exchange = await exchangeFor(ts);
    const expected =
      "what does my file say?\n\n[file: notes.txt]\nStandup moved to Thursday at 3pm.\nBring the Q3 numbers.";
    expect(textOf(userTurns(h.openai).at(-1))).toBe(expected);
    expect(exchange.userText).toBe(expected);
    // Downloaded with the bot token, as url_private requires.
    expect(h.emu.fileDownloads.at(-1)).toMatchObject({
      authorization: `Bearer ${SLACK_IDS.botToken}`,
      status: 200,
    });
    expect(h.log.lines.join("\n")).not.toContain("Standup moved");
  });

  it("skips a file over ATTACHMENT_MAX_BYTES with a note, without downloading it, and answers the text", async () => {
    const file = h.emu.shareFile({
      name: "big.log",
      mimetype: "text/plain",
      content: "x".repeat(150_000),
      userId: ALICE,
    });
    const downloads = h.emu.fileDownloads.length;
    const { ts } = await h.mention(ALICE, "why did the build fail?", { files: [file] });
    const reply = await h.replyTo(ts);
    expect(String(reply.args.text)).toMatch(/^_I skipped big\.log: it is over 100 kB\._\n\necho\(/);
    expect(h.emu.fileDownloads).toHaveLength(downloads);
    expect(textOf(userTurns(h.openai).at(-1))).toBe("why did the build fail?");
    expect((await exchangeFor(ts)).userText).toBe("why did the build fail?");
  });

  it("says what it cannot download (a Slack Connect file without URLs) and still answers", async () => {
    const file = h.emu.shareFile({
      name: "shared.md",
      mimetype: "text/markdown",
      content: "# hidden",
      userId: ALICE,
      fileAccess: "check_file_info",
    });
    const { ts } = await h.mention(ALICE, "see the attached", { files: [file] });
    const reply = await h.replyTo(ts);
    expect(String(reply.args.text)).toContain(
      "I couldn't download shared.md from the chat platform, so I answered without it.",
    );
    expect(textOf(userTurns(h.openai).at(-1))).toBe("see the attached");
  });

  it("sends an image to a model that can see (gpt-4.1-mini) as an image part; the bytes are not stored", async () => {
    const file = h.emu.shareFile({ name: "photo.png", mimetype: "image/png", content: PNG, userId: ALICE });
    const { ts } = await h.mention(ALICE, "what is in this picture?", { files: [file] });
    await h.replyTo(ts);
    const exchange = await exchangeFor(ts);
    const turn = userTurns(h.openai).at(-1);
    expect(imagesOf(turn)).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG.toString("base64")}` } },
    ]);
    expect(textOf(turn)).toBe("what is in this picture?\n\n[image: photo.png]");
    expect(exchange.userText).toBe("what is in this picture?\n\n[image: photo.png]");
    expect(JSON.stringify(exchange, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      PNG.toString("base64"),
    );
  });
});

describe("attachments on Slack, with a model that cannot see images", () => {
  let h: SlackAppHarness;
  beforeAll(async () => {
    h = await startSlackApp({
      transport: "http",
      env: { VISION_MODELS: "gpt-4o", ATTACHMENT_MAX_TOKENS: "20" },
    });
  });
  afterAll(() => h?.stop());

  it("reads files up to ATTACHMENT_MAX_TOKENS for the message, and skips the one that would go over", async () => {
    const small = h.emu.shareFile({
      name: "a.txt",
      mimetype: "text/plain",
      content: "alpha beta gamma",
      userId: ALICE,
    });
    const large = h.emu.shareFile({
      name: "b.txt",
      mimetype: "text/plain",
      content: "delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau",
      userId: ALICE,
    });
    const { ts } = await h.mention(ALICE, "two files", { files: [small, large] });
    const reply = await h.replyTo(ts);
    expect(String(reply.args.text)).toContain(
      "I skipped b.txt: with the other files it would be over 20 tokens, the most one message can bring.",
    );
    expect(textOf(userTurns(h.openai).at(-1))).toBe("two files\n\n[file: a.txt]\nalpha beta gamma");
  });

  it("answers the text and says it cannot see the image", async () => {
    const file = h.emu.shareFile({ name: "chart.png", mimetype: "image/png", content: PNG, userId: ALICE });
    const { ts } = await h.mention(ALICE, "and what is 2+2?", { files: [file] });
    const reply = await h.replyTo(ts);
    expect(String(reply.args.text)).toMatch(
      /^_I can't see images with this model \(gpt-4\.1-mini\), so I answered your text only\._\n\necho\(/,
    );
    const turn = userTurns(h.openai).at(-1);
    expect(imagesOf(turn)).toEqual([]);
    expect(textOf(turn)).toBe("and what is 2+2?\n\n[image: chart.png]");
    // The image was never fetched (the two text files of the test before were).
    expect(h.emu.fileDownloads.filter((d) => d.path.includes("chart.png"))).toHaveLength(0);
  });

  it("answers an image alone with the refusal, storing nothing and asking no model", async () => {
    const file = h.emu.shareFile({ name: "only.png", mimetype: "image/png", content: PNG, userId: ALICE });
    const chats = userTurns(h.openai).length;
    const { ts } = await h.mention(ALICE, "", { files: [file] });
    const reply = await h.replyTo(ts);
    expect(String(reply.args.text)).toContain("I can't see images with this model (gpt-4.1-mini).");
    expect(userTurns(h.openai)).toHaveLength(chats);
    expect(await h.database.db.exchange.count({ where: { userMessageId: ts } })).toBe(0);
  });
});

describe("attachments on Discord", () => {
  let h: DiscordApp;
  beforeAll(async () => {
    h = await startDiscordApp();
  });
  afterAll(() => h?.stop());

  it("reads a text file from its CDN URL into the message", async () => {
    const { message } = await h.mention(D_ALICE, "summarise my list", {
      channelId: GENERAL,
      attachments: [
        { filename: "todo.md", contentType: "text/markdown; charset=utf-8", data: "- buy milk\n- call Sam" },
      ],
    });
    const expected = "summarise my list\n\n[file: todo.md]\n- buy milk\n- call Sam";
    expect(textOf(userTurns(h.openai).at(-1))).toBe(expected);
    const exchange = await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } });
    expect(exchange.userText).toBe(expected);
    expect(h.emu.attachmentDownloads.at(-1)).toMatchObject({ status: 200 });
  });

  it("stops reading a file bigger than it claimed, refuses binary and unsupported files, with notes", async () => {
    const { replies } = await h.mention(D_ALICE, "here are three files", {
      channelId: GENERAL,
      attachments: [
        // Claims 10 bytes, holds 150 kB: the download stops past the limit.
        { filename: "huge.txt", contentType: "text/plain", data: "y".repeat(150_000), size: 10 },
        { filename: "data.txt", contentType: "text/plain", data: Buffer.from([0, 1, 2, 3, 0, 0, 255, 254]) },
        { filename: "report.pdf", contentType: "application/pdf", data: "%PDF-1.7" },
      ],
    });
    const posted = replies.map((r) => r.content).join("\n");
    expect(posted).toContain("I skipped huge.txt: it is over 100 kB.");
    expect(posted).toContain("I skipped data.txt: it does not look like a text file.");
    expect(posted).toContain("I can't read report.pdf");
    expect(posted).toContain("echo(");
    expect(textOf(userTurns(h.openai).at(-1))).toBe("here are three files");
  });

  it("sends an image to a model that can see it", async () => {
    await h.mention(D_ALICE, "what colour is it?", {
      channelId: GENERAL,
      attachments: [{ filename: "dot.png", contentType: "image/png", data: PNG }],
    });
    expect(imagesOf(userTurns(h.openai).at(-1))).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG.toString("base64")}` } },
    ]);
  });
});

describe("attachments on Discord, with a model that cannot see images", () => {
  let h: DiscordApp;
  beforeAll(async () => {
    h = await startDiscordApp({ env: { VISION_MODELS: "none" } });
  });
  afterAll(() => h?.stop());

  it("posts the refusal and answers the text", async () => {
    const { replies } = await h.mention(D_ALICE, "describe this, and say hi", {
      channelId: GENERAL,
      attachments: [{ filename: "dot.png", contentType: "image/png", data: PNG }],
    });
    expect(replies[0]?.content).toContain(
      "I can't see images with this model (gpt-4.1-mini), so I answered your text only.",
    );
    expect(replies[0]?.content).toContain("echo(");
    expect(imagesOf(userTurns(h.openai).at(-1))).toEqual([]);
    expect(h.emu.attachmentDownloads).toHaveLength(0);
  });
});

describe("attachments on Discord, where the server's model cannot see images", () => {
  let h: DiscordApp;
  beforeAll(async () => {
    // CHAT_MODEL (gpt-4.1-mini) sees images; the server's own model (gpt-4o) does not, here.
    h = await startDiscordApp({ env: { VISION_MODELS: "gpt-4.1-mini" } });
    await h.database.db.serverSetting.create({
      data: { platform: "discord", serverId: GUILD_ID, channelId: "", chatModel: "gpt-4o" },
    });
  });
  afterAll(() => h?.stop());

  it("answers the text with the server's model and says that model cannot see the image", async () => {
    const { replies } = await h.mention(D_ALICE, "what is in this picture?", {
      channelId: GENERAL,
      attachments: [{ filename: "dot.png", contentType: "image/png", data: PNG }],
    });
    const last = h.openai.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!;
    expect((last.body as { model: string }).model).toBe("gpt-4o");
    expect(imagesOf(userTurns(h.openai).at(-1))).toEqual([]);
    expect(replies.map((r) => r.content).join("\n")).toContain(
      "I can't see images with this model (gpt-4o), so I answered your text only.",
    );
  });
});

describe("images in Gemini's wire format", () => {
  it("go as inlineData parts after the text, through @google/genai", async () => {
    const gemini = await startGeminiHarness();
    try {
      const result = await gemini.provider.chat({
        model: gemini.chatModel,
        messages: [
          { role: "system", content: "Be brief." },
          {
            role: "user",
            content: "what is in this picture?",
            images: [{ mimeType: "image/png", base64: PNG.toString("base64") }],
          },
        ],
      });
      expect(result.text).toContain("echo(");
      const body = gemini.chatRequests().at(-1)?.body as {
        contents: Array<{ role: string; parts: unknown[] }>;
      };
      expect(body.contents).toEqual([
        {
          role: "user",
          parts: [
            { text: "what is in this picture?" },
            { inlineData: { mimeType: "image/png", data: PNG.toString("base64") } },
          ],
        },
      ]);
    } finally {
      await gemini.close();
    }
  });
});

describe("which models see images (VISION_MODELS)", () => {
  const vision = defaultAttachmentSettings.visionModels;
  it("counts a fine-tune by its base and open-weights models as blind", () => {
    expect(acceptsImages("gpt-4.1-mini", vision)).toBe(true);
    expect(acceptsImages("ft:gpt-4.1-mini-2025-04-14:org::abc123", vision)).toBe(true);
    expect(acceptsImages("gemini-2.5-flash", vision)).toBe(true);
    expect(acceptsImages("meta-llama/Llama-3.1-8B-Instruct", vision)).toBe(false);
    expect(acceptsImages("gpt-3.5-turbo", vision)).toBe(false);
    expect(acceptsImages("gpt-4.1-mini", [])).toBe(false);
  });

  it("drops the images of a prompt for a model that cannot see them, and keeps the text", () => {
    const messages = [
      { role: "system" as const, content: "Be brief." },
      {
        role: "user" as const,
        content: "look",
        images: [{ mimeType: "image/png", base64: PNG.toString("base64") }],
      },
    ];
    expect(imagesForModel(messages, "gpt-4o-mini", vision)).toBe(messages);
    expect(imagesForModel(messages, "user-adapter-7f3a", vision)).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "look" },
    ]);
  });
});
