// The rating buttons under the last message of an answer: 👍 (5) and 👎 (1). A click goes to the
// core like any of the bot's buttons (buttons.ts), with the message it is on; only the asker's
// click counts, and clicking the same button again takes the rating back.
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from "discord.js";
import { rateButtonId } from "../../core/button-ids.ts";

export function ratingRow() {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder().setCustomId(rateButtonId(5)).setLabel("👍").setStyle(ButtonStyle.Secondary),
    new ButtonBuilder().setCustomId(rateButtonId(1)).setLabel("👎").setStyle(ButtonStyle.Secondary),
  );
}
