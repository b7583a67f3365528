// People's rights over their data, on Discord end to end: `/assistant memory | export | forget |
// opt-out | opt-in` through the real discord.js client against the Discord emulator, the core on a
// real database. Assertions read what reached the emulator (ephemeral answers, the DM with the
// export file, the forget button and its removal) and what the database holds afterwards.
import { ButtonStyle, ComponentType } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isForgetButtonId } from "../src/core/button-ids.ts";
import { ALICE, BOB, type DiscordApp, startDiscordApp } from "./support/discord-app.ts";

const alice = { externalId: `discord:${ALICE}`, platform: "discord" as const };
let h: DiscordApp;

beforeAll(async () => {
  h = await startDiscordApp();
  // Alice chats and rates one answer; Bob chats too (his data must never leak or be touched).
  const first = await h.mention(ALICE, "alice-1 how do I bake sourdough?");
  await h.mention(ALICE, "alice-2 and rye bread?");
  await h.rate(ALICE, first.replies[0]!.id, "👍");
  await h.mention(BOB, "bob-1 my secret plans");
});

afterAll(async () => {
  await h?.stop();
});

const exchangesOf = (externalId: string) => h.db.exchange.count({ where: { user: { externalId } } });

interface ExportDoc {
  format: string;
  user: { externalId: string };
  exchanges: Array<{ userText: string; replyText: string | null; rating: number | null }>;
}

