// Clicks on the bot's buttons (approval prompts, the forget confirmation, rating buttons under an
// answer), answered one way: the
// click is acknowledged at once (deferUpdate: the message stays as it is), the core decides by the
// button's id; when its outcome carries `promptText` the message with the buttons is replaced by
// it, buttons removed (so it cannot be clicked again), and the clicker always gets the core's
// answer, visible only to them.
import { type ButtonInteraction, type MessageComponentInteraction, MessageFlags } from "discord.js";
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
  await handleClick(
    interaction,
    { buttonId: interaction.customId, messageId: interaction.message.id },
    "follow-up",
    assistant,
    log,
  );
}

/**
 * A component click handed to the core's router as `click` (its id and the message it is about).
 * "follow-up": the core's answer comes as an ephemeral follow-up, and `promptText` replaces the
 * message with the buttons; "in-place": the answer replaces the (ephemeral) message clicked on.
 */
export async function handleClick(
  interaction: MessageComponentInteraction,
  click: { buttonId: string; messageId: string },
  answer: "follow-up" | "in-place",
  assistant: Assistant,
  log: Logger,
): Promise<void> {
  await interaction.deferUpdate();
  const say = (content: string) =>
    answer === "in-place"
      ? interaction.editReply({ content, components: [] })
      : interaction.followUp({ content, flags: MessageFlags.Ephemeral });
  try {
    const outcome = await assistant.buttonClick({
      user: userRef(interaction.user.id),
      eventKey: interaction.id,
      ...click,
    });
    if (answer === "follow-up" && outcome.promptText !== undefined)
      await interaction.editReply({ content: oneMessage(outcome.promptText), components: [] });
    await say(oneMessage(outcome.text));
  } catch (error) {
    log.error("button click failed", { interactionId: interaction.id, error });
    await say(failureNotices.click).catch(() => {});
  }
}
