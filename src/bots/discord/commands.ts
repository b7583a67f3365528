// The `/assistant` slash command: its definition, its registration, and its handler.
//
// One command with subcommands, limits included:
//   /assistant status | train | models | rollback [target]
//              | memory | export | forget | opt-out | opt-in
//              | limits show | limits set <setting>
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
// Every interaction is acknowledged at once with an ephemeral deferred reply (Discord allows 3 s;
// the core may take longer) and then edited with the core's answer: every answer is ephemeral.
import {
  ApplicationIntegrationType,
  type ChatInputCommandInteraction,
  type Client,
  InteractionContextType,
  MessageFlags,
  Routes,
  SlashCommandBuilder,
} from "discord.js";
import type { Assistant, CommandReply } from "../../core/assistant.ts";
import type { Logger } from "../../core/ports.ts";
import { splitMessage } from "../shared/split-message.ts";
import { forgetButton } from "./forget.ts";
import { discordText, oneMessage } from "./format.ts";
import { userRef } from "./identity.ts";
import { SOMETHING_WENT_WRONG } from "./messages.ts";
import { statusEmbed } from "./status-embed.ts";

export const COMMAND_NAME = "assistant";

export function commandDefinitions() {
  return [
    new SlashCommandBuilder()
      .setName(COMMAND_NAME)
      .setDescription("Your personal assistant: what it knows about you, and your own fine-tuned model")
      .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
      .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
      .addSubcommand((s) =>
        s
          .setName("status")
          .setDescription("What I remember about you and how close you are to your own model"),
      )
      .addSubcommand((s) => s.setName("train").setDescription("Ask for a fine-tune of your own model now"))
      .addSubcommand((s) => s.setName("models").setDescription("Your fine-tuned model versions"))
      .addSubcommand((s) =>
        s
          .setName("rollback")
          .setDescription("Answer with an earlier model")
          .addStringOption((o) =>
            o
              .setName("target")
              .setDescription("previous (default), base, or a version number")
              .setRequired(false)
              .setMaxLength(40),
          ),
      )
      .addSubcommand((s) =>
        s.setName("memory").setDescription("What I hold about you: counts, recent and best-rated exchanges"),
      )
      .addSubcommand((s) =>
        s.setName("export").setDescription("Get everything I hold about you as a file by DM"),
      )
      .addSubcommand((s) =>
        s.setName("forget").setDescription("Delete everything I hold about you (asks you to confirm)"),
      )
      .addSubcommand((s) =>
        s.setName("opt-out").setDescription("Stop me storing and learning from your messages"),
      )
      .addSubcommand((s) =>
        s.setName("opt-in").setDescription("Let me remember and learn from you again (starts fresh)"),
      )
      .addSubcommandGroup((g) =>
        g
          .setName("limits")
          .setDescription("Spending limits (bot operators only)")
          .addSubcommand((s) => s.setName("show").setDescription("Show the spending limits"))
          .addSubcommand((s) =>
            s
              .setName("set")
              .setDescription("Change a limit, e.g. training-user-month 20")
              .addStringOption((o) =>
                o
                  .setName("setting")
                  .setDescription("A limit and its new value, e.g. training-user-month 20")
                  .setRequired(true)
                  .setMaxLength(200),
              ),
          ),
      )
      .toJSON(),
  ];
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

export async function handleCommand(
  interaction: ChatInputCommandInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  try {
    const user = userRef(interaction.user.id);
    const group = interaction.options.getSubcommandGroup(false);
    const sub = interaction.options.getSubcommand(true);
    if (group === null && sub === "status") {
      const { status } = await assistant.status(user);
      await interaction.editReply({ embeds: [statusEmbed(status)] });
      return;
    }
    if (group === null && sub === "forget") {
      const { text, confirmButtonId } = await assistant.forgetRequest(user);
      await interaction.editReply({ content: oneMessage(text), components: [forgetButton(confirmButtonId)] });
      return;
    }
    const reply = await commandReply(interaction, assistant, group, sub);
    await replyInParts(interaction, reply.text);
  } catch (error) {
    log.error("command failed", { interactionId: interaction.id, error });
    await interaction
      .editReply({ content: SOMETHING_WENT_WRONG, embeds: [], components: [] })
      .catch(() => {});
  }
}

function commandReply(
  interaction: ChatInputCommandInteraction,
  assistant: Assistant,
  group: string | null,
  sub: string,
): Promise<CommandReply> {
  const user = userRef(interaction.user.id);
  const key = group ? `${group} ${sub}` : sub;
  switch (key) {
    case "train":
      return assistant.train(user);
    case "models":
      return assistant.models(user);
    case "rollback":
      return assistant.rollback(user, interaction.options.getString("target")?.trim() || "previous");
    case "memory":
      return assistant.memory(user);
    case "export":
      return assistant.exportData(user);
    case "opt-out":
      return assistant.optOut(user);
    case "opt-in":
      return assistant.optIn(user);
    case "limits show":
      return assistant.limitsShow(user);
    case "limits set":
      return assistant.limitsSet(user, interaction.options.getString("setting", true).trim());
    default:
      // A command registered by an older version of the bot.
      return Promise.resolve({ ok: false, text: "I don't know that command. Try /assistant status." });
  }
}

/** The deferred reply gets the first part; longer answers continue as ephemeral follow-ups. */
async function replyInParts(interaction: ChatInputCommandInteraction, text: string): Promise<void> {
  const [first = "…", ...rest] = splitMessage(text, discordText);
  await interaction.editReply({ content: first });
  for (const part of rest) await interaction.followUp({ content: part, flags: MessageFlags.Ephemeral });
}
