// The Notifier contract: one list of behaviours every platform's Notifier keeps (the core and the
// jobs rely on them to reach people outside a conversation), run against the real Discord and
// Slack notifiers through their emulators. What a platform renders differently (button styles,
// Block Kit) stays in that platform's own suite; what the core may count on is here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvalButtonId } from "../../src/core/button-ids.ts";
import type { MessageRef } from "../../src/core/ports.ts";
import { RecordingNotifier } from "../support/recording-notifier.ts";
import { discordNotifierDriver } from "./discord-notifier.ts";
import type { NotifierDriver } from "./notifier-driver.ts";
import { slackNotifierDriver } from "./slack-notifier.ts";

const sentence = (i: number) => `This is sentence number ${i} of a long notice.`;
const longText = (sentences: number) => Array.from({ length: sentences }, (_, i) => sentence(i)).join(" ");

describe.each([
  { platform: "discord", start: discordNotifierDriver },
  { platform: "slack", start: slackNotifierDriver },
])("the Notifier on $platform", ({ start }) => {
  let d: NotifierDriver;
  beforeAll(async () => {
    d = await start();
  });
  afterAll(() => d?.stop());

  it("DMs a plain text to the person", async () => {
    await d.notifier.sendDirectMessage(d.person(0), "Your model is ready.");
    const dm = await d.dm(d.person(0));
    expect(dm.at(-1)).toMatchObject({ text: "Your model is ready.", buttons: [] });
  });

  it("DMs a long text in parts within the platform's limit, all of it, in order", async () => {
    const text = longText(Math.ceil((d.messageLimit * 2.5) / sentence(0).length));
    await d.notifier.sendDirectMessage(d.person(1), text);
    const parts = (await d.dm(d.person(1))).map((m) => m.text);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(d.messageLimit);
      expect(part).toMatch(/^This .*\.$/s);
    }
    expect(parts.join(" ")).toBe(text);
  });

  it("DMs an approval prompt with Approve and Decline buttons that carry the proposal", async () => {
    const proposalId = "0b6f6c39-8d0b-4a43-9a57-3c9a4a9e2a11";
    const ref = await d.notifier.sendApprovalPrompt(d.person(2), {
      proposalId,
      text: "You have 100 highly rated examples. Train your own model for about $0.42?",
      approveLabel: "Approve ($0.42)",
      declineLabel: "Decline",
    });
    const prompt = (await d.dm(d.person(2))).at(-1)!;
    expect(prompt.text).toContain("Train your own model for about $0.42?");
    expect(prompt.buttons).toEqual([
      { id: approvalButtonId("approve", proposalId), label: "Approve ($0.42)" },
      { id: approvalButtonId("decline", proposalId), label: "Decline" },
    ]);

    // The reference it returned closes that prompt: the new text, no buttons to click again.
    await d.notifier.closeApprovalPrompt(ref, "This proposal expired.");
    const closed = (await d.dm(d.person(2))).find((m) => m.id === prompt.id)!;
    expect(closed).toMatchObject({ text: "This proposal expired.", buttons: [] });
  });

  it("keeps a long prompt whole, with its buttons once, after all of the text", async () => {
    const proposalId = "5d1f0a77-3b2c-4e9d-8f61-2a7c9e0b4d13";
    const count = Math.ceil((d.messageLimit * 1.5) / sentence(0).length);
    const text = longText(count);
    await d.notifier.sendApprovalPrompt(d.person(3), {
      proposalId,
      text,
      approveLabel: "Approve",
      declineLabel: "Decline",
    });
    const dm = await d.dm(d.person(3));
    expect(dm.filter((m) => m.buttons.length > 0)).toEqual([dm.at(-1)]);
    const shown = dm.map((m) => m.text).join(" ");
    for (let i = 0; i < count; i++) expect(shown).toContain(sentence(i));
  });

  it("refuses to close a prompt by a reference it did not give out", async () => {
    const foreign: MessageRef[] = [{ dm: "dm-1" }, {}];
    for (const ref of foreign) await expect(d.notifier.closeApprovalPrompt(ref, "closed")).rejects.toThrow();
  });

  it("DMs a file with its name and exact content, and the text with it", async () => {
    const content = '{"exchanges":[{"text":"héllo 👋 <b>&"}]}\n';
    await d.notifier.sendFile(d.person(4), "Everything I hold about you.", { name: "my-data.json", content });
    expect(await d.files(d.person(4))).toEqual([
      { name: "my-data.json", content, text: "Everything I hold about you." },
    ]);
  });

  it("answers a person's message where an answer to it goes, in parts, and returns their ids in order", async () => {
    const place = await d.personSays(d.person(5), "a question asked before a restart");
    const text = longText(Math.ceil((d.messageLimit * 1.5) / sentence(0).length));
    const ids = await d.notifier.postReply(place, text);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const parts = await d.messages(place, ids);
    expect(parts.map((p) => p.text).join(" ")).toBe(text);
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(d.messageLimit);
    expect(parts[0]!.replyTo).toBe(place.messageId);
  });

  it("refuses an identity another platform issued", async () => {
    await expect(d.notifier.sendDirectMessage(d.foreignPerson, "hello")).rejects.toThrow();
  });

  it("throws when the platform refuses the DM, so the caller can decide to try again", async () => {
    d.refuseDmsTo(d.person(6));
    await expect(d.notifier.sendDirectMessage(d.person(6), "Your model is ready.")).rejects.toThrow();
  });
});

describe("the test notifier", () => {
  it("gives out prompt references of the shape the Discord notifier it stands in for does", async () => {
    const d = await discordNotifierDriver();
    try {
      const prompt = {
        proposalId: "0b6f6c39-8d0b-4a43-9a57-3c9a4a9e2a11",
        text: "Train?",
        approveLabel: "Yes",
        declineLabel: "No",
      };
      const real = await d.notifier.sendApprovalPrompt(d.person(7), prompt);
      const recording = new RecordingNotifier();
      const recorded = await recording.sendApprovalPrompt(d.person(7), prompt);
      expect(Object.keys(recorded).sort()).toEqual(Object.keys(real).sort());
      await expect(recording.closeApprovalPrompt({ dm: "dm-1" }, "closed")).rejects.toThrow();
    } finally {
      await d.stop();
    }
  });
});
