// How answers fit Discord: a message carries at most 2,000 characters, and Discord renders the
// core's Markdown as it is, so long answers are split (../shared/split-message.ts) and nothing is
// rewritten. Prompts, their edits and click answers are single messages, cut with an ellipsis.
import { type MessageFormat, truncate } from "../shared/split-message.ts";

export const DISCORD_MESSAGE_LIMIT = 2000;
/** Button labels are capped at 80 characters. */
export const DISCORD_BUTTON_LABEL_LIMIT = 80;

export const discordText: MessageFormat = { limit: DISCORD_MESSAGE_LIMIT };

/** A single message: prompts and click answers are short; never let Discord refuse one. */
export function oneMessage(text: string): string {
  return truncate(text, DISCORD_MESSAGE_LIMIT);
}
