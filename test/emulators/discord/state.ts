/**
 * The Discord emulator's world: users, guilds, channels, members, messages (with reactions),
 * interactions and registered commands, plus the operations that change it and the gateway
 * dispatches they cause. Both the REST routes (rest.ts) and the test-facing API
 * (index.ts) go through this class, so a message the bot posts and a message a test
 * "types" end up in the same store and reach the client the same way.
 */
import { randomBytes } from "node:crypto";
import type {
  APIApplicationCommand,
  APIApplicationCommandInteractionDataOption,
  APIAttachment,
  APIChatInputApplicationCommandInteraction,
  APIEmbed,
  APIInteractionDataResolved,
  APIMessage,
  APIMessageComponentInteraction,
  APIPartialEmoji,
  APIUser,
  GatewayGuildCreateDispatchData,
  GatewayMessageReactionAddDispatchData,
  GatewayMessageReactionRemoveDispatchData,
  GatewayReadyDispatchData,
  Locale,
} from "discord.js";
import type { DispatchOptions, GatewaySession } from "./gateway.ts";
import {
  ALL_PERMISSIONS,
  applicationPayload,
  botSelfPayload,
  ChannelKind,
  type ChannelRecord,
  channelPayload,
  compareSnowflakes,
  DEFAULT_EVERYONE_PERMISSIONS,
  DM_APP_PERMISSIONS,
  emojiKey,
  type GuildRecord,
  guildPayload,
  Intent,
  InteractionKind,
  isoNow,
  type MemberRecord,
  MessageFlag,
  MessageKind,
  memberPayload,
  memberWithoutUser,
  messagePayload,
  Permission,
  parseEmoji,
  type ReactionState,
  type RoleRecord,
  reactionPayloads,
  snowflake,
  type UserRecord,
  userPayload,
} from "./payloads.ts";

// --------------------------------------------------------------------------------------------
// Specs (what tests pass in)

export interface UserSpec {
  id?: string;
  username?: string;
  globalName?: string | null;
  bot?: boolean;
  /** The user blocks DMs from the bot: POST /channels/{dm}/messages answers 403 code 50007. */
  dmsClosed?: boolean;
}

export interface ChannelSpec {
  id?: string;
  name?: string;
  /** 0 text (default), 2 voice, 4 category, 5 announcement. */
  type?: number;
  parentId?: string | null;
  topic?: string | null;
}

export interface RoleSpec {
  id?: string;
  name: string;
  /** Permission bits (bigint, or decimal string). */
  permissions: bigint | string;
}

export interface MemberSpec {
  userId: string;
  roles?: string[];
  nick?: string | null;
}

export interface GuildSpec {
  id?: string;
  name?: string;
  /** Default: a fresh user created as owner (so neither the bot nor test users are owners). */
  ownerId?: string;
  channels?: ChannelSpec[];
  roles?: RoleSpec[];
  /** User ids (users are created when unknown) or member specs. The bot is always a member. */
  members?: Array<string | MemberSpec>;
  /** Permissions of @everyone (default: a new guild's usual set). */
  everyonePermissions?: bigint | string;
  /** Roles given to the bot's member. */
  botRoles?: string[];
  locale?: string;
}

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
  attachments?: Array<{ filename: string; contentType?: string; size?: number; url?: string }>;
  embeds?: APIEmbed[];
}

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

export type SlashOptionValue = string | number | boolean;

export interface SlashCommandOptions {
  userId: string;
  guildId?: string;
  /** Default: the guild's first text channel, or the user's DM channel. */
  channelId?: string;
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /**
   * Either name → value (strings type 3, integers 4, other numbers 10, booleans 5) or raw option
   * objects (`{ name, type: 6, value: userId }` gets `resolved.users`/`members` filled in).
   */
  options?: Record<string, SlashOptionValue> | APIApplicationCommandInteractionDataOption[];
  /** The member's permissions in the interaction (default: computed from roles; owner = all). */
  memberPermissions?: bigint | string;
  locale?: string;
}

export interface ComponentOptions {
  userId: string;
  messageId: string;
  /** Default: the message's channel. */
  channelId?: string;
  customId: string;
  memberPermissions?: bigint | string;
  locale?: string;
}

