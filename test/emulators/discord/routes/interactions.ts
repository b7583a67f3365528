// REST routes of interactions, which need no bot token (the interaction token is the credential):
// the callback (reply, defer, update, modal; once, within the interaction timeout), and the
// webhook routes for @original and follow-ups (the first follow-up after a deferred reply
// replaces the "thinking…" message, as on Discord).

import { CallbackType, InteractionKind, MessageFlag, MessageKind } from "../constants.ts";
import { Errors, formError } from "../errors.ts";
import type { AllowedMentions } from "../messages.ts";
import { createMessage, dispatchMessage, dispatchMessageDelete, editMessage } from "../messages.ts";
import { type AddRoute, noContent, ok, type RecordedFile, type Reply } from "../router.ts";
import type { DiscordState, InteractionRecord, StoredMessage } from "../state.ts";
import { channelOf } from "./lookups.ts";
import {
  type MessageBody,
  messagePatch,
  normaliseEmbeds,
  postedFields,
  storeAttachments,
} from "./message-body.ts";
import { validateMessage } from "./validation.ts";

export function interactionRoutes(
  add: AddRoute,
  s: DiscordState,
  options: { interactionTimeoutMs: number },
): void {
  add(
    "POST",
    "/interactions/:interactionId/:token/callback",
    ({ params, body, files, query }) => interactionCallback(s, options, params, body, files, query),
    false,
  );
  const webhookInteraction = (params: Record<string, string>): InteractionRecord => {
    const record = s.interactionsByToken.get(params.token!);
    if (!record || params.applicationId !== s.config.applicationId) throw Errors.unknownWebhook();
    return record;
  };
  const webhookMessage = (record: InteractionRecord, messageId: string): StoredMessage => {
    const id = messageId === "@original" ? record.originalMessageId : messageId;
    const stored = id ? s.messages.get(id) : undefined;
    if (!stored || stored.deleted) throw Errors.unknownMessage();
    if (stored.interactionId !== record.id && stored.message.id !== record.sourceMessageId) {
      throw Errors.unknownMessage();
    }
    return stored;
  };
  const webhookMessagePath = "/webhooks/:applicationId/:token/messages/:messageId";
  add(
    "GET",
    webhookMessagePath,
    ({ params }) => ok(s.snapshot(webhookMessage(webhookInteraction(params), params.messageId!))),
    false,
  );
  add(
    "PATCH",
    webhookMessagePath,
    ({ params, body, files }) => {
      const stored = webhookMessage(webhookInteraction(params), params.messageId!);
      const patch = body as MessageBody;
      validateMessage(patch, { files, requireContent: false });
      editMessage(s, stored, messagePatch(s, stored, patch, files), {
        clearLoading: true,
        dispatch: false,
      });
      return {
        status: 200,
        body: s.snapshot(stored),
        after: () => dispatchMessage(s, "MESSAGE_UPDATE", stored),
      };
    },
    false,
  );
  add(
    "DELETE",
    webhookMessagePath,
    ({ params }) => {
      const stored = webhookMessage(webhookInteraction(params), params.messageId!);
      stored.deleted = true;
      return noContent(() => dispatchMessageDelete(s, stored));
    },
    false,
  );
  add(
    "POST",
    "/webhooks/:applicationId/:token",
    ({ params, body, files, query }) => {
      const record = webhookInteraction(params);
      if (record.acknowledgedWith === null) throw Errors.unknownWebhook();
      const message = body as MessageBody;
      validateMessage(message, { files, requireContent: true });
      const original = record.originalMessageId ? s.messages.get(record.originalMessageId) : undefined;
      let stored: StoredMessage;
      let event: "MESSAGE_CREATE" | "MESSAGE_UPDATE";
      if (original && !original.deleted && ((original.message.flags ?? 0) & MessageFlag.Loading) !== 0) {
        // The first followup after a deferred reply replaces the "thinking…" message.
        editMessage(s, original, messagePatch(s, original, message, files), {
          clearLoading: true,
          dispatch: false,
        });
        stored = original;
        event = "MESSAGE_UPDATE";
      } else {
        const channel = channelOf(s, record.channelId);
        stored = createMessage(s, {
          channel,
          authorId: s.botUser.id,
          ...postedFields(s, channel.id, message, files),
          flags: (Number(message.flags) || 0) & (MessageFlag.Ephemeral | MessageFlag.SuppressEmbeds),
          allowedMentions: message.allowed_mentions as AllowedMentions | undefined,
          webhookId: s.config.applicationId,
          interaction: record,
          type: MessageKind.Default,
          dispatch: false,
        });
        event = "MESSAGE_CREATE";
      }
      const after = () => dispatchMessage(s, event, stored);
      if (query.get("wait") !== "true") return { status: 204, after };
      return { status: 200, body: s.snapshot(stored), after };
    },
    false,
  );
}

