// The Notifier port on Discord: DMs to a user outside a conversation (approval prompts, training
// news, the data export as a file). Works over REST, so it does not need the gateway to be up.
// Errors (the user blocks DMs from the bot: 50007) are thrown to the caller, which decides whether
// to try again.
import type { Client } from "discord.js";
import type { ApprovalPrompt, ConversationPlace, MessageRef, Notifier } from "../../core/ports.ts";
import { splitMessage } from "../shared/split-message.ts";
import { approvalButtons } from "./approvals.ts";
import { NO_PINGS } from "./client.ts";
import { discordText, oneMessage } from "./format.ts";
import { discordUserId } from "./identity.ts";

export function createNotifier(client: () => Client): Notifier {
  async function dmChannel(externalUserId: string) {
    return client().users.createDM(discordUserId(externalUserId));
  }

  return {
    async postReply(place: ConversationPlace, text: string): Promise<string[]> {
      // In a thread the message lives in the thread's channel; elsewhere in the channel itself.
      const channel = await client().channels.fetch(place.threadId ?? place.channelId);
      if (!channel?.isSendable())
        throw new Error(`Discord channel ${place.channelId} is not one I can post in`);
      const ids: string[] = [];
      for (const [index, content] of splitMessage(text, discordText).entries()) {
        const sent = await channel.send({
          content,
          allowedMentions: NO_PINGS,
          // The first part answers the person's message, as an answer to the event would; if it
          // was deleted meanwhile, the answer is posted all the same.
          ...(index === 0 ? { reply: { messageReference: place.messageId, failIfNotExists: false } } : {}),
        });
        ids.push(sent.id);
      }
      return ids;
    },

    async sendApprovalPrompt(externalUserId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
      const dm = await dmChannel(externalUserId);
      // A long prompt goes out in parts; the buttons ride on the last one.
      const parts = splitMessage(prompt.text, discordText);
      const last = parts.pop() ?? "…";
      for (const content of parts) await dm.send({ content, allowedMentions: NO_PINGS });
      const message = await dm.send({
        content: last,
        components: [approvalButtons(prompt)],
        allowedMentions: NO_PINGS,
      });
      return { channelId: message.channelId, messageId: message.id };
    },

    async closeApprovalPrompt(ref: MessageRef, text: string): Promise<void> {
      const { channelId, messageId } = ref;
      if (!channelId || !messageId) throw new Error("not a Discord message reference");
      const channel = await client().channels.fetch(channelId);
      if (!channel?.isTextBased()) throw new Error(`Discord channel ${channelId} is not a text channel`);
      await channel.messages.edit(messageId, {
        content: oneMessage(text),
        components: [],
        allowedMentions: NO_PINGS,
      });
    },

    async sendDirectMessage(externalUserId: string, text: string): Promise<void> {
      const dm = await dmChannel(externalUserId);
      for (const content of splitMessage(text, discordText))
        await dm.send({ content, allowedMentions: NO_PINGS });
    },

    async sendFile(externalUserId, text, file) {
      const dm = await dmChannel(externalUserId);
      // A long text goes out in parts; the file rides on the last one.
      const parts = splitMessage(text, discordText);
      const last = parts.pop();
      for (const content of parts) await dm.send({ content, allowedMentions: NO_PINGS });
      await dm.send({
        ...(last ? { content: last } : {}),
        files: [{ attachment: Buffer.from(file.content, "utf8"), name: file.name }],
        allowedMentions: NO_PINGS,
      });
    },
  };
}
