// The `/assistant` slash command: its definition, its registration, and its handler.
//
// One command with subcommands, limits included:
//   /assistant status | train | models | rollback [target]
//              | memory | export | forget | opt-out | opt-in
//              | limits show | limits set <setting>
//              | config show | config prompt|model <text> [channel] | config channels|roles <action> [channel|role]
// memory, export, forget, opt-out and opt-in are the person's rights over their data: export DMs
// the file (the core sends it through the notifier), forget answers with a confirmation button
// (forget.ts handles the click).
// The limits subcommands are for the bot's operators (OPERATORS), and the core checks that on
// every call. They are not a separate command gated by Discord's `default_member_permissions`:
// that gate can only be set per command, it means "server administrator", which is a different
// set of people from the bot's operators (an operator need not administer every server the bot is
// in, and a server's admins do not control the bot's spending), and it does not apply in DMs.
// Server admins who want to hide the subcommands can still restrict the command per server under
// Server Settings > Integrations.
//
// The config subcommands are operators-only in the same way; their channel and role options are
// written into the text the core reads (`<#id>`, `<@&id>`, `--channel <#id>`), so both platforms
// reach one parser (src/core/server-config.ts).
// The subcommands come from the shared table (src/bots/shared/commands.ts); the core answers them.
// Every interaction is acknowledged at once with an ephemeral deferred reply (Discord allows 3 s;
// the core may take longer) and then edited with the core's answer: every answer is ephemeral.
import {
  ApplicationIntegrationType,
  ChannelType,
  type ChatInputCommandInteraction,
  type Client,
  InteractionContextType,
  MessageFlags,
  Routes,
  SlashCommandBuilder,
  type SlashCommandSubcommandBuilder,
} from "discord.js";
import { failureNotices } from "../../core/messages.ts";
import type { Assistant, CommandPlace, CommandReply, Logger } from "../../core/ports.ts";
import { COMMAND_GROUPS, COMMAND_NAME, COMMANDS, type CommandSpec } from "../shared/commands.ts";
import { splitMessage } from "../shared/split-message.ts";
import { forgetButton } from "./forget.ts";
import { discordText, oneMessage } from "./format.ts";
import { userRef } from "./identity.ts";
import { rateMenuCommand } from "./rating-buttons.ts";
import { statusEmbed } from "./status-embed.ts";

export { COMMAND_NAME };

/** One subcommand of the table, as Discord's builder wants it. */
function subcommand(spec: CommandSpec, name: string) {
  return (s: SlashCommandSubcommandBuilder) => {
    s.setName(name).setDescription(spec.help);
    const arg = spec.argument;
    if (arg)
      s.addStringOption((o) => {
        o.setName(arg.name).setDescription(arg.help).setRequired(arg.required).setMaxLength(arg.maxLength);
        if (arg.choices) o.addChoices(...arg.choices.map((c) => ({ name: c, value: c })));
        return o;
      });
    // Optional, so after the argument (Discord wants required options first).
    const target = spec.target;
    if (target?.kind === "channel")
      s.addChannelOption((o) =>
        o
          .setName(target.name)
          .setDescription(target.help)
          .setRequired(false)
          .addChannelTypes(ChannelType.GuildText, ChannelType.GuildAnnouncement, ChannelType.GuildForum),
      );
    if (target?.kind === "role")
      s.addRoleOption((o) => o.setName(target.name).setDescription(target.help).setRequired(false));
    return s;
  };
}

