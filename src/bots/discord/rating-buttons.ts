// Rating on Discord beyond reactions: the 👍 (5) / 👎 (1) buttons under the last message of an
// answer, and the "Rate this answer" message command with a 1–5 select. Both go to the core like
// any of the bot's buttons (buttons.ts), with the rated message; only the asker's rating counts.
import {
  ActionRowBuilder,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ButtonBuilder,
  ButtonStyle,
  ContextMenuCommandBuilder,
  InteractionContextType,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  StringSelectMenuBuilder,
  type StringSelectMenuInteraction,
} from "discord.js";
import { rateButtonId } from "../../core/button-ids.ts";
import type { Assistant, Logger } from "../../core/ports.ts";
import { handleClick } from "./buttons.ts";

export function ratingRow() {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(rateButtonId(5)).setLabel("👍").setStyle(ButtonStyle.Secondary),
    new ButtonBuilder().setCustomId(rateButtonId(1)).setLabel("👎").setStyle(ButtonStyle.Secondary),
  );
}

/** The message context-menu command (right-click a message > Apps) that rates with 1–5. */
export const RATE_MENU_NAME = "Rate this answer";
/** The 1–5 select's id carries the rated message: `ratesel:<message id>`. */
const RATE_SELECT = "ratesel:";

export function rateMenuCommand() {
  return new ContextMenuCommandBuilder()
    .setName(RATE_MENU_NAME)
    .setType(ApplicationCommandType.Message)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .toJSON();
}

export function isRateSelect(customId: string): boolean {
  return customId.startsWith(RATE_SELECT);
}

/** The command: answered at once, only to the caller, with a 1–5 select (nothing is read yet). */
export async function handleRateMenu(interaction: MessageContextMenuCommandInteraction): Promise<void> {
  const select = new StringSelectMenuBuilder()
    .setCustomId(`${RATE_SELECT}${interaction.targetId}`)
    .setPlaceholder("Your rating, 1 (bad) to 5 (great)")
    .addOptions([5, 4, 3, 2, 1].map((n) => ({ label: `${n}`, value: String(n) })));
  await interaction.reply({
    content: "How good was this answer?",
    components: [new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(select)],
    flags: MessageFlags.Ephemeral,
  });
}

/** The pick: the core rates the message as it would a rating button; the answer replaces the select. */
export function handleRateSelect(
  interaction: StringSelectMenuInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  const click = {
    buttonId: rateButtonId(Number(interaction.values[0])),
    messageId: interaction.customId.slice(RATE_SELECT.length),
  };
  return handleClick(interaction, click, "in-place", assistant, log);
}
