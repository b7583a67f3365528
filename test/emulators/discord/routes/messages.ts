// REST routes about channels and messages: the channel, typing, history, one message, posting
// (replies, embeds, files, allowed_mentions), editing and deleting the bot's messages.

import { MessageFlag } from "../constants.ts";
import { Errors, formError } from "../errors.ts";
import { compareSnowflakes } from "../ids.ts";
import type { AllowedMentions } from "../messages.ts";
import {
  channelMessages,
  createMessage,
  dispatchMessage,
  dispatchMessageDelete,
  editMessage,
  messageInChannel,
} from "../messages.ts";
import { type AddRoute, noContent, ok } from "../router.ts";
import type { DiscordState, StoredMessage } from "../state.ts";
import { channelOf, messageOf, requireBotCanSend } from "./lookups.ts";
import { type MessageBody, messagePatch, postedFields } from "./message-body.ts";
import { validateMessage } from "./validation.ts";

export function messageRoutes(add: AddRoute, s: DiscordState): void {
  add("GET", "/channels/:channelId", ({ params }) => ok(s.channelPayload(channelOf(s, params.channelId!))));
  add("POST", "/channels/:channelId/typing", ({ params }) => {
    requireBotCanSend(s, params.channelId!);
    return noContent();
  });
  add("GET", "/channels/:channelId/messages", ({ params, query }) => {
    channelOf(s, params.channelId!);
    const limit = Math.max(1, Math.min(Number(query.get("limit") ?? 50), 100));
    let list = channelMessages(s, params.channelId!).filter((m) => !m.ephemeral);
    const before = query.get("before");
    const after = query.get("after");
    if (before) list = list.filter((m) => compareSnowflakes(m.message.id, before) < 0);
    if (after) list = list.filter((m) => compareSnowflakes(m.message.id, after) > 0);
    const page = after ? list.slice(0, limit) : list.slice(-limit);
    return ok(page.reverse().map((m) => s.snapshot(m)));
  });
  add("GET", "/channels/:channelId/messages/:messageId", ({ params }) =>
    ok(s.snapshot(messageOf(s, params.channelId!, params.messageId!))),
  );
  add("POST", "/channels/:channelId/messages", ({ params, body, files }) => {
    const channel = requireBotCanSend(s, params.channelId!);
    const message = body as MessageBody;
    validateMessage(message, { files, requireContent: true });
    let replyTo: StoredMessage | undefined;
    const reference = message.message_reference as
      | { message_id?: string; channel_id?: string; fail_if_not_exists?: boolean }
      | undefined;
    if (reference?.message_id) {
      replyTo = messageInChannel(s, reference.channel_id ?? channel.id, reference.message_id);
      if (!replyTo && reference.fail_if_not_exists !== false) {
        throw formError("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
      }
    }
    const stored = createMessage(s, {
      channel,
      authorId: s.botUser.id,
      ...postedFields(s, channel.id, message, files),
      flags: (Number(message.flags) || 0) & (MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications),
      tts: Boolean(message.tts),
      nonce:
        typeof message.nonce === "string" || typeof message.nonce === "number" ? message.nonce : undefined,
      replyTo,
      allowedMentions: message.allowed_mentions as AllowedMentions | undefined,
      dispatch: false,
    });
    return {
      status: 200,
      body: s.snapshot(stored),
      after: () => dispatchMessage(s, "MESSAGE_CREATE", stored),
    };
  });
  add("PATCH", "/channels/:channelId/messages/:messageId", ({ params, body, files }) => {
    const stored = messageOf(s, params.channelId!, params.messageId!);
    if (stored.message.author.id !== s.botUser.id) throw Errors.cannotEditOthers();
    const patch = body as MessageBody;
    validateMessage(patch, { files, requireContent: false });
    editMessage(s, stored, messagePatch(s, stored, patch, files), { dispatch: false });
    return {
      status: 200,
      body: s.snapshot(stored),
      after: () => dispatchMessage(s, "MESSAGE_UPDATE", stored),
    };
  });
  add("DELETE", "/channels/:channelId/messages/:messageId", ({ params }) => {
    const stored = messageOf(s, params.channelId!, params.messageId!);
    stored.deleted = true;
    return noContent(() => dispatchMessageDelete(s, stored));
  });
}
