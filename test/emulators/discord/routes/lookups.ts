// Lookups the REST routes share, answering with Discord's errors: the channel, the message in it,
// and whether the bot may post there (DMs closed: 50007; no access: 50001; no Send Messages: 50013).

import { ChannelKind, Permission } from "../constants.ts";
import { Errors, httpError } from "../errors.ts";
import { messageInChannel } from "../messages.ts";
import type { ChannelRecord } from "../payloads.ts";
import type { DiscordState, StoredMessage } from "../state.ts";

export function channelOf(s: DiscordState, id: string): ChannelRecord {
  const channel = s.channels.get(id);
  if (!channel) throw Errors.unknownChannel();
  return channel;
}
export function messageOf(s: DiscordState, channelId: string, messageId: string): StoredMessage {
  channelOf(s, channelId);
  const stored = messageInChannel(s, channelId, messageId);
  if (!stored) throw Errors.unknownMessage();
  return stored;
}
export function requireBotCanSend(s: DiscordState, channelId: string): ChannelRecord {
  const channel = channelOf(s, channelId);
  if (channel.type === ChannelKind.DM) {
    if (channel.recipientId && s.users.get(channel.recipientId)?.dmsClosed) throw Errors.cannotDmUser();
    return channel;
  }
  if (channel.type === ChannelKind.GuildCategory) {
    throw httpError(400, 50008, "Cannot send messages in a non-text channel");
  }
  const perms = s.permissionsOf(channel.guildId!, s.botUser.id);
  if (!(perms & Permission.ViewChannel)) throw httpError(403, 50001, "Missing Access");
  if (!(perms & Permission.SendMessages)) throw httpError(403, 50013, "Missing Permissions");
  return channel;
}