// --------------------------------------------------------------------------------------------
// Stored objects

export interface StoredMessage {
  message: APIMessage;
  guildId: string | null;
  reactions: Map<string, ReactionState>;
  deleted: boolean;
  ephemeral: boolean;
  /** The interaction whose response this message is, if any. */
  interactionId: string | null;
}

export interface InteractionRecord {
  id: string;
  token: string;
  type: number;
  userId: string;
  guildId: string | null;
  channelId: string;
  createdAt: number;
  /** The callback type the interaction was acknowledged with (null until then). */
  acknowledgedWith: number | null;
  /** The message `@original` refers to, once there is one. */
  originalMessageId: string | null;
  /** Component interactions: the message whose component was used. */
  sourceMessageId: string | null;
  ephemeral: boolean;
  payload: APIChatInputApplicationCommandInteraction | APIMessageComponentInteraction;
}

export interface StoredFile {
  data: Buffer;
  contentType: string;
}

export interface StateConfig {
  token: string;
  applicationId: string;
  applicationName: string;
  applicationFlags: number;
  botUserId: string;
  botUsername: string;
  baseUrl: () => string;
}

export type Dispatcher = (t: string, d: unknown, options?: DispatchOptions) => number;

const MENTION_USER = /<@!?(\d+)>/g;
const MENTION_ROLE = /<@&(\d+)>/g;

export class DiscordState {
  readonly users = new Map<string, UserRecord>();
  readonly guilds = new Map<string, GuildRecord>();
  readonly channels = new Map<string, ChannelRecord>();
  readonly messages = new Map<string, StoredMessage>();
  readonly interactions = new Map<string, InteractionRecord>();
  readonly interactionsByToken = new Map<string, InteractionRecord>();
  /** Registered commands by scope: "global" or a guild id. */
  readonly commands = new Map<string, APIApplicationCommand[]>();
  /** Attachment bytes by URL path (`/attachments/...`). */
  readonly files = new Map<string, StoredFile>();
  readonly botUser: UserRecord;

  constructor(
    readonly config: StateConfig,
    private readonly dispatch: Dispatcher,
  ) {
    this.botUser = {
      id: config.botUserId,
      username: config.botUsername,
      globalName: null,
      bot: true,
      dmsClosed: false,
    };
    this.users.set(this.botUser.id, this.botUser);
  }

  // ---------------------------------------------------------------------------------- users

  addUser(spec: UserSpec = {}): UserRecord {
    const id = spec.id ?? snowflake();
    const existing = this.users.get(id);
    const user: UserRecord = {
      id,
      username: spec.username ?? existing?.username ?? `user${id.slice(-6)}`,
      globalName: spec.globalName ?? existing?.globalName ?? null,
      bot: spec.bot ?? existing?.bot ?? false,
      dmsClosed: spec.dmsClosed ?? existing?.dmsClosed ?? false,
    };
    this.users.set(id, user);
    return user;
  }

  /** The user, created with a generated name when unknown (convenient for tests). */
  ensureUser(id: string): UserRecord {
    return this.users.get(id) ?? this.addUser({ id });
  }

  userPayload(id: string): APIUser {
    return id === this.botUser.id ? botSelfPayload(this.botUser) : userPayload(this.ensureUser(id));
  }

  // --------------------------------------------------------------------------------- guilds

  addGuild(spec: GuildSpec = {}): GuildRecord {
    const id = spec.id ?? snowflake();
    const ownerId = spec.ownerId ?? this.addUser({ username: `owner-${id.slice(-4)}` }).id;
    this.ensureUser(ownerId);
    const roles: RoleRecord[] = [
      {
        id,
        name: "@everyone",
        permissions: String(spec.everyonePermissions ?? DEFAULT_EVERYONE_PERMISSIONS),
        position: 0,
      },
      ...(spec.roles ?? []).map((role, index) => ({
        id: role.id ?? snowflake(),
        name: role.name,
        permissions: String(role.permissions),
        position: index + 1,
      })),
    ];
    const now = isoNow();
    const guild: GuildRecord = {
      id,
      name: spec.name ?? `guild-${id.slice(-4)}`,
      ownerId,
      roles,
      members: new Map(),
      joinedAt: now,
      locale: spec.locale ?? "en-US",
    };
    this.guilds.set(id, guild);
    this.addMemberRecord(guild, { userId: this.botUser.id, roles: spec.botRoles ?? [] });
    this.addMemberRecord(guild, { userId: ownerId });
    for (const member of spec.members ?? []) {
      this.addMemberRecord(guild, typeof member === "string" ? { userId: member } : member);
    }
    for (const channel of spec.channels ?? []) this.createChannelRecord(guild, channel);
    // Joining a guild while connected: Discord sends GUILD_CREATE.
    this.dispatch("GUILD_CREATE", this.guildCreatePayload(guild));
    return guild;
  }

