// `/assistant forget`'s confirmation: the warning is an ephemeral reply carrying one red button (a
// click on it: buttons.ts; the core checks the button is the clicker's and de-duplicates by
// interaction id).
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from "discord.js";

export const FORGET_BUTTON_LABEL = "Delete everything";

export function forgetButton(confirmButtonId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(confirmButtonId)
      .setLabel(FORGET_BUTTON_LABEL)
      .setStyle(ButtonStyle.Danger),
  );
}
