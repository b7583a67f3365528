// Approval prompts: the Approve/Decline buttons the notifier attaches, and what a click does. The
// click is acknowledged at once (deferUpdate: the prompt stays as it is), the core decides, and
// when the click settled the proposal the prompt is replaced by the outcome without buttons (so
// it cannot be clicked again); the clicker always gets the core's answer, visible only to them.
import {
  ActionRowBuilder,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  MessageFlags,
} from "discord.js";
import {
  type Assistant,
  approvalButtonId,
  type ButtonOutcome,
  parseApprovalButtonId,
} from "../../core/assistant.ts";
import type { ApprovalPrompt, Logger } from "../../core/ports.ts";
import { truncate } from "../shared/split-message.ts";
import { DISCORD_BUTTON_LABEL_LIMIT, oneMessage } from "./format.ts";
import { userRef } from "./identity.ts";
import { SOMETHING_WENT_WRONG } from "./messages.ts";

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

/** True when the button is one of ours (and is then handled). */
export function isApprovalButton(interaction: ButtonInteraction): boolean {
  return parseApprovalButtonId(interaction.customId) !== undefined;
}

export async function handleApprovalClick(
  interaction: ButtonInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  const parsed = parseApprovalButtonId(interaction.customId);
  if (!parsed) return;
  await settleClick(interaction, log, "approval click", () =>
    assistant.approvalClick({
      user: userRef(interaction.user.id),
      proposalId: parsed.proposalId,
      action: parsed.action,
      eventKey: interaction.id,
    }),
  );
}

/**
 * How every button of ours is answered: acknowledged at once (deferUpdate: the message stays as
 * it is), then the core decides; when its outcome carries `promptText` the message with the
 * buttons is replaced by it, buttons removed, and the clicker gets the outcome's text ephemerally.
 */
export async function settleClick(
  interaction: ButtonInteraction,
  log: Logger,
  what: string,
  decide: () => Promise<ButtonOutcome>,
): Promise<void> {
  await interaction.deferUpdate();
  try {
    const outcome = await decide();
    if (outcome.promptText !== undefined) {
      await interaction.editReply({ content: oneMessage(outcome.promptText), components: [] });
    }
    await interaction.followUp({ content: oneMessage(outcome.text), flags: MessageFlags.Ephemeral });
  } catch (error) {
    log.error(`${what} failed`, { interactionId: interaction.id, error });
    await interaction
      .followUp({ content: SOMETHING_WENT_WRONG, flags: MessageFlags.Ephemeral })
      .catch(() => {});
  }
}

function label(text: string): string {
  return truncate(text, DISCORD_BUTTON_LABEL_LIMIT);
}