  addChannel(guildId: string, spec: ChannelSpec): ChannelRecord {
    const guild = this.requireGuild(guildId);
    const channel = this.createChannelRecord(guild, spec);
    this.dispatch("CHANNEL_CREATE", channelPayload(channel), { intents: Intent.Guilds });
    return channel;
  }

  addMember(guildId: string, spec: MemberSpec): MemberRecord {
    const guild = this.requireGuild(guildId);
    const member = this.addMemberRecord(guild, spec);
    this.dispatch(
      "GUILD_MEMBER_ADD",
      { ...memberPayload(member, this.ensureUser(member.userId)), guild_id: guild.id },
      { intents: Intent.GuildMembers },
    );
    return member;
  }

  requireGuild(guildId: string): GuildRecord {
    const guild = this.guilds.get(guildId);
    if (!guild) throw new Error(`discord emulator: unknown guild ${guildId}`);
    return guild;
  }

  member(guildId: string, userId: string): MemberRecord | undefined {
    return this.guilds.get(guildId)?.members.get(userId);
  }

  /** Guild-level permissions of a member (owner and Administrator get everything). */
  permissionsOf(guildId: string, userId: string): bigint {
    const guild = this.guilds.get(guildId);
    if (!guild) return 0n;
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    const member = guild.members.get(userId);
    let bits = 0n;
    for (const role of guild.roles) {
      if (role.id === guild.id || member?.roles.includes(role.id)) bits |= BigInt(role.permissions);
    }
    return bits & Permission.Administrator ? ALL_PERMISSIONS : bits;
  }

