// `/assistant forget` and its confirmation: the warning is an ephemeral reply carrying one red
// button; a click asks the core to delete everything of the clicker's (the core checks the button
// is theirs and de-duplicates by interaction id), then the warning is replaced by the outcome,
// without the button, and the clicker is told the result, visible only to them.
import { ActionRowBuilder, ButtonBuilder, type ButtonInteraction, ButtonStyle } from "discord.js";
import { type Assistant, isForgetButtonId } from "../../core/assistant.ts";
import type { Logger } from "../../core/ports.ts";
import { settleClick } from "./approvals.ts";
import { userRef } from "./identity.ts";

export const FORGET_BUTTON_LABEL = "Delete everything";

export function forgetButton(confirmButtonId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(confirmButtonId)
      .setLabel(FORGET_BUTTON_LABEL)
      .setStyle(ButtonStyle.Danger),
  );
}

/** True when the button is the forget confirmation (and is then handled). */
export function isForgetButton(interaction: ButtonInteraction): boolean {
  return isForgetButtonId(interaction.customId);
}

export async function handleForgetClick(
  interaction: ButtonInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  await settleClick(interaction, log, "forget confirmation", () =>
    assistant.forgetConfirm({
      user: userRef(interaction.user.id),
      buttonId: interaction.customId,
      eventKey: interaction.id,
    }),
  );
}
