// The rating buttons under the last message of an answer: Slack's `feedback_buttons` element in a
// `context_actions` block (👍 = 5, 👎 = 1). Their values are the core's button ids, so a click goes
// to the core like any of the bot's buttons (clicks.ts); only the asker's click counts, and
// clicking the same button again (Slack shows it toggled off) takes the rating back.
import type { types } from "@slack/bolt";
import { rateButtonId } from "../../core/button-ids.ts";

/** The action id of the feedback buttons; the pressed button's value says which rating. */
export const RATE_ACTION = "rate";

/** The last part of an answer as blocks: its text in a section, the feedback buttons under it. */
export function rateableMessage(part: string): types.KnownBlock[] {
  return [{ type: "section", text: { type: "mrkdwn", text: part } }, ratingBlock()];
}

/** The feedback buttons alone: what chat.stopStream adds under a streamed answer. */
export function ratingBlock(): types.KnownBlock {
  return {
    type: "context_actions",
    elements: [
      {
        type: "feedback_buttons",
        action_id: RATE_ACTION,
        positive_button: {
          text: { type: "plain_text", text: "👍" },
          accessibility_label: "Rate this answer good (5)",
          value: rateButtonId(5),
        },
        negative_button: {
          text: { type: "plain_text", text: "👎" },
          accessibility_label: "Rate this answer bad (1)",
          value: rateButtonId(1),
        },
      },
    ],
  };
}
