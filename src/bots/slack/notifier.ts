// How the core and the jobs reach a Slack user outside a conversation: a DM (conversations.open,
// then chat.postMessage), the approval prompt with its buttons, the prompt's final edit, and a file
// in the DM (files.uploadV2: files.getUploadURLExternal, the bytes, files.completeUploadExternal;
// needs the `files:write` scope). Failures throw: the caller (the core) decides whether to try again.
import type { webApi } from "@slack/bolt";
import type { ApprovalPrompt, ConversationPlace, MessageRef, Notifier } from "../../core/ports.ts";
import { splitMessage } from "../shared/split-message.ts";
import { approvalPromptMessage, closedPromptMessage } from "./approvals.ts";
import { parseSlackExternalId } from "./identity.ts";
import { slackText, toSlackMrkdwn } from "./mrkdwn.ts";
import { postPart } from "./post-reply.ts";

export function createSlackNotifier(client: webApi.WebClient): Notifier {
  async function openDm(externalUserId: string): Promise<string> {
    const who = parseSlackExternalId(externalUserId);
    if (!who) throw new Error(`Not a Slack user identity: ${externalUserId}`);
    const opened = await client.conversations.open({ users: who.userId });
    const channel = opened.channel?.id;
    if (!channel) throw new Error("conversations.open answered without a channel id");
    return channel;
  }

  return {
    async postReply(place: ConversationPlace, text: string): Promise<string[]> {
      // Where the adapter answers an event: the message's thread (a channel mention's thread is
      // its own ts), or the top level of a DM that had none.
      const posted: string[] = [];
      const target = {
        channel: place.channelId,
        ...(place.threadId !== undefined ? { threadTs: place.threadId } : {}),
      };
      for (const part of splitMessage(text, slackText)) {
        const ts = await postPart(client, target, part);
        if (ts) posted.push(ts);
      }
      return posted;
    },

    async sendApprovalPrompt(externalUserId: string, prompt: ApprovalPrompt): Promise<MessageRef> {
      const channel = await openDm(externalUserId);
      const posted = await client.chat.postMessage({ channel, ...approvalPromptMessage(prompt) });
      if (!posted.ts) throw new Error("chat.postMessage answered without a ts");
      return { channel: posted.channel ?? channel, ts: posted.ts };
    },

    async closeApprovalPrompt(ref: MessageRef, text: string): Promise<void> {
      const { channel, ts } = ref;
      if (!channel || !ts) throw new Error("Not a Slack message reference (expected channel and ts)");
      await client.chat.update({ channel, ts, ...closedPromptMessage(text) });
    },

    async sendDirectMessage(externalUserId: string, text: string): Promise<void> {
      const channel = await openDm(externalUserId);
      for (const part of splitMessage(text, slackText))
        await client.chat.postMessage({ channel, text: part });
    },

    async sendFile(externalUserId, text, file) {
      const channel = await openDm(externalUserId);
      await client.files.uploadV2({
        channel_id: channel,
        file: Buffer.from(file.content, "utf8"),
        filename: file.name,
        title: file.name,
        initial_comment: toSlackMrkdwn(text),
      });
    },
  };
}
