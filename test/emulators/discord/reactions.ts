/**
 * Reactions in the Discord emulator: a user's (or the bot's) reaction added or removed on a stored
 * message, with the MESSAGE_REACTION_ADD / REMOVE dispatch (`message_author_id` on ADD, `member`
 * in guilds), sent at once or handed back to send after a REST response.
 */
import type {
  APIPartialEmoji,
  GatewayMessageReactionAddDispatchData,
  GatewayMessageReactionRemoveDispatchData,
} from "discord.js";
import { Intent } from "./constants.ts";
import { type ChannelRecord, emojiKey, memberPayload, parseEmoji } from "./payloads.ts";
import type { DiscordState, StoredMessage } from "./state.ts";

export interface ReactionOptions {
  messageId: string;
  /** Default: the stored message's channel. */
  channelId?: string;
  guildId?: string;
  userId: string;
  /** A unicode emoji ("👍") or a custom one ("name:id" / "<:name:id>"). */
  emoji: string;
  /** Default: the stored message's author. */
  messageAuthorId?: string;
}

/**
 * Adds a user's reaction and dispatches MESSAGE_REACTION_ADD (with `message_author_id`, and
 * `member` in guilds). With `dispatch: false` the caller sends it later through `dispatch()`.
 */
export function react(
  state: DiscordState,
  options: ReactionOptions,
  { dispatch = true }: { dispatch?: boolean } = {},
): { payload: GatewayMessageReactionAddDispatchData; dispatch: () => void } {
  const { stored, channel, emoji, guildId } = resolveReaction(state, options);
  if (stored) {
    const key = emojiKey(emoji);
    const reaction = stored.reactions.get(key) ?? { emoji, userIds: [] };
    if (!reaction.userIds.includes(options.userId)) reaction.userIds.push(options.userId);
    stored.reactions.set(key, reaction);
  }
  const member = guildId ? state.member(guildId, options.userId) : undefined;
  const authorId = options.messageAuthorId ?? stored?.message.author.id;
  const payload: GatewayMessageReactionAddDispatchData = {
    user_id: options.userId,
    channel_id: channel.id,
    message_id: options.messageId,
    emoji: emoji as GatewayMessageReactionAddDispatchData["emoji"],
    burst: false,
    burst_colors: [],
    type: 0,
    ...(authorId ? { message_author_id: authorId } : {}),
    ...(guildId ? { guild_id: guildId } : {}),
    ...(member ? { member: memberPayload(member, state.ensureUser(options.userId)) } : {}),
  };
  const send = () =>
    void state.dispatch("MESSAGE_REACTION_ADD", payload, {
      intents: guildId ? Intent.GuildMessageReactions : Intent.DirectMessageReactions,
    });
  if (dispatch) send();
  return { payload, dispatch: send };
}

/** Removes a user's reaction and dispatches MESSAGE_REACTION_REMOVE (see `react`). */
export function unreact(
  state: DiscordState,
  options: ReactionOptions,
  { dispatch = true }: { dispatch?: boolean } = {},
): { payload: GatewayMessageReactionRemoveDispatchData; dispatch: () => void } {
  const { stored, channel, emoji, guildId } = resolveReaction(state, options);
  const reaction = stored?.reactions.get(emojiKey(emoji));
  if (reaction) reaction.userIds = reaction.userIds.filter((id) => id !== options.userId);
  const payload: GatewayMessageReactionRemoveDispatchData = {
    user_id: options.userId,
    channel_id: channel.id,
    message_id: options.messageId,
    emoji: emoji as GatewayMessageReactionRemoveDispatchData["emoji"],
    burst: false,
    type: 0,
    ...(guildId ? { guild_id: guildId } : {}),
  };
  const send = () =>
    void state.dispatch("MESSAGE_REACTION_REMOVE", payload, {
      intents: guildId ? Intent.GuildMessageReactions : Intent.DirectMessageReactions,
    });
  if (dispatch) send();
  return { payload, dispatch: send };
}

function resolveReaction(
  state: DiscordState,
  options: ReactionOptions,
): {
  stored: StoredMessage | undefined;
  channel: ChannelRecord;
  emoji: APIPartialEmoji;
  guildId: string | null;
} {
  state.ensureUser(options.userId);
  const stored = state.messages.get(options.messageId);
  const channelId = options.channelId ?? stored?.message.channel_id;
  if (!channelId) throw new Error(`discord emulator: unknown message ${options.messageId}; pass channelId`);
  const channel =
    state.channels.get(channelId) ??
    (options.guildId ? undefined : state.dmChannelFor(options.userId, channelId));
  if (!channel) throw new Error(`discord emulator: unknown channel ${channelId}`);
  return { stored, channel, emoji: parseEmoji(options.emoji), guildId: channel.guildId };
}
