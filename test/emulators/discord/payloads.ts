/**
 * Payload builders for the Discord emulator: constants (opcodes, intents, permission bits,
 * message flags), snowflake ids, and functions that turn the emulator's small records into the
 * full API objects discord.js expects (users, members, roles, channels, guilds, messages,
 * application commands, errors). Pure functions only: no state, no I/O.
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

/** Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes). */
export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Gateway close codes the emulator uses. */
export const CloseCode = {
  UnknownOpcode: 4001,
  DecodeError: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  DisallowedIntents: 4014,
} as const;

/** Gateway intent bits. */
export const Intent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

export const ChannelKind = {
  GuildText: 0,
  DM: 1,
  GuildVoice: 2,
  GuildCategory: 4,
  GuildAnnouncement: 5,
} as const;

export const MessageFlag = {
  SuppressEmbeds: 1 << 2,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
} as const;

export const MessageKind = {
  Default: 0,
  Reply: 19,
  ChatInputCommand: 20,
} as const;

export const InteractionKind = { Ping: 1, ApplicationCommand: 2, MessageComponent: 3 } as const;

export const CallbackType = {
  Pong: 1,
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredMessageUpdate: 6,
  UpdateMessage: 7,
  ApplicationCommandAutocompleteResult: 8,
  Modal: 9,
} as const;

/** Permission bits (as bigint) the emulator computes with. */
export const Permission = {
  CreateInstantInvite: 1n << 0n,
  Administrator: 1n << 3n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
} as const;

/** Every permission bit Discord defines today (and a few spare ones). */
export const ALL_PERMISSIONS = (1n << 51n) - 1n;

/** Roughly what a new guild's @everyone role gets. */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permission.CreateInstantInvite |
  Permission.AddReactions |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.Connect |
  Permission.Speak |
  Permission.ChangeNickname |
  Permission.UseApplicationCommands |
  Permission.CreatePublicThreads |
  Permission.SendMessagesInThreads;

/** Permissions an app has in a DM (what Discord reports as app_permissions there). */
export const DM_APP_PERMISSIONS =
  Permission.AddReactions |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.UseApplicationCommands;

export const MAX_MESSAGE_LENGTH = 2000;

/** An empty bitfield; typed `number` because the flag enums have no 0 member. */
const NO_FLAGS: number = 0;

const DISCORD_EPOCH = 1420070400000n;
let snowflakeIncrement = 0n;
let lastSnowflake = 0n;

/** A fresh snowflake id (timestamped now, strictly increasing within the process). */
export function snowflake(at: number = Date.now()): string {
  snowflakeIncrement = (snowflakeIncrement + 1n) & 0xfffn;
  let id = ((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | (1n << 12n) | snowflakeIncrement;
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

/** The creation time encoded in a snowflake (ids that are too small give the Discord epoch). */
export function snowflakeTime(id: string): number {
  try {
    return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
  } catch {
    return Number(DISCORD_EPOCH);
  }
}

export function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isoNow(at: number = Date.now()): string {
  return new Date(at).toISOString().replace("Z", "+00:00");
}

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

// --------------------------------------------------------------------------------------------
// Errors, in Discord's shape

export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: Record<string, unknown>;
}

export class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: DiscordErrorBody,
  ) {
    super(body.message);
  }
}

export function httpError(status: number, code: number, message: string): DiscordHttpError {
  return new DiscordHttpError(status, { message, code });
}

/**
 * A 400 "Invalid Form Body" (code 50035). `field` is a dotted path such as `content` or
 * `embeds.0.description`; Discord nests the errors object along it.
 */
export function formError(field: string, code: string, message: string): DiscordHttpError {
  const errors: Record<string, unknown> = {};
  let cursor = errors;
  const parts = field.split(".");
  parts.forEach((part, index) => {
    if (index === parts.length - 1) {
      cursor[part] = { _errors: [{ code, message }] };
    } else {
      const next: Record<string, unknown> = {};
      cursor[part] = next;
      cursor = next;
    }
  });
  return new DiscordHttpError(400, { message: "Invalid Form Body", code: 50035, errors });
}

export const Errors = {
  unauthorized: () => httpError(401, 0, "401: Unauthorized"),
  notFound: () => httpError(404, 0, "404: Not Found"),
  unknownChannel: () => httpError(404, 10003, "Unknown Channel"),
  unknownGuild: () => httpError(404, 10004, "Unknown Guild"),
  unknownMember: () => httpError(404, 10007, "Unknown Member"),
  unknownMessage: () => httpError(404, 10008, "Unknown Message"),
  unknownUser: () => httpError(404, 10013, "Unknown User"),
  unknownEmoji: () => httpError(400, 10014, "Unknown Emoji"),
  unknownWebhook: () => httpError(404, 10015, "Unknown Webhook"),
  unknownApplication: () => httpError(404, 10002, "Unknown Application"),
  unknownCommand: () => httpError(404, 10063, "Unknown application command"),
  unknownInteraction: () => httpError(404, 10062, "Unknown interaction"),
  alreadyAcknowledged: () => httpError(400, 40060, "Interaction has already been acknowledged."),
  emptyMessage: () => httpError(400, 50006, "Cannot send an empty message"),
  cannotEditOthers: () => httpError(403, 50005, "Cannot edit a message authored by another user"),
  cannotDmUser: () => httpError(403, 50007, "Cannot send messages to this user"),
} as const;
