/**
 * Messages in the Discord emulator: storing one (mentions parsed and narrowed by allowed_mentions,
 * replies, interaction responses), a test user "typing" one, edits, deletes, and the
 * MESSAGE_CREATE / UPDATE / DELETE dispatches shaped per session (the Message Content intent).
 */
import type {
  APIAttachment,
  APIChatInputApplicationCommandInteraction,
  APIEmbed,
  APIMessage,
  APIUser,
} from "discord.js";
import { ChannelKind, Intent, InteractionKind, MessageFlag, MessageKind } from "./constants.ts";
import type { GatewaySession } from "./gateway.ts";
import { compareSnowflakes, isoNow, snowflake } from "./ids.ts";
import { type ChannelRecord, memberWithoutUser, messagePayload } from "./payloads.ts";
import type { DiscordState, InteractionRecord, StoredMessage } from "./state.ts";

export interface SendMessageOptions {
  /** Default: the guild's first text channel, or (without guildId) the author's DM channel. */
  channelId?: string;
  guildId?: string;
  authorId: string;
  content: string;
  /** Prepends `<@bot>` to the content unless it already mentions the bot. */
  mentionsBot?: boolean;
  /** Makes this a reply (type 19) to that message. */
  replyTo?: string;
  /**
   * Files attached to it. With `data`, the bytes are served at the attachment's `url` (a GET of
   * `/attachments/...` on the emulator, like Discord's CDN) and `size` defaults to their length.
   */
  attachments?: Array<{
    filename: string;
    contentType?: string;
    size?: number;
    url?: string;
    data?: Buffer | string;
  }>;
  embeds?: APIEmbed[];
}

export interface AllowedMentions {
  parse?: string[];
  users?: string[];
  roles?: string[];
  replied_user?: boolean;
}

const MENTION_USER = /<@!?(\d+)>/g;
const MENTION_ROLE = /<@&(\d+)>/g;

/**
 * Stores a message and (unless ephemeral) dispatches MESSAGE_CREATE. Mentions are parsed from
 * the content (`<@id>`, `<@&id>`, `@everyone`); `allowedMentions` (Discord's allowed_mentions
 * object) narrows them like Discord does.
 */
export function createMessage(
  state: DiscordState,
  input: {
    channel: ChannelRecord;
    authorId: string;
    content: string;
    embeds?: APIEmbed[];
    components?: unknown[];
    attachments?: APIAttachment[];
    flags?: number;
    tts?: boolean;
    nonce?: string | number;
    replyTo?: StoredMessage;
    allowedMentions?: AllowedMentions;
    type?: number;
    webhookId?: string;
    interaction?: InteractionRecord;
    dispatch?: boolean;
  },
): StoredMessage {
  const { channel } = input;
  const id = snowflake();
  const mentions = parseMentions(state, input.content, channel.guildId, input.allowedMentions, input.replyTo);
  const type = input.type ?? (input.replyTo ? MessageKind.Reply : MessageKind.Default);
  const flags = input.flags ?? 0;
  const message = messagePayload({
    id,
    channelId: channel.id,
    author: state.userPayload(input.authorId),
    content: input.content,
    timestamp: isoNow(),
    type,
    mentions: mentions.users,
    mentionRoles: mentions.roles,
    mentionEveryone: mentions.everyone,
    attachments: input.attachments,
    embeds: input.embeds,
    components: input.components,
    flags,
    tts: input.tts,
    nonce: input.nonce,
    ...(input.replyTo
      ? {
          messageReference: {
            type: 0,
            message_id: input.replyTo.message.id,
            channel_id: channel.id,
            ...(channel.guildId ? { guild_id: channel.guildId } : {}),
          },
          referencedMessage: state.snapshot(input.replyTo),
        }
      : {}),
    webhookId: input.webhookId,
    applicationId: input.interaction ? state.config.applicationId : undefined,
    interactionMetadata: input.interaction
      ? {
          id: input.interaction.id,
          type: input.interaction.type,
          user: state.userPayload(input.interaction.userId),
          authorizing_integration_owners: input.interaction.payload.authorizing_integration_owners,
          ...(input.interaction.type === InteractionKind.ApplicationCommand
            ? { name: (input.interaction.payload as APIChatInputApplicationCommandInteraction).data.name }
            : { interacted_message_id: input.interaction.sourceMessageId ?? undefined }),
        }
      : undefined,
  });
  const stored: StoredMessage = {
    message,
    guildId: channel.guildId,
    reactions: new Map(),
    deleted: false,
    ephemeral: (flags & MessageFlag.Ephemeral) !== 0,
    interactionId: input.interaction?.id ?? null,
  };
  state.messages.set(id, stored);
  if (!stored.ephemeral) channel.lastMessageId = id;
  if (input.dispatch !== false) dispatchMessage(state, "MESSAGE_CREATE", stored);
  return stored;
}

