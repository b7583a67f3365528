/**
 * Payload builders for the Discord emulator: functions that turn the emulator's small records into
 * the full API objects discord.js expects (users, members, roles, channels, guilds, messages,
 * application commands). Pure functions only: no state, no I/O. Discord's numbers are in
 * constants.ts, ids in ids.ts, error bodies in errors.ts.
 *
 * The shapes are typed against discord-api-types (re-exported by discord.js, imported as types
 * only) so a missing required field is a compile error rather than a silent cache bug.
 */
import type {
  APIApplication,
  APIApplicationCommand,
  APIAttachment,
  APIChannel,
  APIEmbed,
  APIGuild,
  APIGuildMember,
  APIMessage,
  APIMessageReference,
  APIPartialEmoji,
  APIReaction,
  APIRole,
  APIUser,
  Locale,
} from "discord.js";
import { ChannelKind, MessageKind } from "./constants.ts";
import { snowflake } from "./ids.ts";

/** An empty bitfield; typed `number` because the flag enums have no 0 member. */
const NO_FLAGS: number = 0;

// --------------------------------------------------------------------------------------------
// Records: the emulator's own small model of the world

export interface UserRecord {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
  /** The user does not accept DMs from the bot: sending to their DM channel fails with 50007. */
  dmsClosed: boolean;
}

export interface RoleRecord {
  id: string;
  name: string;
  /** Permission bits as a decimal string. */
  permissions: string;
  position: number;
}

export interface ChannelRecord {
  id: string;
  type: number;
  name: string | null;
  guildId: string | null;
  parentId: string | null;
  topic: string | null;
  position: number;
  /** DM channels only: the other participant. */
  recipientId: string | null;
  /**
   * A DM between two people the bot is not part of (a user-installed app's context 2), holding only
   * the interaction answers: the person who ran the command there. Never anyone's DM with the bot.
   */
  betweenPeople?: string;
  lastMessageId: string | null;
}

export interface MemberRecord {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}

export interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  roles: RoleRecord[];
  members: Map<string, MemberRecord>;
  joinedAt: string;
  locale: string;
}

// --------------------------------------------------------------------------------------------
// Builders

export function userPayload(user: UserRecord): APIUser {
  return {
    id: user.id,
    username: user.username,
    discriminator: "0",
    global_name: user.globalName,
    avatar: null,
    ...(user.bot ? { bot: true } : {}),
    public_flags: NO_FLAGS,
    flags: NO_FLAGS,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
    collectibles: null,
    primary_guild: null,
  };
}

/** The bot user as READY and GET /users/@me describe it. */
export function botSelfPayload(user: UserRecord): APIUser {
  return {
    ...userPayload(user),
    bot: true,
    verified: true,
    mfa_enabled: false,
    email: null,
    locale: "en-US",
  };
}

export function rolePayload(role: RoleRecord): APIRole {
  return {
    id: role.id,
    name: role.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: role.position,
    permissions: role.permissions,
    managed: false,
    mentionable: false,
    flags: NO_FLAGS,
  };
}

export function memberPayload(member: MemberRecord, user: UserRecord): APIGuildMember {
  return {
    user: userPayload(user),
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: NO_FLAGS,
    pending: false,
    communication_disabled_until: null,
  };
}

/** A member without its user object (how MESSAGE_CREATE and mentions carry it). */
export function memberWithoutUser(member: MemberRecord): Omit<APIGuildMember, "user"> {
  return {
    nick: member.nick,
    avatar: null,
    banner: null,
    roles: [...member.roles],
    joined_at: member.joinedAt,
    premium_since: null,
    deaf: false,
    mute: false,
    flags: NO_FLAGS,
    pending: false,
    communication_disabled_until: null,
  };
}

/**
 * A channel object. `inGuildCreate` leaves out guild_id (GUILD_CREATE's channel list omits it);
 * DM channels carry `recipients`.
 */
export function channelPayload(
  channel: ChannelRecord,
  options: { recipient?: UserRecord; inGuildCreate?: boolean } = {},
): APIChannel {
  if (channel.type === ChannelKind.DM) {
    return {
      id: channel.id,
      type: ChannelKind.DM,
      name: null,
      flags: NO_FLAGS,
      last_message_id: channel.lastMessageId,
      recipients: options.recipient ? [userPayload(options.recipient)] : [],
    } as APIChannel;
  }
  const base = {
    id: channel.id,
    type: channel.type,
    name: channel.name ?? `channel-${channel.id}`,
    ...(options.inGuildCreate || !channel.guildId ? {} : { guild_id: channel.guildId }),
    position: channel.position,
    permission_overwrites: [],
    parent_id: channel.parentId,
    flags: NO_FLAGS,
  };
  if (channel.type === ChannelKind.GuildText || channel.type === ChannelKind.GuildAnnouncement) {
    return {
      ...base,
      topic: channel.topic,
      nsfw: false,
      last_message_id: channel.lastMessageId,
      rate_limit_per_user: 0,
      last_pin_timestamp: null,
      default_auto_archive_duration: 1440,
    } as APIChannel;
  }
  if (channel.type === ChannelKind.GuildVoice) {
    return {
      ...base,
      bitrate: 64000,
      user_limit: 0,
      rtc_region: null,
      nsfw: false,
      rate_limit_per_user: 0,
      last_message_id: null,
    } as APIChannel;
  }
  return base as APIChannel;
}