function interactionCallback(
  s: DiscordState,
  options: { interactionTimeoutMs: number },
  params: Record<string, string>,
  body: Record<string, unknown>,
  files: RecordedFile[],
  query: URLSearchParams,
): Reply {
  const record = s.interactions.get(params.interactionId!);
  if (!record || record.token !== params.token) throw Errors.unknownInteraction();
  if (record.acknowledgedWith !== null) throw Errors.alreadyAcknowledged();
  if (Date.now() - record.createdAt > options.interactionTimeoutMs) throw Errors.unknownInteraction();
  const type = Number(body.type);
  const data = (body.data ?? {}) as MessageBody;
  const flags = Number(data.flags) || 0;
  const isComponent = record.type === InteractionKind.MessageComponent;
  const channel = s.channels.get(record.channelId);
  if (!channel) throw Errors.unknownChannel();
  let after: (() => void) | undefined;
  let resource: Record<string, unknown> = { type };

  switch (type) {
    case CallbackType.ChannelMessageWithSource:
    case CallbackType.DeferredChannelMessageWithSource: {
      const deferred = type === CallbackType.DeferredChannelMessageWithSource;
      if (!deferred) validateMessage(data, { files, requireContent: true, field: "data" });
      const stored = createMessage(s, {
        channel,
        authorId: s.botUser.id,
        content: !deferred && typeof data.content === "string" ? data.content : "",
        embeds: deferred ? [] : normaliseEmbeds(data.embeds),
        components: !deferred && Array.isArray(data.components) ? data.components : [],
        attachments: deferred ? [] : storeAttachments(s, channel.id, data.attachments, files),
        flags:
          (flags & (MessageFlag.Ephemeral | MessageFlag.SuppressEmbeds)) |
          (deferred ? MessageFlag.Loading : 0),
        allowedMentions: data.allowed_mentions as AllowedMentions | undefined,
        webhookId: s.config.applicationId,
        interaction: record,
        type:
          record.type === InteractionKind.ApplicationCommand
            ? MessageKind.ChatInputCommand
            : MessageKind.Reply,
        dispatch: false,
      });
      record.originalMessageId = stored.message.id;
      record.ephemeral = stored.ephemeral;
      after = () => dispatchMessage(s, "MESSAGE_CREATE", stored);
      resource = { type, message: s.snapshot(stored) };
      break;
    }
    case CallbackType.DeferredMessageUpdate:
    case CallbackType.UpdateMessage: {
      if (!isComponent) throw formError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type");
      const source = s.messages.get(record.sourceMessageId!);
      if (!source || source.deleted) throw Errors.unknownMessage();
      record.originalMessageId = source.message.id;
      record.ephemeral = source.ephemeral;
      if (type === CallbackType.UpdateMessage) {
        validateMessage(data, { files, requireContent: false, field: "data" });
        editMessage(s, source, messagePatch(s, source, data, files), { dispatch: false });
        after = () => dispatchMessage(s, "MESSAGE_UPDATE", source);
      }
      resource = { type, message: s.snapshot(source) };
      break;
    }
    case CallbackType.ApplicationCommandAutocompleteResult:
      throw formError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type");
    case CallbackType.Modal:
      resource = { type };
      break;
    default:
      throw formError("type", "BASE_TYPE_CHOICES", `Value must be one of {4, 5, 6, 7, 9}.`);
  }
  record.acknowledgedWith = type;

  if (query.get("with_response") !== "true") return { status: 204, after };
  const original = record.originalMessageId ? s.messages.get(record.originalMessageId) : undefined;
  return {
    status: 200,
    after,
    body: {
      interaction: {
        id: record.id,
        type: record.type,
        ...(original
          ? {
              response_message_id: original.message.id,
              response_message_loading: ((original.message.flags ?? 0) & MessageFlag.Loading) !== 0,
              response_message_ephemeral: original.ephemeral,
            }
          : {}),
      },
      resource,
    },
  };
}
