// Messages that address the bot become `assistant.mention` calls: an @mention (of the bot user or
// its role) or a reply to one of its messages in a server channel or thread, and every DM. The
// answer is posted as a reply to the asker's message, split into parts when it is long, and the
// parts' ids are handed back to the core (ratings arrive by them).
import {
  type Client,
  cleanContent,
  Events,
  type Message,
  type SendableChannels,
  type TextBasedChannel,
} from "discord.js";
import { failureNotices } from "../../core/messages.ts";
import type { Assistant, Logger } from "../../core/ports.ts";
import { type InFlight, logFailure } from "../shared/in-flight.ts";
import { postParts } from "../shared/post-parts.ts";
import type { RecentIds } from "../shared/recent-ids.ts";
import { splitMessage } from "../shared/split-message.ts";
import { createStreamedReply, type StreamedReply } from "../shared/streamed-reply.ts";
import { discordAttachments } from "./attachments.ts";
import { NO_PINGS } from "./client.ts";
import { discordText } from "./format.ts";
import { userRef } from "./identity.ts";
import { ratingRow } from "./rating-buttons.ts";
import { discordVisibleConversation } from "./thread-context.ts";

/** Discord shows "typing…" for 10 s per request: refresh a little before it runs out. */
export const TYPING_REFRESH_MS = 8_000;

/** Posted (as a reply) when an answer takes long (REPLY_STILL_WORKING_SECONDS); deleted when it comes. */
export const STILL_WORKING = "Still working on it…";

export interface MessageDeps {
  assistant: Assistant;
  log: Logger;
  inFlight: InFlight;
  seen: RecentIds;
  /** Show answers while they are written (STREAM_REPLIES): post the first text, then edit it. */
  streamReplies?: boolean;
}

export function attachMessageHandler(client: Client, deps: MessageDeps): void {
  client.on(Events.MessageCreate, (message) => {
    // Bots (this one included) and system notices are never answered: two bots could loop forever.
    if (message.author.bot || message.system || message.webhookId) return;
    if (!addressesBot(message)) return;
    // discord.js does not re-emit a cached message a RESUME replays, but a fresh client may see one.
    if (!deps.seen.firstTime(`message:${message.id}`)) return;
    void deps.inFlight.run(
      () => answer(message, deps),
      logFailure(deps.log, "message", { messageId: message.id, channelId: message.channelId }),
    );
  });
}

function addressesBot(message: Message): boolean {
  if (!message.inGuild()) return true;
  const botId = message.client.user.id;
  if (message.mentions.users.has(botId)) return true;
  // A reply to the bot with the ping switched off still names it as the replied-to author.
  if (message.reference && message.mentions.repliedUser?.id === botId) return true;
  const botRole = message.guild.roles.botRoleFor(botId);
  return botRole !== null && message.mentions.roles.has(botRole.id);
}

/** The text for the model: the bot's own mention removed, other mentions as readable names. */
export function messageText(message: Message): string {
  const botId = message.client.user.id;
  const roleId = message.inGuild() ? message.guild.roles.botRoleFor(botId)?.id : undefined;
  const own = new RegExp(`<@!?${botId}>[ \\t]?${roleId ? `|<@&${roleId}>[ \\t]?` : ""}`, "g");
  const stripped = message.content.replace(own, "");
  return cleanContent(stripped, message.channel).trim();
}