/** The `/assistant` command, built from the shared command table (groups become subcommand groups). */
export function commandDefinitions() {
  const command = new SlashCommandBuilder()
    .setName(COMMAND_NAME)
    .setDescription("Your personal assistant: what it knows about you, and your own fine-tuned model")
    // Also a user-installed app: people who add it to their account can run it in any DM or group
    // DM (PrivateChannel), where the bot is not a member; answers go through the interaction.
    .setContexts(
      InteractionContextType.Guild,
      InteractionContextType.BotDM,
      InteractionContextType.PrivateChannel,
    )
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall);
  for (const spec of COMMANDS)
    if (!spec.name.includes(" ")) command.addSubcommand(subcommand(spec, spec.name));
  for (const [group, help] of Object.entries(COMMAND_GROUPS))
    command.addSubcommandGroup((g) => {
      g.setName(group).setDescription(help);
      for (const spec of COMMANDS) {
        const [first, sub] = spec.name.split(" ");
        if (first === group && sub) g.addSubcommand(subcommand(spec, sub));
      }
      return g;
    });
  return [command.toJSON(), rateMenuCommand()];
}

/** PUT replaces the whole set: globally, or in one server when DISCORD_DEV_GUILD_ID is set (instant). */
export async function registerCommands(
  client: Client,
  config: { applicationId: string; devGuildId?: string },
  log: Logger,
): Promise<void> {
  const route = config.devGuildId
    ? Routes.applicationGuildCommands(config.applicationId, config.devGuildId)
    : Routes.applicationCommands(config.applicationId);
  await client.rest.put(route, { body: commandDefinitions() });
  log.info("registered the /assistant command", { scope: config.devGuildId ? "guild" : "global" });
}

/** Translates the interaction into the core's command and renders its answer. */
export async function handleCommand(
  interaction: ChatInputCommandInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  try {
    const group = interaction.options.getSubcommandGroup(false);
    const sub = interaction.options.getSubcommand(true);
    const name = group ? `${group} ${sub}` : sub;
    const spec = COMMANDS.find((c) => c.name === name);
    const args = commandArgs(interaction, spec);
    const reply = await assistant.command(userRef(interaction.user.id), {
      name,
      args,
      place: commandPlace(interaction),
    });
    await render(interaction, reply);
  } catch (error) {
    log.error("command failed", { interactionId: interaction.id, error });
    await interaction
      .editReply({ content: failureNotices.command, embeds: [], components: [] })
      .catch(() => {});
  }
}

/**
 * The text the core reads for a subcommand: its string option, with its channel or role option
 * written the way a person would type it (`<#id>`, `<@&id>`, `--channel <#id>`).
 */
function commandArgs(interaction: ChatInputCommandInteraction, spec: CommandSpec | undefined): string {
  const text = spec?.argument ? (interaction.options.getString(spec.argument.name) ?? "") : "";
  const target = spec?.target;
  if (!target) return text;
  if (target.kind === "role") {
    const role = interaction.options.getRole(target.name);
    return role ? `${text} <@&${role.id}>` : text;
  }
  const channel = interaction.options.getChannel(target.name);
  if (!channel) return text;
  return target.flag ? `--channel <#${channel.id}> ${text}` : `${text} <#${channel.id}>`;
}

/** The server and channel a command was run in (a thread counts as its parent channel, as for replies). */
function commandPlace(interaction: ChatInputCommandInteraction): CommandPlace {
  const channel = interaction.channel;
  const channelId = channel?.isThread() ? (channel.parentId ?? channel.id) : interaction.channelId;
  return {
    ...(interaction.guildId ? { serverId: interaction.guildId } : {}),
    ...(channelId ? { channelId } : {}),
  };
}

async function render(interaction: ChatInputCommandInteraction, reply: CommandReply): Promise<void> {
  if (reply.status) {
    await interaction.editReply({ embeds: [statusEmbed(reply.status)] });
    return;
  }
  if (reply.confirmButtonId !== undefined) {
    await interaction.editReply({
      content: oneMessage(reply.text),
      components: [forgetButton(reply.confirmButtonId)],
    });
    return;
  }
  // The deferred reply gets the first part; longer answers continue as ephemeral follow-ups.
  const [first = "…", ...rest] = splitMessage(reply.text, discordText);
  await interaction.editReply({ content: first });
  for (const part of rest) await interaction.followUp({ content: part, flags: MessageFlags.Ephemeral });
}