/** A test user "types" a message: stored and dispatched as MESSAGE_CREATE. */
export function sendUserMessage(state: DiscordState, options: SendMessageOptions): APIMessage {
  const author = state.ensureUser(options.authorId);
  let channel: ChannelRecord;
  if (options.channelId) {
    const known = state.channels.get(options.channelId);
    if (known) channel = known;
    else if (options.guildId) throw new Error(`discord emulator: unknown channel ${options.channelId}`);
    else channel = state.dmChannelFor(author.id, options.channelId);
  } else if (options.guildId) {
    const first = state.guildChannels(options.guildId).find((c) => c.type === ChannelKind.GuildText);
    if (!first) throw new Error(`discord emulator: guild ${options.guildId} has no text channel`);
    channel = first;
  } else {
    channel = state.dmChannelFor(author.id);
  }
  if (channel.guildId) {
    const guild = state.requireGuild(channel.guildId);
    if (!guild.members.has(author.id)) state.addMemberRecord(guild, { userId: author.id });
  }
  let content = options.content;
  const botId = state.botUser.id;
  if (options.mentionsBot && !content.includes(`<@${botId}>`) && !content.includes(`<@!${botId}>`)) {
    content = `<@${botId}> ${content}`;
  }
  let replyTo: StoredMessage | undefined;
  if (options.replyTo) {
    replyTo = state.messages.get(options.replyTo);
    if (!replyTo) throw new Error(`discord emulator: unknown message ${options.replyTo}`);
  }
  const attachments = (options.attachments ?? []).map((a) => {
    const id = snowflake();
    const path = `/attachments/${channel.id}/${id}/${a.filename}`;
    const url = a.url ?? `${state.config.baseUrl()}${encodeURI(path)}`;
    const data = a.data === undefined ? undefined : Buffer.from(a.data);
    if (data) state.files.set(path, { data, contentType: a.contentType ?? "application/octet-stream" });
    return {
      id,
      filename: a.filename,
      size: a.size ?? data?.length ?? 0,
      url,
      proxy_url: url,
      ...(a.contentType ? { content_type: a.contentType } : {}),
    };
  });
  const stored = createMessage(state, {
    channel,
    authorId: author.id,
    content,
    embeds: options.embeds,
    attachments,
    replyTo,
  });
  return state.snapshot(stored);
}

/** MESSAGE_CREATE / MESSAGE_UPDATE with the gateway extras, shaped per session's intents. */
export function dispatchMessage(
  state: DiscordState,
  t: "MESSAGE_CREATE" | "MESSAGE_UPDATE",
  stored: StoredMessage,
): void {
  if (stored.ephemeral) return;
  const channel = state.channels.get(stored.message.channel_id);
  const isGuild = stored.guildId !== null;
  state.dispatch(t, null, {
    intents: isGuild ? Intent.GuildMessages : Intent.DirectMessages,
    shape: (session) => gatewayMessage(state, stored, session, channel),
  });
}

export function dispatchMessageDelete(state: DiscordState, stored: StoredMessage): void {
  if (stored.ephemeral) return;
  state.dispatch(
    "MESSAGE_DELETE",
    {
      id: stored.message.id,
      channel_id: stored.message.channel_id,
      ...(stored.guildId ? { guild_id: stored.guildId } : {}),
    },
    { intents: stored.guildId ? Intent.GuildMessages : Intent.DirectMessages },
  );
}

