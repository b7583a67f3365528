/**
 * Interactions in the Discord emulator: slash commands (with subcommands, groups and resolved
 * options) and message components (buttons, selects), built as Discord sends INTERACTION_CREATE
 * (guild or DM context, member permissions, entitlements) and recorded for the REST callbacks.
 */
import { randomBytes } from "node:crypto";
import type {
  APIApplicationCommandInteractionDataOption,
  APIChatInputApplicationCommandInteraction,
  APIInteractionDataResolved,
  APIMessageComponentInteraction,
  Locale,
} from "discord.js";
import { ALL_PERMISSIONS, ChannelKind, DM_APP_PERMISSIONS, InteractionKind } from "./constants.ts";
import { snowflake } from "./ids.ts";
import { type ChannelRecord, memberPayload, memberWithoutUser, userPayload } from "./payloads.ts";
import type { DiscordState, InteractionRecord } from "./state.ts";

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
  /**
   * Run as a user-installed app in a DM between the user and this other person (interaction
   * context 2, PRIVATE_CHANNEL), where the bot is not a participant. Refused, as Discord would not
   * offer the command, unless it was registered with integration type 1 and context 2.
   */
  userInstallDmWith?: string;
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

export function slashCommand(state: DiscordState, options: SlashCommandOptions): InteractionRecord {
  if (options.userInstallDmWith !== undefined)
    return userInstallCommand(state, options, options.userInstallDmWith);
  const channel = interactionChannel(state, options.userId, options.guildId, options.channelId);
  const scopeCommands = [
    ...(channel.guildId ? (state.commands.get(channel.guildId) ?? []) : []),
    ...(state.commands.get("global") ?? []),
  ];
  const command = scopeCommands.find((c) => c.name === options.name);
  const resolved: APIInteractionDataResolved = {};
  const commandOptions = withSubcommands(
    options,
    buildOptions(state, options.options, channel.guildId, resolved),
  );
  const base = interactionBase(state, InteractionKind.ApplicationCommand, options, channel);
  return dispatchCommand(state, options, base, command, commandOptions, resolved, channel);
}

function dispatchCommand(
  state: DiscordState,
  options: SlashCommandOptions,
  base: Record<string, unknown>,
  command: { id: string; guild_id?: string } | undefined,
  commandOptions: APIApplicationCommandInteractionDataOption[],
  resolved: APIInteractionDataResolved,
  channel: ChannelRecord,
): InteractionRecord {
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
  return registerInteraction(state, payload, options.userId, channel, null);
}

export interface MessageCommandOptions {
  userId: string;
  /** The message the command is run on (right-click > Apps > name). */
  messageId: string;
  name: string;
}

/**
 * A message context-menu command (application command type 3) on a stored message. Refused, as
 * Discord would not offer it, unless a global command of that name and type 3 is registered.
 */
export function messageCommand(state: DiscordState, options: MessageCommandOptions): InteractionRecord {
  const source = state.messages.get(options.messageId);
  if (!source || source.deleted) throw new Error(`discord emulator: unknown message ${options.messageId}`);
  const command = (state.commands.get("global") ?? []).find((c) => c.name === options.name && c.type === 3);
  if (!command) throw new Error(`discord emulator: no message command "${options.name}" is registered`);
  const channel = state.channels.get(source.message.channel_id);
  if (!channel) throw new Error(`discord emulator: unknown channel ${source.message.channel_id}`);
  const base = interactionBase(state, InteractionKind.ApplicationCommand, options, channel);
  const payload = {
    ...base,
    data: {
      id: command.id,
      name: options.name,
      type: 3,
      target_id: source.message.id,
      resolved: { messages: { [source.message.id]: state.snapshot(source) } },
    },
  } as unknown as APIChatInputApplicationCommandInteraction;
  return registerInteraction(state, payload, options.userId, channel, null);
}

export function component(
  state: DiscordState,
  options: ComponentOptions & { componentType: number; values?: string[] },
): InteractionRecord {
  const source = state.messages.get(options.messageId);
  if (!source || source.deleted) throw new Error(`discord emulator: unknown message ${options.messageId}`);
  const channelId = options.channelId ?? source.message.channel_id;
  const channel = state.channels.get(channelId);
  if (!channel) throw new Error(`discord emulator: unknown channel ${channelId}`);
  const base = interactionBase(state, InteractionKind.MessageComponent, options, channel);
  const payload = {
    ...base,
    message: state.snapshot(source),
    data: {
      custom_id: options.customId,
      component_type: options.componentType,
      ...(options.values ? { values: options.values } : {}),
    },
  } as APIMessageComponentInteraction;
  return registerInteraction(state, payload, options.userId, channel, source.message.id);
}

/**
 * A user-installed app's command in a DM between two people: the channel is theirs, not the bot's
 * (the bot cannot post in it); the answer goes through the interaction.
 */
