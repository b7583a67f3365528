// Approval prompts: the Approve/Decline buttons the notifier attaches (a click on them: buttons.ts).
import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from "discord.js";
import { approvalButtonId } from "../../core/button-ids.ts";
import type { ApprovalPrompt } from "../../core/ports.ts";
import { truncate } from "../shared/split-message.ts";
import { DISCORD_BUTTON_LABEL_LIMIT } from "./format.ts";

export function approvalButtons(prompt: ApprovalPrompt): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(
    new ButtonBuilder()
      .setCustomId(approvalButtonId("approve", prompt.proposalId))
      .setLabel(label(prompt.approveLabel))
      .setStyle(ButtonStyle.Success),
    new ButtonBuilder()
      .setCustomId(approvalButtonId("decline", prompt.proposalId))
      .setLabel(label(prompt.declineLabel))
      .setStyle(ButtonStyle.Danger),
  );
}

function label(text: string): string {
  return truncate(text, DISCORD_BUTTON_LABEL_LIMIT);
}