export function guildPayload(guild: GuildRecord, applicationId: string | null = null): APIGuild {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    icon_hash: null,
    splash: null,
    discovery_splash: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    widget_enabled: false,
    widget_channel_id: null,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: guild.roles.map(rolePayload),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: applicationId,
    system_channel_id: null,
    system_channel_flags: NO_FLAGS,
    rules_channel_id: null,
    max_presences: null,
    max_members: 500000,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: guild.locale as Locale,
    public_updates_channel_id: null,
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    hub_type: null,
    safety_alerts_channel_id: null,
    incidents_data: null,
  };
}

export function parseEmoji(emoji: string): APIPartialEmoji {
  const custom = /^<?a?:?([\w~-]+):(\d+)>?$/.exec(emoji);
  if (custom) return { id: custom[2]!, name: custom[1]!, animated: emoji.startsWith("<a:") };
  return { id: null, name: emoji };
}

/** The key reactions are stored under: the custom emoji id, or the unicode emoji itself. */
export function emojiKey(emoji: APIPartialEmoji): string {
  return emoji.id ?? emoji.name ?? "";
}

export interface ReactionState {
  emoji: APIPartialEmoji;
  userIds: string[];
}

export function reactionPayloads(reactions: Iterable<ReactionState>, botUserId: string): APIReaction[] {
  const out: APIReaction[] = [];
  for (const reaction of reactions) {
    if (reaction.userIds.length === 0) continue;
    out.push({
      count: reaction.userIds.length,
      count_details: { burst: 0, normal: reaction.userIds.length },
      me: reaction.userIds.includes(botUserId),
      me_burst: false,
      emoji: reaction.emoji,
      burst_colors: [],
    });
  }
  return out;
}

export interface MessageInput {
  id: string;
  channelId: string;
  author: APIUser;
  content: string;
  timestamp: string;
  type?: number;
  mentions?: APIUser[];
  mentionRoles?: string[];
  mentionEveryone?: boolean;
  attachments?: APIAttachment[];
  embeds?: APIEmbed[];
  components?: unknown[];
  flags?: number;
  tts?: boolean;
  nonce?: string | number;
  messageReference?: APIMessageReference;
  referencedMessage?: APIMessage | null;
  webhookId?: string;
  applicationId?: string;
  interactionMetadata?: APIMessage["interaction_metadata"];
}

export function messagePayload(input: MessageInput): APIMessage {
  return {
    id: input.id,
    channel_id: input.channelId,
    author: input.author,
    content: input.content,
    timestamp: input.timestamp,
    edited_timestamp: null,
    tts: input.tts ?? false,
    mention_everyone: input.mentionEveryone ?? false,
    mentions: input.mentions ?? [],
    mention_roles: input.mentionRoles ?? [],
    attachments: input.attachments ?? [],
    embeds: input.embeds ?? [],
    pinned: false,
    type: (input.type ?? MessageKind.Default) as APIMessage["type"],
    flags: input.flags ?? 0,
    components: (input.components ?? []) as APIMessage["components"],
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    ...(input.messageReference ? { message_reference: input.messageReference } : {}),
    ...(input.referencedMessage !== undefined ? { referenced_message: input.referencedMessage } : {}),
    ...(input.webhookId ? { webhook_id: input.webhookId } : {}),
    ...(input.applicationId ? { application_id: input.applicationId } : {}),
    ...(input.interactionMetadata ? { interaction_metadata: input.interactionMetadata } : {}),
  };
}

export function applicationPayload(options: {
  id: string;
  name: string;
  bot: APIUser;
  owner: APIUser;
  flags: number;
}): APIApplication {
  return {
    id: options.id,
    name: options.name,
    icon: null,
    description: "",
    summary: "",
    bot_public: true,
    bot_require_code_grant: false,
    bot: options.bot,
    owner: options.owner,
    verify_key: "0".repeat(64),
    team: null,
    flags: options.flags,
    flags_new: String(options.flags),
    approximate_guild_count: 1,
    interactions_endpoint_url: null,
    integration_types_config: { 0: {}, 1: {} },
  };
}

/** Normalises one command of a PUT/POST body into what Discord returns. */
export function commandPayload(
  body: Record<string, unknown>,
  options: { id: string; applicationId: string; guildId?: string },
): APIApplicationCommand {
  const type = typeof body.type === "number" ? body.type : 1;
  return {
    id: options.id,
    application_id: options.applicationId,
    ...(options.guildId ? { guild_id: options.guildId } : {}),
    version: snowflake(),
    type: type as APIApplicationCommand["type"],
    name: String(body.name ?? ""),
    name_localizations: (body.name_localizations as APIApplicationCommand["name_localizations"]) ?? null,
    description: String(body.description ?? ""),
    description_localizations:
      (body.description_localizations as APIApplicationCommand["description_localizations"]) ?? null,
    ...(Array.isArray(body.options) ? { options: body.options as APIApplicationCommand["options"] } : {}),
    default_member_permissions: (body.default_member_permissions as string | null | undefined) ?? null,
    ...(body.dm_permission !== undefined ? { dm_permission: Boolean(body.dm_permission) } : {}),
    nsfw: Boolean(body.nsfw),
    integration_types: (body.integration_types as APIApplicationCommand["integration_types"]) ?? [0],
    contexts: (body.contexts as APIApplicationCommand["contexts"]) ?? null,
  };
}
