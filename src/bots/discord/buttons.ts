// Clicks on the bot's buttons (approval prompts, the forget confirmation, rating buttons under an
// answer), answered one way: the
// click is acknowledged at once (deferUpdate: the message stays as it is), the core decides by the
// button's id; when its outcome carries `promptText` the message with the buttons is replaced by
// it, buttons removed (so it cannot be clicked again), and the clicker always gets the core's
// answer, visible only to them.
import { type ButtonInteraction, MessageFlags } from "discord.js";
import { failureNotices } from "../../core/messages.ts";
import type { Assistant, Logger } from "../../core/ports.ts";
import { oneMessage } from "./format.ts";
import { userRef } from "./identity.ts";

export { isOurButton } from "../shared/buttons.ts";

export async function handleButtonClick(
  interaction: ButtonInteraction,
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  await interaction.deferUpdate();
  try {
    const outcome = await assistant.buttonClick({
      user: userRef(interaction.user.id),
      buttonId: interaction.customId,
      eventKey: interaction.id,
      messageId: interaction.message.id,
    });
    if (outcome.promptText !== undefined) {
      await interaction.editReply({ content: oneMessage(outcome.promptText), components: [] });
    }
    await interaction.followUp({ content: oneMessage(outcome.text), flags: MessageFlags.Ephemeral });
  } catch (error) {
    log.error("button click failed", { interactionId: interaction.id, error });
    await interaction
      .followUp({ content: failureNotices.click, flags: MessageFlags.Ephemeral })
      .catch(() => {});
  }
}