function gatewayMessage(
  state: DiscordState,
  stored: StoredMessage,
  session: GatewaySession,
  channel?: ChannelRecord,
) {
  const message = state.snapshot(stored);
  const guildId = stored.guildId;
  const mentions = message.mentions.map((user) => {
    const member = guildId ? state.member(guildId, user.id) : undefined;
    return member ? { ...user, member: memberWithoutUser(member) } : user;
  });
  const author = guildId ? state.member(guildId, message.author.id) : undefined;
  const canSeeContent =
    (session.intents & Intent.MessageContent) !== 0 ||
    !guildId ||
    message.author.id === state.botUser.id ||
    message.mentions.some((u) => u.id === state.botUser.id);
  return {
    ...message,
    ...(canSeeContent ? {} : { content: "", embeds: [], attachments: [], components: [] }),
    mentions,
    ...(guildId ? { guild_id: guildId } : {}),
    ...(author ? { member: memberWithoutUser(author) } : {}),
    channel_type: channel?.type ?? (guildId ? ChannelKind.GuildText : ChannelKind.DM),
  };
}

function parseMentions(
  state: DiscordState,
  content: string,
  guildId: string | null,
  allowed: AllowedMentions | undefined,
  replyTo: StoredMessage | undefined,
): { users: APIUser[]; roles: string[]; everyone: boolean } {
  const parse = allowed?.parse;
  const userAllowed = (id: string) =>
    !allowed || parse?.includes("users") || (allowed.users ?? []).includes(id);
  const roleAllowed = (id: string) =>
    !allowed || parse?.includes("roles") || (allowed.roles ?? []).includes(id);
  const userIds = new Set<string>();
  for (const match of content.matchAll(MENTION_USER)) {
    const id = match[1]!;
    if (state.users.has(id) && userAllowed(id)) userIds.add(id);
  }
  if (replyTo && (allowed?.replied_user ?? true)) userIds.add(replyTo.message.author.id);
  const guild = guildId ? state.guilds.get(guildId) : undefined;
  const roles = new Set<string>();
  for (const match of content.matchAll(MENTION_ROLE)) {
    const id = match[1]!;
    if (guild?.roles.some((r) => r.id === id) && roleAllowed(id)) roles.add(id);
  }
  const everyone =
    /@(everyone|here)/.test(content) && (!allowed || (parse ?? []).includes("everyone")) && Boolean(guild);
  return { users: [...userIds].map((id) => state.userPayload(id)), roles: [...roles], everyone };
}

export function editMessage(
  state: DiscordState,
  stored: StoredMessage,
  patch: {
    content?: string;
    embeds?: APIEmbed[];
    components?: unknown[];
    flags?: number;
    attachments?: APIAttachment[];
  },
  options: { clearLoading?: boolean; dispatch?: boolean } = {},
): StoredMessage {
  const message = stored.message;
  if (patch.content !== undefined) {
    message.content = patch.content;
    const mentions = parseMentions(state, patch.content, stored.guildId, undefined, undefined);
    message.mentions = mentions.users;
    message.mention_roles = mentions.roles;
  }
  if (patch.embeds !== undefined) message.embeds = patch.embeds;
  if (patch.components !== undefined) message.components = patch.components as APIMessage["components"];
  if (patch.attachments !== undefined) message.attachments = patch.attachments;
  let flags = message.flags ?? 0;
  const wasLoading = (flags & MessageFlag.Loading) !== 0;
  if (patch.flags !== undefined) {
    // Only SUPPRESS_EMBEDS can be toggled by an edit.
    flags = (flags & ~MessageFlag.SuppressEmbeds) | (patch.flags & MessageFlag.SuppressEmbeds);
  }
  if (options.clearLoading) flags &= ~MessageFlag.Loading;
  message.flags = flags;
  // Filling in a deferred ("thinking…") response is not an edit in Discord's eyes.
  message.edited_timestamp = options.clearLoading && wasLoading ? null : isoNow();
  if (options.dispatch !== false) dispatchMessage(state, "MESSAGE_UPDATE", stored);
  return stored;
}

export function deleteMessage(state: DiscordState, stored: StoredMessage): void {
  stored.deleted = true;
  dispatchMessageDelete(state, stored);
}

export function messageInChannel(
  state: DiscordState,
  channelId: string,
  messageId: string,
): StoredMessage | undefined {
  const stored = state.messages.get(messageId);
  return stored && !stored.deleted && stored.message.channel_id === channelId ? stored : undefined;
}

/** Messages of a channel, oldest first. */
export function channelMessages(state: DiscordState, channelId: string): StoredMessage[] {
  return [...state.messages.values()]
    .filter((m) => m.message.channel_id === channelId && !m.deleted)
    .sort((a, b) => compareSnowflakes(a.message.id, b.message.id));
}