describe("Discord data rights", () => {
  it("/assistant memory shows the caller's counts and best-rated exchange, ephemerally", async () => {
    const expected = await h.app.assistant.memory(alice);
    const { responses, reply } = await h.command(ALICE, "memory");
    expect(responses[0]).toMatchObject({ kind: "callback", type: 5, ephemeral: true });
    expect(responses.every((r) => r.ephemeral)).toBe(true);
    const content = String(reply.content);
    expect(content).toBe(expected.text);
    expect(content).toContain("Exchanges: 2");
    expect(content).toContain("rated 1");
    const best = content.slice(content.indexOf("Best rated:"));
    expect(best).toContain("alice-1 how do I bake sourdough?");
    expect(best).not.toContain("alice-2");
    expect(content).not.toContain("bob-1");
  });

  it("/assistant export DMs a JSON file of the caller's data (and nobody else's)", async () => {
    const dm = h.dmChannelOf(ALICE);
    const before = h.emu.messagesIn(dm).length;
    const { responses, reply } = await h.command(ALICE, "export");
    expect(responses.every((r) => r.ephemeral)).toBe(true);
    expect(reply.content).toBe("I've sent you a DM with a JSON file of everything I hold about you.");

    const sent = h.emu.messagesIn(dm).slice(before);
    expect(sent).toHaveLength(1);
    const message = sent[0]!;
    expect(message.content).toContain("Here is everything I hold about you");
    expect(message.attachments).toHaveLength(1);
    const attachment = message.attachments[0]!;
    expect(attachment.filename).toMatch(/^assistant-data-\d{4}-\d{2}-\d{2}\.json$/);
    // No pings on the DM either.
    const post = h.emu.sent.find(
      (r) => r.method === "POST" && r.path === `/channels/${dm}/messages` && r.files.length > 0,
    );
    expect(post?.body).toMatchObject({ allowed_mentions: { parse: [] } });

    const response = await fetch(attachment.url);
    expect(response.status).toBe(200);
    const doc = JSON.parse(await response.text()) as ExportDoc;
    expect(doc.format).toBe("learning-assistant/export@1");
    expect(doc.user.externalId).toBe(alice.externalId);
    const texts = doc.exchanges.map((e) => e.userText).sort();
    expect(texts).toEqual(["alice-1 how do I bake sourdough?", "alice-2 and rye bread?"]);
    expect(doc.exchanges.find((e) => e.userText.startsWith("alice-1"))?.rating).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(doc)).not.toContain("bob-1");
  });

  it("/assistant opt-out: the next mention is answered but nothing new is stored", async () => {
    const { responses, reply } = await h.command(ALICE, "opt-out");
    expect(responses.every((r) => r.ephemeral)).toBe(true);
    expect(reply.content).toContain("you're opted out");
    expect((await h.db.user.findUniqueOrThrow({ where: { externalId: alice.externalId } })).optedOut).toBe(
      true,
    );

    const stored = await exchangesOf(alice.externalId);
    const { message, replies } = await h.mention(ALICE, "alice-3 while opted out");
    expect(replies).toHaveLength(1);
    expect(replies[0]?.content).toContain("alice-3 while opted out");
    expect(await exchangesOf(alice.externalId)).toBe(stored);
    expect(await h.db.exchange.count({ where: { userMessageId: message.id } })).toBe(0);
  });

  it("/assistant opt-in: stored again (starting fresh)", async () => {
    const { responses, reply } = await h.command(ALICE, "opt-in");
    expect(responses.every((r) => r.ephemeral)).toBe(true);
    expect(reply.content).toContain("opted in again");
    // Opting back in deletes what was stored before.
    expect(await exchangesOf(alice.externalId)).toBe(0);

    const { message } = await h.mention(ALICE, "alice-4 back again");
    expect(await exchangesOf(alice.externalId)).toBe(1);
    expect(await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } })).toMatchObject({
      userText: "alice-4 back again",
    });
  });

  describe("/assistant forget", () => {
    let warningId: string;
    let buttonId: string;

    it("answers ephemerally with the warning and one red confirmation button", async () => {
      const expected = await h.app.assistant.forgetRequest(alice);
      const { id, responses, reply } = await h.command(ALICE, "forget");
      expect(responses[0]).toMatchObject({ kind: "callback", type: 5, ephemeral: true });
      expect(responses.every((r) => r.ephemeral)).toBe(true);
      expect(reply.content).toBe(expected.text);

      warningId = h.emu.interaction(id)!.originalMessageId!;
      const warning = h.emu.state.snapshot(h.emu.state.messages.get(warningId)!);
      expect(h.emu.state.messages.get(warningId)?.ephemeral).toBe(true);
      expect(warning.content).toBe(expected.text);
      expect(warning.components).toHaveLength(1);
      const row = warning.components![0] as { type: number; components: Array<Record<string, unknown>> };
      expect(row.type).toBe(ComponentType.ActionRow);
      expect(row.components).toHaveLength(1);
      expect(row.components[0]).toMatchObject({
        type: ComponentType.Button,
        style: ButtonStyle.Danger,
        custom_id: expected.confirmButtonId,
      });
      buttonId = String(row.components[0]!.custom_id);
      expect(isForgetButtonId(buttonId)).toBe(true);
      // Nothing is deleted before the click.
      expect(await exchangesOf(alice.externalId)).toBe(1);
    });

    it("a click by someone else changes nothing", async () => {
      const { responses } = await h.click(BOB, warningId, buttonId);
      expect(responses[0]).toMatchObject({ kind: "callback", type: 6 });
      const followup = responses.find((r) => r.kind === "followup");
      expect(followup).toMatchObject({ ephemeral: true });
      expect(String(followup?.data.content)).toContain("Only the person who asked");
      expect(await exchangesOf(alice.externalId)).toBe(1);
      const warning = h.emu.state.snapshot(h.emu.state.messages.get(warningId)!);
      expect(warning.components).toHaveLength(1);
    });

    it("the user's click deletes everything of theirs and removes the button", async () => {
      const bobBefore = await exchangesOf(`discord:${BOB}`);
      const { responses } = await h.click(ALICE, warningId, buttonId);
      expect(responses[0]).toMatchObject({ kind: "callback", type: 6 });
      const followup = responses.find((r) => r.kind === "followup");
      expect(followup).toMatchObject({ ephemeral: true });
      expect(String(followup?.data.content)).toContain("I deleted everything I held about you");

      const warning = h.emu.state.snapshot(h.emu.state.messages.get(warningId)!);
      expect(warning.content).toContain("I deleted everything I held about you");
      expect(warning.components).toEqual([]);

      expect(await h.db.user.findUnique({ where: { externalId: alice.externalId } })).toBeNull();
      expect(await h.db.exchange.count({ where: { userText: { contains: "alice-" } } })).toBe(0);
      // Bob's data is untouched.
      expect(await h.db.user.findUnique({ where: { externalId: `discord:${BOB}` } })).not.toBeNull();
      expect(await exchangesOf(`discord:${BOB}`)).toBe(bobBefore);
      expect(await h.db.exchange.count({ where: { userText: "bob-1 my secret plans" } })).toBe(1);
    });

    it("afterwards /assistant memory holds nothing about them", async () => {
      const { reply } = await h.command(ALICE, "memory");
      expect(reply.content).toContain("I hold nothing about you");
    });
  });

  it("made no request Discord would refuse", () => {
    expect(h.emu.unknownRequests()).toEqual([]);
    expect(h.emu.sent.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(
      [],
    );
  });
});