function userInstallCommand(state: DiscordState, options: SlashCommandOptions, otherUserId: string) {
  const user = state.ensureUser(options.userId);
  const command = (state.commands.get("global") ?? []).find((c) => c.name === options.name);
  if (!command?.integration_types?.includes(1) || !command.contexts?.includes(2))
    throw new Error(
      `discord emulator: /${options.name} is not offered in a DM between people: it is not registered for user installs (integration_types 1, contexts 2)`,
    );
  // Stored so the interaction's answers have somewhere to live, as ephemeral messages.
  const channel = state.dmBetweenPeople(user.id, otherUserId);
  const resolved: APIInteractionDataResolved = {};
  const commandOptions = withSubcommands(options, buildOptions(state, options.options, null, resolved));
  const base = {
    ...commonFields(state, InteractionKind.ApplicationCommand, options, channel),
    user: userPayload(user),
    // A user install may only send messages through the interaction itself.
    app_permissions: String(DM_APP_PERMISSIONS),
    authorizing_integration_owners: { 1: user.id },
    context: 2,
  };
  return dispatchCommand(state, options, base, command, commandOptions, resolved, channel);
}

/** Subcommand and group wrapped around the options, as Discord nests them. */
function withSubcommands(
  options: SlashCommandOptions,
  commandOptions: APIApplicationCommandInteractionDataOption[],
): APIApplicationCommandInteractionDataOption[] {
  let wrapped = commandOptions;
  if (options.subcommand) wrapped = [{ name: options.subcommand, type: 1, options: wrapped } as never];
  if (options.subcommandGroup)
    wrapped = [{ name: options.subcommandGroup, type: 2, options: wrapped } as never];
  return wrapped;
}

/** The fields every interaction carries, whatever its context. */
function commonFields(
  state: DiscordState,
  type: number,
  options: { locale?: string },
  channel: ChannelRecord,
) {
  return {
    id: snowflake(),
    application_id: state.config.applicationId,
    type,
    token: `itoken-${randomBytes(24).toString("hex")}`,
    version: 1 as const,
    channel: state.channelPayload(channel),
    channel_id: channel.id,
    locale: (options.locale ?? "en-US") as Locale,
    entitlements: [],
    attachment_size_limit: 10 * 1024 * 1024,
  };
}

function interactionChannel(
  state: DiscordState,
  userId: string,
  guildId?: string,
  channelId?: string,
): ChannelRecord {
  state.ensureUser(userId);
  if (channelId) {
    const channel = state.channels.get(channelId);
    if (channel) return channel;
    if (guildId) throw new Error(`discord emulator: unknown channel ${channelId}`);
    return state.dmChannelFor(userId, channelId);
  }
  if (guildId) {
    const first = state.guildChannels(guildId).find((c) => c.type === ChannelKind.GuildText);
    if (!first) throw new Error(`discord emulator: guild ${guildId} has no text channel`);
    return first;
  }
  return state.dmChannelFor(userId);
}

function interactionBase(
  state: DiscordState,
  type: number,
  options: { userId: string; memberPermissions?: bigint | string; locale?: string },
  channel: ChannelRecord,
) {
  const user = state.ensureUser(options.userId);
  const common = commonFields(state, type, options, channel);

  if (!channel.guildId) {
    return {
      ...common,
      user: userPayload(user),
      app_permissions: String(DM_APP_PERMISSIONS),
      authorizing_integration_owners: { 0: "0" },
      context: 1,
    };
  }
  const guild = state.requireGuild(channel.guildId);
  const member = guild.members.get(user.id) ?? state.addMemberRecord(guild, { userId: user.id });
  const permissions = options.memberPermissions ?? state.permissionsOf(guild.id, user.id);
  return {
    ...common,
    guild_id: guild.id,
    guild: { id: guild.id, locale: guild.locale as Locale, features: [] },
    guild_locale: guild.locale as Locale,
    member: { ...memberPayload(member, user), permissions: String(permissions) },
    app_permissions: String(state.permissionsOf(guild.id, state.botUser.id)),
    authorizing_integration_owners: { 0: guild.id },
    context: 0,
  };
}

function registerInteraction(
  state: DiscordState,
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
  state.interactions.set(record.id, record);
  state.interactionsByToken.set(record.token, record);
  state.dispatch("INTERACTION_CREATE", payload);
  return record;
}

function buildOptions(
  state: DiscordState,
  options: SlashCommandOptions["options"],
  guildId: string | null,
  resolved: APIInteractionDataResolved,
): APIApplicationCommandInteractionDataOption[] {
  if (!options) return [];
  const list: APIApplicationCommandInteractionDataOption[] = Array.isArray(options)
    ? options
    : Object.entries(options).map(([name, value]) => {
        const type =
          typeof value === "boolean" ? 5 : typeof value === "number" ? (Number.isInteger(value) ? 4 : 10) : 3;
        return { name, type, value } as APIApplicationCommandInteractionDataOption;
      });
  for (const option of list) {
    if (!("value" in option)) continue;
    const value = String(option.value);
    if (option.type === 6 || option.type === 9) {
      const user = state.users.get(value);
      if (user) {
        resolved.users = { ...resolved.users, [value]: userPayload(user) };
        const member = guildId ? state.member(guildId, value) : undefined;
        if (member && guildId) {
          resolved.members = {
            ...resolved.members,
            [value]: {
              ...memberWithoutUser(member),
              permissions: String(state.permissionsOf(guildId, value)),
            },
          } as APIInteractionDataResolved["members"];
        }
      }
    }
    if (option.type === 7) {
      const channel = state.channels.get(value);
      if (channel) {
        resolved.channels = {
          ...resolved.channels,
          [value]: { ...state.channelPayload(channel), permissions: String(ALL_PERMISSIONS) },
        } as APIInteractionDataResolved["channels"];
      }
    }
    if (option.type === 8 && guildId) {
      const role = state.guilds.get(guildId)?.roles.find((r) => r.id === value);
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