  guildCreatePayload(guild: GuildRecord): GatewayGuildCreateDispatchData {
    const channels = this.guildChannels(guild.id);
    return {
      ...guildPayload(guild, null),
      joined_at: guild.joinedAt,
      large: false,
      unavailable: false,
      member_count: guild.members.size,
      voice_states: [],
      members: [...guild.members.values()].map((m) => memberPayload(m, this.ensureUser(m.userId))),
      channels: channels.map((c) =>
        channelPayload(c, { inGuildCreate: true }),
      ) as GatewayGuildCreateDispatchData["channels"],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  guildChannels(guildId: string): ChannelRecord[] {
    return [...this.channels.values()].filter((c) => c.guildId === guildId);
  }

  // ------------------------------------------------------------------------------- channels

  /** The DM channel between the bot and a user, created on first use. */
  dmChannelFor(userId: string, channelId?: string): ChannelRecord {
    this.ensureUser(userId);
    const existing = [...this.channels.values()].find(
      (c) => c.type === ChannelKind.DM && c.recipientId === userId && (!channelId || c.id === channelId),
    );
    if (existing) return existing;
    const channel: ChannelRecord = {
      id: channelId ?? snowflake(),
      type: ChannelKind.DM,
      name: null,
      guildId: null,
      parentId: null,
      topic: null,
      position: 0,
      recipientId: userId,
      lastMessageId: null,
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  channelPayload(channel: ChannelRecord) {
    const recipient = channel.recipientId ? this.ensureUser(channel.recipientId) : undefined;
    return channelPayload(channel, { recipient });
  }

  // ------------------------------------------------------------------------------- messages

  /**
   * Stores a message and (unless ephemeral) dispatches MESSAGE_CREATE. Mentions are parsed from
   * the content (`<@id>`, `<@&id>`, `@everyone`); `allowedMentions` (Discord's allowed_mentions
   * object) narrows them like Discord does.
   */
  createMessage(input: {
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
  }): StoredMessage {
    const { channel } = input;
    const id = snowflake();
    const mentions = this.parseMentions(input.content, channel.guildId, input.allowedMentions, input.replyTo);
    const type = input.type ?? (input.replyTo ? MessageKind.Reply : MessageKind.Default);
    const flags = input.flags ?? 0;
    const message = messagePayload({
      id,
      channelId: channel.id,
      author: this.userPayload(input.authorId),
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
            referencedMessage: this.snapshot(input.replyTo),
          }
        : {}),
      webhookId: input.webhookId,
      applicationId: input.interaction ? this.config.applicationId : undefined,
      interactionMetadata: input.interaction
        ? {
            id: input.interaction.id,
            type: input.interaction.type,
            user: this.userPayload(input.interaction.userId),
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
    this.messages.set(id, stored);
    if (!stored.ephemeral) channel.lastMessageId = id;
    if (input.dispatch !== false) this.dispatchMessage("MESSAGE_CREATE", stored);
    return stored;
  }

  /** A test user "types" a message: stored and dispatched as MESSAGE_CREATE. */
  sendUserMessage(options: SendMessageOptions): APIMessage {
    const author = this.ensureUser(options.authorId);
    let channel: ChannelRecord;
    if (options.channelId) {
      const known = this.channels.get(options.channelId);
      if (known) channel = known;
      else if (options.guildId) throw new Error(`discord emulator: unknown channel ${options.channelId}`);
      else channel = this.dmChannelFor(author.id, options.channelId);
    } else if (options.guildId) {
      const first = this.guildChannels(options.guildId).find((c) => c.type === ChannelKind.GuildText);
      if (!first) throw new Error(`discord emulator: guild ${options.guildId} has no text channel`);
      channel = first;
    } else {
      channel = this.dmChannelFor(author.id);
    }
    if (channel.guildId) {
      const guild = this.requireGuild(channel.guildId);
      if (!guild.members.has(author.id)) this.addMemberRecord(guild, { userId: author.id });
    }
    let content = options.content;
    const botId = this.botUser.id;
    if (options.mentionsBot && !content.includes(`<@${botId}>`) && !content.includes(`<@!${botId}>`)) {
      content = `<@${botId}> ${content}`;
    }
    let replyTo: StoredMessage | undefined;
    if (options.replyTo) {
      replyTo = this.messages.get(options.replyTo);
      if (!replyTo) throw new Error(`discord emulator: unknown message ${options.replyTo}`);
    }
    const attachments = (options.attachments ?? []).map((a) => {
      const id = snowflake();
      const url = a.url ?? `${this.config.baseUrl()}/attachments/${channel.id}/${id}/${a.filename}`;
      return {
        id,
        filename: a.filename,
        size: a.size ?? 0,
        url,
        proxy_url: url,
        ...(a.contentType ? { content_type: a.contentType } : {}),
      };
    });
    const stored = this.createMessage({
      channel,
      authorId: author.id,
      content,
      embeds: options.embeds,
      attachments,
      replyTo,
    });
    return this.snapshot(stored);
  }

  /** The message as REST returns it (with current reactions). */
  snapshot(stored: StoredMessage): APIMessage {
    const reactions = reactionPayloads(stored.reactions.values(), this.botUser.id);
    return {
      ...structuredClone(stored.message),
      ...(reactions.length > 0 ? { reactions } : {}),
    };
  }

  /** MESSAGE_CREATE / MESSAGE_UPDATE with the gateway extras, shaped per session's intents. */
  dispatchMessage(t: "MESSAGE_CREATE" | "MESSAGE_UPDATE", stored: StoredMessage): void {
    if (stored.ephemeral) return;
    const channel = this.channels.get(stored.message.channel_id);
    const isGuild = stored.guildId !== null;
    this.dispatch(t, null, {
      intents: isGuild ? Intent.GuildMessages : Intent.DirectMessages,
      shape: (session) => this.gatewayMessage(stored, session, channel),
    });
  }

  dispatchMessageDelete(stored: StoredMessage): void {
    if (stored.ephemeral) return;
    this.dispatch(
      "MESSAGE_DELETE",
      {
        id: stored.message.id,
        channel_id: stored.message.channel_id,
        ...(stored.guildId ? { guild_id: stored.guildId } : {}),
      },
      { intents: stored.guildId ? Intent.GuildMessages : Intent.DirectMessages },
    );
  }

  private gatewayMessage(stored: StoredMessage, session: GatewaySession, channel?: ChannelRecord) {
    const message = this.snapshot(stored);
    const guildId = stored.guildId;
    const mentions = message.mentions.map((user) => {
      const member = guildId ? this.member(guildId, user.id) : undefined;
      return member ? { ...user, member: memberWithoutUser(member) } : user;
    });
    const author = guildId ? this.member(guildId, message.author.id) : undefined;
    const canSeeContent =
      (session.intents & Intent.MessageContent) !== 0 ||
      !guildId ||
      message.author.id === this.botUser.id ||
      message.mentions.some((u) => u.id === this.botUser.id);
    return {
      ...message,
      ...(canSeeContent ? {} : { content: "", embeds: [], attachments: [], components: [] }),
      mentions,
      ...(guildId ? { guild_id: guildId } : {}),
      ...(author ? { member: memberWithoutUser(author) } : {}),
      channel_type: channel?.type ?? (guildId ? ChannelKind.GuildText : ChannelKind.DM),
    };
  }

  private parseMentions(
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
      if (this.users.has(id) && userAllowed(id)) userIds.add(id);
    }
    if (replyTo && (allowed?.replied_user ?? true)) userIds.add(replyTo.message.author.id);
    const guild = guildId ? this.guilds.get(guildId) : undefined;
    const roles = new Set<string>();
    for (const match of content.matchAll(MENTION_ROLE)) {
      const id = match[1]!;
      if (guild?.roles.some((r) => r.id === id) && roleAllowed(id)) roles.add(id);
    }
    const everyone =
      /@(everyone|here)/.test(content) && (!allowed || (parse ?? []).includes("everyone")) && Boolean(guild);
    return { users: [...userIds].map((id) => this.userPayload(id)), roles: [...roles], everyone };
  }

  editMessage(
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
      const mentions = this.parseMentions(patch.content, stored.guildId, undefined, undefined);
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
    if (options.dispatch !== false) this.dispatchMessage("MESSAGE_UPDATE", stored);
    return stored;
  }

  deleteMessage(stored: StoredMessage): void {
    stored.deleted = true;
    this.dispatchMessageDelete(stored);
  }

  messageInChannel(channelId: string, messageId: string): StoredMessage | undefined {
    const stored = this.messages.get(messageId);
    return stored && !stored.deleted && stored.message.channel_id === channelId ? stored : undefined;
  }

  /** Messages of a channel, oldest first. */
  channelMessages(channelId: string): StoredMessage[] {
    return [...this.messages.values()]
      .filter((m) => m.message.channel_id === channelId && !m.deleted)
      .sort((a, b) => compareSnowflakes(a.message.id, b.message.id));
  }

  // ------------------------------------------------------------------------------ reactions

  /**
   * Adds a user's reaction and dispatches MESSAGE_REACTION_ADD (with `message_author_id`, and
   * `member` in guilds). With `dispatch: false` the caller sends it later through `dispatch()`.
   */
  react(
    options: ReactionOptions,
    { dispatch = true }: { dispatch?: boolean } = {},
  ): { payload: GatewayMessageReactionAddDispatchData; dispatch: () => void } {
    const { stored, channel, emoji, guildId } = this.resolveReaction(options);
    if (stored) {
      const key = emojiKey(emoji);
      const state = stored.reactions.get(key) ?? { emoji, userIds: [] };
      if (!state.userIds.includes(options.userId)) state.userIds.push(options.userId);
      stored.reactions.set(key, state);
    }
    const member = guildId ? this.member(guildId, options.userId) : undefined;
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
      ...(member ? { member: memberPayload(member, this.ensureUser(options.userId)) } : {}),
    };
    const send = () =>
      void this.dispatch("MESSAGE_REACTION_ADD", payload, {
        intents: guildId ? Intent.GuildMessageReactions : Intent.DirectMessageReactions,
      });
    if (dispatch) send();
    return { payload, dispatch: send };
  }

  /** Removes a user's reaction and dispatches MESSAGE_REACTION_REMOVE (see `react`). */
  unreact(
    options: ReactionOptions,
    { dispatch = true }: { dispatch?: boolean } = {},
  ): { payload: GatewayMessageReactionRemoveDispatchData; dispatch: () => void } {
    const { stored, channel, emoji, guildId } = this.resolveReaction(options);
    const state = stored?.reactions.get(emojiKey(emoji));
    if (state) state.userIds = state.userIds.filter((id) => id !== options.userId);
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
      void this.dispatch("MESSAGE_REACTION_REMOVE", payload, {
        intents: guildId ? Intent.GuildMessageReactions : Intent.DirectMessageReactions,
      });
    if (dispatch) send();
    return { payload, dispatch: send };
  }

  private resolveReaction(options: ReactionOptions): {
    stored: StoredMessage | undefined;
    channel: ChannelRecord;
    emoji: APIPartialEmoji;
    guildId: string | null;
  } {
    this.ensureUser(options.userId);
    const stored = this.messages.get(options.messageId);
    const channelId = options.channelId ?? stored?.message.channel_id;
    if (!channelId) throw new Error(`discord emulator: unknown message ${options.messageId}; pass channelId`);
    const channel =
      this.channels.get(channelId) ??
      (options.guildId ? undefined : this.dmChannelFor(options.userId, channelId));
    if (!channel) throw new Error(`discord emulator: unknown channel ${channelId}`);
    return { stored, channel, emoji: parseEmoji(options.emoji), guildId: channel.guildId };
  }

  // --------------------------------------------------------------------------- interactions

  slashCommand(options: SlashCommandOptions): InteractionRecord {
    const channel = this.interactionChannel(options.userId, options.guildId, options.channelId);
    const scopeCommands = [
      ...(channel.guildId ? (this.commands.get(channel.guildId) ?? []) : []),
      ...(this.commands.get("global") ?? []),
    ];
    const command = scopeCommands.find((c) => c.name === options.name);
    const resolved: APIInteractionDataResolved = {};
    let commandOptions = this.buildOptions(options.options, channel.guildId, resolved);
    if (options.subcommand) {
      commandOptions = [{ name: options.subcommand, type: 1, options: commandOptions } as never];
    }
    if (options.subcommandGroup) {
      commandOptions = [{ name: options.subcommandGroup, type: 2, options: commandOptions } as never];
    }
    const base = this.interactionBase(InteractionKind.ApplicationCommand, options, channel);
    const payload = {
      ...base,
      data: {
        id: command?.id ?? snowflake(),
        name: options.name,
        type: 1,
        ...(commandOptions.length > 0 ? { options: commandOptions } : {}),
        ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
        ...(command?.guild_id ? { guild_id: command.guild_id } : {}),
      },
    } as APIChatInputApplicationCommandInteraction;
    return this.registerInteraction(payload, options.userId, channel, null);
  }

  component(options: ComponentOptions & { componentType: number; values?: string[] }): InteractionRecord {
    const source = this.messages.get(options.messageId);
    if (!source || source.deleted) throw new Error(`discord emulator: unknown message ${options.messageId}`);
    const channelId = options.channelId ?? source.message.channel_id;
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`discord emulator: unknown channel ${channelId}`);
    const base = this.interactionBase(InteractionKind.MessageComponent, options, channel);
    const payload = {
      ...base,
      message: this.snapshot(source),
      data: {
        custom_id: options.customId,
        component_type: options.componentType,
        ...(options.values ? { values: options.values } : {}),
      },
    } as APIMessageComponentInteraction;
    return this.registerInteraction(payload, options.userId, channel, source.message.id);
  }

  private interactionChannel(userId: string, guildId?: string, channelId?: string): ChannelRecord {
    this.ensureUser(userId);
    if (channelId) {
      const channel = this.channels.get(channelId);
      if (channel) return channel;
      if (guildId) throw new Error(`discord emulator: unknown channel ${channelId}`);
      return this.dmChannelFor(userId, channelId);
    }
    if (guildId) {
      const first = this.guildChannels(guildId).find((c) => c.type === ChannelKind.GuildText);
      if (!first) throw new Error(`discord emulator: guild ${guildId} has no text channel`);
      return first;
    }
    return this.dmChannelFor(userId);
  }

  private interactionBase(
    type: number,
    options: { userId: string; memberPermissions?: bigint | string; locale?: string },
    channel: ChannelRecord,
  ) {
    const user = this.ensureUser(options.userId);
    const common = {
      id: snowflake(),
      application_id: this.config.applicationId,
      type,
      token: `itoken-${randomBytes(24).toString("hex")}`,
      version: 1 as const,
      channel: this.channelPayload(channel),
      channel_id: channel.id,
      locale: (options.locale ?? "en-US") as Locale,
      entitlements: [],
      attachment_size_limit: 10 * 1024 * 1024,
    };
    if (!channel.guildId) {
      return {
        ...common,
        user: userPayload(user),
        app_permissions: String(DM_APP_PERMISSIONS),
        authorizing_integration_owners: { 0: "0" },
        context: 1,
      };
    }
    const guild = this.requireGuild(channel.guildId);
    const member = guild.members.get(user.id) ?? this.addMemberRecord(guild, { userId: user.id });
    const permissions = options.memberPermissions ?? this.permissionsOf(guild.id, user.id);
    return {
      ...common,
      guild_id: guild.id,
      guild: { id: guild.id, locale: guild.locale as Locale, features: [] },
      guild_locale: guild.locale as Locale,
      member: { ...memberPayload(member, user), permissions: String(permissions) },
      app_permissions: String(this.permissionsOf(guild.id, this.botUser.id)),
      authorizing_integration_owners: { 0: guild.id },
      context: 0,
    };
  }

  private registerInteraction(
    payload: APIChatInputApplicationCommandInteraction | APIMessageComponentInteraction,
    userId: string,
    channel: ChannelRecord,
    sourceMessageId: string | null,
  ): InteractionRecord {
    const record: InteractionRecord = {
      id: payload.id,
      token: payload.token,
      type: payload.type,
      userId,
      guildId: channel.guildId,
      channelId: channel.id,
      createdAt: Date.now(),
      acknowledgedWith: null,
      originalMessageId: null,
      sourceMessageId,
      ephemeral: false,
      payload,
    };
    this.interactions.set(record.id, record);
    this.interactionsByToken.set(record.token, record);
    this.dispatch("INTERACTION_CREATE", payload);
    return record;
  }

  private buildOptions(
    options: SlashCommandOptions["options"],
    guildId: string | null,
    resolved: APIInteractionDataResolved,
  ): APIApplicationCommandInteractionDataOption[] {
    if (!options) return [];
    const list: APIApplicationCommandInteractionDataOption[] = Array.isArray(options)
      ? options
      : Object.entries(options).map(([name, value]) => {
          const type =
            typeof value === "boolean"
              ? 5
              : typeof value === "number"
                ? Number.isInteger(value)
                  ? 4
                  : 10
                : 3;
          return { name, type, value } as APIApplicationCommandInteractionDataOption;
        });
    for (const option of list) {
      if (!("value" in option)) continue;
      const value = String(option.value);
      if (option.type === 6 || option.type === 9) {
        const user = this.users.get(value);
        if (user) {
          resolved.users = { ...resolved.users, [value]: userPayload(user) };
          const member = guildId ? this.member(guildId, value) : undefined;
          if (member && guildId) {
            resolved.members = {
              ...resolved.members,
              [value]: {
                ...memberWithoutUser(member),
                permissions: String(this.permissionsOf(guildId, value)),
              },
            } as APIInteractionDataResolved["members"];
          }
        }
      }
      if (option.type === 7) {
        const channel = this.channels.get(value);
        if (channel) {
          resolved.channels = {
            ...resolved.channels,
            [value]: { ...this.channelPayload(channel), permissions: String(ALL_PERMISSIONS) },
          } as APIInteractionDataResolved["channels"];
        }
      }
      if (option.type === 8 && guildId) {
        const role = this.guilds.get(guildId)?.roles.find((r) => r.id === value);
        if (role) {
          resolved.roles = {
            ...resolved.roles,
            [value]: { id: role.id, name: role.name, permissions: role.permissions },
          } as APIInteractionDataResolved["roles"];
        }
      }
    }
    return list;
  }

  // ------------------------------------------------------------------------------ gateway

  readyPayload(session: GatewaySession, resumeGatewayUrl: string): GatewayReadyDispatchData {
    const shard = session.identify.shard;
    return {
      v: 10,
      user: botSelfPayload(this.botUser),
      guilds: [...this.guilds.keys()].map((id) => ({ id, unavailable: true })),
      session_id: session.id,
      resume_gateway_url: resumeGatewayUrl,
      ...(shard ? { shard } : {}),
      application: {
        id: this.config.applicationId,
        flags: this.config.applicationFlags,
        flags_new: String(this.config.applicationFlags),
      },
    };
  }

  /** Everything sent right after READY: one GUILD_CREATE per guild. */
  afterReady(): Array<{ t: string; d: unknown }> {
    return [...this.guilds.values()].map((guild) => ({
      t: "GUILD_CREATE",
      d: this.guildCreatePayload(guild),
    }));
  }

  /** REQUEST_GUILD_MEMBERS (op 8) → GUILD_MEMBERS_CHUNK. */
  requestGuildMembers(d: Record<string, unknown>): Array<{ t: string; d: unknown }> {
    const guild = this.guilds.get(String(d.guild_id));
    if (!guild) return [];
    const ids = d.user_ids === undefined ? undefined : ([] as unknown[]).concat(d.user_ids).map(String);
    const query = typeof d.query === "string" ? d.query.toLowerCase() : "";
    const limit = typeof d.limit === "number" && d.limit > 0 ? d.limit : Number.POSITIVE_INFINITY;
    const members = [...guild.members.values()]
      .filter((m) =>
        ids ? ids.includes(m.userId) : this.ensureUser(m.userId).username.toLowerCase().startsWith(query),
      )
      .slice(0, limit);
    return [
      {
        t: "GUILD_MEMBERS_CHUNK",
        d: {
          guild_id: guild.id,
          members: members.map((m) => memberPayload(m, this.ensureUser(m.userId))),
          chunk_index: 0,
          chunk_count: 1,
          not_found: ids ? ids.filter((id) => !guild.members.has(id)) : [],
          ...(typeof d.nonce === "string" ? { nonce: d.nonce } : {}),
        },
      },
    ];
  }

  applicationPayload() {
    const owner = [...this.users.values()].find((u) => !u.bot) ?? this.botUser;
    return applicationPayload({
      id: this.config.applicationId,
      name: this.config.applicationName,
      bot: userPayload(this.botUser),
      owner: userPayload(owner),
      flags: this.config.applicationFlags,
    });
  }

  // ------------------------------------------------------------------------------ internal

  private addMemberRecord(guild: GuildRecord, spec: MemberSpec): MemberRecord {
    this.ensureUser(spec.userId);
    const member: MemberRecord = {
      userId: spec.userId,
      roles: spec.roles ?? guild.members.get(spec.userId)?.roles ?? [],
      nick: spec.nick ?? null,
      joinedAt: guild.members.get(spec.userId)?.joinedAt ?? isoNow(),
    };
    guild.members.set(spec.userId, member);
    return member;
  }

  private createChannelRecord(guild: GuildRecord, spec: ChannelSpec): ChannelRecord {
    const channel: ChannelRecord = {
      id: spec.id ?? snowflake(),
      type: spec.type ?? ChannelKind.GuildText,
      name: spec.name ?? null,
      guildId: guild.id,
      parentId: spec.parentId ?? null,
      topic: spec.topic ?? null,
      position: this.guildChannels(guild.id).length,
      recipientId: null,
      lastMessageId: null,
    };
    this.channels.set(channel.id, channel);
    return channel;
  }
}

export interface AllowedMentions {
  parse?: string[];
  users?: string[];
  roles?: string[];
  replied_user?: boolean;
}