async function answer(message: Message, deps: MessageDeps): Promise<void> {
  const { assistant, log } = deps;
  const channel = message.channel;
  if (!channel.isSendable()) return;
  const inThread = channel.isThread();
  const reply = replyTo(message, channel, log);
  // "typing…" starts once the core has decided to answer (where the server's operators keep the
  // bot quiet, nothing at all shows), and only for a reply that starts at once: in a burst the
  // replies that wait in the queue skip it, since typing calls would take half of discord.js's REST
  // budget (50 requests a second for the whole bot) and push every answer back.
  let stopTyping = () => {};
  const onAnswering = ({ queued }: { queued: boolean }) => {
    if (!queued) stopTyping = keepTyping(channel, log);
  };
  // "typing…" alone says nothing after a while: a long reply also gets a short note, removed when
  // the answer (or the apology) is posted, so the conversation keeps only the answer.
  let note: Promise<Message | undefined> | undefined;
  const onStillWorking = () => {
    // Text already on screen says more than the note would.
    if (stream?.started) return;
    note = message.reply({ content: STILL_WORKING, allowedMentions: NO_PINGS }).catch((error: unknown) => {
      log.debug("could not post the still-working note", { messageId: message.id, error });
      return undefined;
    });
  };
  const removeNote = async () => {
    const pending = note;
    note = undefined;
    const posted = await pending;
    await posted
      ?.delete()
      .catch((error: unknown) => log.debug("could not delete the still-working note", { error }));
  };
  // Streamed: "typing…" (and a still-working note) give way to the first text.
  const stream = deps.streamReplies
    ? streamTo(message, channel, log, () => {
        stopTyping();
        void removeNote();
      })
    : undefined;
  let result: Awaited<ReturnType<Assistant["mention"]>>;
  // In a thread or a reply chain the model also sees it (fetched only if the core asks).
  const visibleConversation = discordVisibleConversation(message, messageText);
  try {
    result = await assistant.mention(
      {
        user: userRef(message.author.id),
        messageId: message.id,
        channelId: inThread ? (channel.parentId ?? channel.id) : channel.id,
        threadId: inThread ? channel.id : undefined,
        ...(visibleConversation ? { visibleConversation } : {}),
        ...(message.attachments.size > 0 ? { attachments: discordAttachments(message) } : {}),
        text: messageText(message),
        ...(message.inGuild()
          ? { serverId: message.guildId, roleIds: [...(message.member?.roles.cache.keys() ?? [])] }
          : {}),
      },
      { onStillWorking, onAnswering, ...(stream ? { onText: (text: string) => stream.push(text) } : {}) },
    );
  } catch (error) {
    stopTyping();
    await removeNote();
    // The core failed unexpectedly: the asker is not left with a vanished "typing…" (nor with a
    // half-written answer: the notice replaces it).
    if (stream?.started) await stream.finish(failureNotices.reply, false);
    else await reply(failureNotices.reply);
    throw error;
  } finally {
    stopTyping();
  }
  await removeNote();
  // A replay, or a channel (or member) the server's operators keep the bot quiet in.
  if (result.kind === "ignored")
    log.debug("not answered here (server settings)", { messageId: message.id, reason: result.reason });
  if (result.kind === "duplicate" || result.kind === "ignored") return;
  // A real answer can be rated by buttons under it (an apology or a notice cannot).
  const rateable = result.kind === "reply" && !result.failed && result.exchangeId !== undefined;
  // What streamed is replaced by the result: the final answer, or the apology for a cut-off one.
  const ids = stream?.started
    ? await stream.finish(result.text, rateable)
    : await reply(result.text, rateable);
  if (result.kind === "reply" && result.exchangeId !== undefined && ids.length > 0) {
    await assistant.recordReplyMessages(result.exchangeId, ids);
  }
}

/**
 * What posts answers to `message`: each text as a reply to it (later parts follow as plain
 * messages, in order), returning the ids of the parts posted; it stops at the first part Discord
 * refuses.
 */
function replyTo(message: Message, channel: SendableChannels, log: Logger) {
  const post = async (content: string, index: number, buttons: boolean) => {
    const components = buttons ? { components: [ratingRow()] } : {};
    const sent =
      index === 0
        ? await message.reply({ content, allowedMentions: NO_PINGS, ...components })
        : await channel.send({ content, allowedMentions: NO_PINGS, ...components });
    return sent.id;
  };
  const failed = (error: unknown, { index, of }: { index: number; of: number }) =>
    log.error("could not post a reply part", {
      messageId: message.id,
      channelId: channel.id,
      part: index + 1,
      parts: of,
      error,
    });
  /** `rateable`: the rating buttons go under the last part. */
  return (text: string, rateable = false): Promise<string[]> => {
    const parts = splitMessage(text, discordText);
    if (parts.length === 0) log.warn("empty reply; nothing posted", { messageId: message.id });
    const last = parts.length - 1;
    return postParts(parts, (content, index) => post(content, index, rateable && index === last), failed);
  };
}

/**
 * The answer shown while it is written: the first part as a reply to `message`, later parts as
 * plain messages, each edited in place as the text grows (shared/streamed-reply.ts).
 */
function streamTo(
  message: Message,
  channel: SendableChannels,
  log: Logger,
  onFirstText: () => void,
): StreamedReply {
  const sent = new Map<string, Message>();
  const components = (buttons: boolean) => ({ components: buttons ? [ratingRow()] : [] });
  return createStreamedReply({
    format: discordText,
    log: log.child({ messageId: message.id, channelId: channel.id }),
    onFirstText,
    surface: {
      async post(content, index, buttons) {
        const options = { content, allowedMentions: NO_PINGS, ...components(buttons) };
        const posted = index === 0 ? await message.reply(options) : await channel.send(options);
        sent.set(posted.id, posted);
        return posted.id;
      },
      async edit(id, content, _index, buttons) {
        const posted = sent.get(id);
        if (!posted) throw new Error("editing a message this reply did not post");
        sent.set(id, await posted.edit({ content, allowedMentions: NO_PINGS, ...components(buttons) }));
      },
      async remove(id) {
        await sent.get(id)?.delete();
        sent.delete(id);
      },
    },
  });
}

/** Shows "typing…" now and every few seconds until the returned function is called. */
function keepTyping(channel: TextBasedChannel & SendableChannels, log: Logger): () => void {
  const send = () => {
    channel
      .sendTyping()
      .catch((error: unknown) => log.debug("typing failed", { channelId: channel.id, error }));
  };
  send();
  const timer = setInterval(send, TYPING_REFRESH_MS);
  return () => clearInterval(timer);
}
