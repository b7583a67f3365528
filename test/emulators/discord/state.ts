import type {
  APIApplicationCommand,
  APIChatInputApplicationCommandInteraction,
  APIMessage,
  APIMessageComponentInteraction,
  APIUser,
  GatewayGuildCreateDispatchData,
} from "discord.js";
import {
  ALL_PERMISSIONS,
  ChannelKind,
  DEFAULT_EVERYONE_PERMISSIONS,
  Intent,
  Permission,
} from "./constants.ts";
import type { DispatchOptions } from "./gateway.ts";
import { isoNow, snowflake } from "./ids.ts";
import {
  botSelfPayload,
  type ChannelRecord,
  channelPayload,
  type GuildRecord,
  guildPayload,
  type MemberRecord,
  memberPayload,
  type ReactionState,
  type RoleRecord,
  reactionPayloads,
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
    /** Sends a gateway dispatch to the sessions whose intents ask for it. */
    readonly dispatch: Dispatcher,
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
      (c) =>
        c.type === ChannelKind.DM &&
        c.betweenPeople === undefined &&
        c.recipientId === userId &&
        (!channelId || c.id === channelId),
    );
    if (existing) return existing;
    return this.addDmChannel(channelId ?? snowflake(), userId);
  }

  /**
   * A DM between two people the bot is not part of (a user-installed app's context), holding only
   * the interaction answers of `userId`'s commands there.
   */
  dmBetweenPeople(userId: string, otherUserId: string): ChannelRecord {
    this.ensureUser(userId);
    this.ensureUser(otherUserId);
    return this.addDmChannel(snowflake(), otherUserId, userId);
  }

  private addDmChannel(id: string, recipientId: string, betweenPeople?: string): ChannelRecord {
    const channel: ChannelRecord = {
      id,
      type: ChannelKind.DM,
      name: null,
      guildId: null,
      parentId: null,
      topic: null,
      position: 0,
      recipientId,
      lastMessageId: null,
      ...(betweenPeople !== undefined ? { betweenPeople } : {}),
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  channelPayload(channel: ChannelRecord) {
    const recipient = channel.recipientId ? this.ensureUser(channel.recipientId) : undefined;
    return channelPayload(channel, { recipient });
  }

  // ------------------------------------------------------------------------------- messages

  /** The message as REST returns it (with current reactions). */
  snapshot(stored: StoredMessage): APIMessage {
    const reactions = reactionPayloads(stored.reactions.values(), this.botUser.id);
    return {
      ...structuredClone(stored.message),
      ...(reactions.length > 0 ? { reactions } : {}),
    };
  }

  // ------------------------------------------------------------------------------ internal

  /** Makes a user a member without a GUILD_MEMBER_ADD (guild setup, implicit joins). */
  addMemberRecord(guild: GuildRecord, spec: MemberSpec): MemberRecord {
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
